import { DrillAbortedError, DrillCheckFailedError } from '../errors.js';
import { evaluateSlo, figures, scrapeAll, type Scrape } from './checks.js';
import type { Slo } from './plan.js';

/** One point of the run's timeline chart: the fleet's answers since the previous poll. */
export interface TimelinePoint {
  readonly at: number;
  readonly requests: number;
  readonly errors5xx: number;
  readonly noLiveZone: number;
}

export interface GuardOptions {
  readonly abortIf: readonly Slo[];
  readonly abortWindowMs: number;
  readonly pollMs: number;
  readonly deadlineMs: number | undefined;
  readonly targets: () => Promise<string[]>;
  /** Aborted with a DrillCheckFailedError (an abort condition) or DrillAbortedError (deadline). */
  readonly controller: AbortController;
}

// A watch that cannot read the metrics it guards on fails closed, but not on one blip.
const MAX_SCRAPE_FAILURES = 3;

/**
 * The run's guards: the deadline, and the abort conditions read from the gateways' metrics
 * every pollMs over the last abortWindowMs. Also records the timeline for the report.
 */
export class GuardWatch {
  readonly timeline: TimelinePoint[] = [];
  private readonly o: GuardOptions;
  private readonly scrapes: Scrape[] = [];
  private timer: NodeJS.Timeout | undefined;
  private deadline: NodeJS.Timeout | undefined;
  private polling: Promise<void> | null = null;
  private failures = 0;
  private stopped = false;

  constructor(options: GuardOptions) {
    this.o = options;
  }

  start(): void {
    const { deadlineMs, controller } = this.o;
    if (deadlineMs !== undefined) {
      this.deadline = setTimeout(
        () => controller.abort(new DrillAbortedError(`the plan's deadline of ${deadlineMs} ms passed`)),
        deadlineMs,
      );
    }
    this.polling = this.poll();
    this.timer = setInterval(() => {
      this.polling ??= this.poll();
    }, this.o.pollMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.deadline);
    await this.polling;
  }

  private async poll(): Promise<void> {
    try {
      const now = await scrapeAll(await this.o.targets());
      this.failures = 0;
      const prev = this.scrapes.at(-1);
      if (prev !== undefined) {
        const f = figures(prev, now);
        this.timeline.push({
          at: now.at,
          requests: f.requests,
          errors5xx: f.errors5xx,
          noLiveZone: f.noLiveZone,
        });
      }
      this.scrapes.push(now);
      // Keep what the window needs: the newest scrape at least abortWindowMs old, and newer ones.
      while (this.scrapes.length > 2 && (this.scrapes[1]?.at ?? 0) <= now.at - this.o.abortWindowMs)
        this.scrapes.shift();
      const from = this.scrapes[0];
      if (from !== undefined && from !== now && !this.stopped) {
        for (const slo of this.o.abortIf) {
          const r = evaluateSlo(slo, from, now);
          if (!r.ok) {
            this.o.controller.abort(
              new DrillCheckFailedError(
                `abort condition broken over the last ${now.at - from.at} ms: ${r.label}: ${r.detail}`,
              ),
            );
            break;
          }
        }
      }
    } catch (err) {
      this.failures++;
      if (this.o.abortIf.length > 0 && this.failures >= MAX_SCRAPE_FAILURES && !this.stopped) {
        this.o.controller.abort(
          new DrillCheckFailedError(
            `the abort conditions cannot be read (${this.failures} tries): ${(err as Error).message}`,
          ),
        );
      }
    } finally {
      this.polling = null;
    }
  }
}
