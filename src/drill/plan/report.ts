import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Figures } from './checks.js';
import type { TimelinePoint } from './guards.js';
import type { Step } from './plan.js';
import type { StepOutcome } from './steps.js';

export interface StepRecord extends StepOutcome {
  readonly index: number;
  readonly kind: Step['kind'];
  readonly name: string;
  readonly startedAt: string;
  readonly endedAt: string;
  readonly durationMs: number;
}

export interface RollbackRecord {
  /** True when the rollback was written. */
  readonly done: boolean;
  /** The version before the plan (whose map was restored). */
  readonly to: number | null;
  /** The version the plan wrote last (the compare-and-set expected it). */
  readonly from: number | null;
  /** The version the rollback wrote. */
  readonly version?: number;
  readonly at: string;
  readonly blastRadius?: readonly string[];
  readonly converged?: boolean;
  readonly convergeMs?: number;
  readonly note?: string;
  readonly error?: { readonly code: string; readonly message: string };
}

/** The JSON report (`--report DIR` writes it as DRILL.json, with DRILL.md and optionally DRILL.html). */
export interface DrillReport {
  readonly drill: string;
  readonly plan: string;
  readonly description?: string;
  readonly store: string;
  readonly who: string;
  readonly dryRun: boolean;
  readonly startedAt: string;
  readonly endedAt: string;
  readonly durationMs: number;
  readonly result: 'passed' | 'failed' | 'aborted';
  readonly error?: { readonly code: string; readonly message: string };
  readonly versionBefore: number | null;
  readonly versionAfter: number | null;
  readonly steps: readonly StepRecord[];
  readonly rollback?: RollbackRecord;
  readonly figures: { before?: Figures; during?: Figures; after?: Figures };
  readonly timeline: readonly TimelinePoint[];
}

const s = (ms: number): string => `${(ms / 1000).toFixed(1)}s`;
const pct = (r: number): string => `${(r * 100).toFixed(3)}%`;

function versions(r: StepRecord): string {
  if (r.versionTo !== undefined) return `${r.versionFrom ?? 'none'} → ${r.versionTo}`;
  if (r.convergeMs !== undefined)
    return `converged in ${s(r.convergeMs)}${r.sinceWriteMs === undefined ? '' : ` (${s(r.sinceWriteMs)} after the write)`}`;
  return '';
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function renderMarkdown(r: DrillReport): string {
  const out: string[] = [];
  out.push(`# Drill ${r.drill}: ${r.result.toUpperCase()}${r.dryRun ? ' (dry run)' : ''}`, '');
  if (r.description !== undefined) out.push(r.description.trim(), '');
  out.push(
    `- plan: ${r.plan}`,
    `- store: ${r.store}`,
    `- run by: ${r.who}`,
    `- from ${r.startedAt} to ${r.endedAt} (${s(r.durationMs)})`,
    `- map version: ${r.versionBefore ?? 'none'} before, ${r.versionAfter ?? 'none'} after`,
  );
  if (r.error !== undefined) out.push(`- stopped by: \`${r.error.code}\` ${r.error.message}`);
  out.push(
    '',
    '## Steps',
    '',
    '| # | step | result | took | versions / convergence | notes |',
    '| --- | --- | --- | --- | --- | --- |',
  );
  for (const st of r.steps) {
    const notes = [
      ...(st.note === undefined ? [] : [st.note]),
      ...(st.slos ?? []).map((x) => `${x.ok ? 'ok' : 'BROKEN'}: ${x.label}: ${x.detail}`),
      ...(st.error === undefined ? [] : [`${st.error.code}: ${st.error.message}`]),
    ];
    out.push(
      `| ${st.index + 1} | ${cell(st.name)} | ${st.result} | ${s(st.durationMs)} | ${versions(st)} | ${cell(notes.join('; '))} |`,
    );
  }
  if (r.rollback !== undefined) {
    const rb = r.rollback;
    out.push('', '## Rollback', '');
    if (rb.done) {
      out.push(
        `Rolled back to the map of version ${rb.to ?? 'none'} as version ${rb.version ?? '?'} (one compare-and-set against ${rb.from ?? 'none'}) at ${rb.at};` +
          ` ${rb.converged === true ? `every gateway ran it after ${s(rb.convergeMs ?? 0)}` : `not converged: ${rb.note ?? ''}`}.`,
      );
    } else {
      out.push(
        rb.error === undefined
          ? (rb.note ?? 'not rolled back')
          : `Rollback FAILED: \`${rb.error.code}\` ${rb.error.message}`,
      );
    }
  }
  const windows = (['before', 'during', 'after'] as const).filter((w) => r.figures[w] !== undefined);
  if (windows.length > 0) {
    out.push('', "## SLO figures (from the gateways' metrics)", '');
    out.push(`| | ${windows.join(' | ')} |`, `| --- |${windows.map(() => ' --- |').join('')}`);
    const row = (label: string, f: (x: Figures) => string): void => {
      out.push(`| ${label} | ${windows.map((w) => f(r.figures[w] as Figures)).join(' | ')} |`);
    };
    row('window', (x) => s(x.windowMs));
    row('HTTP requests', (x) => String(x.requests));
    row('5xx', (x) => String(x.errors5xx));
    row('error ratio', (x) => pct(x.errorRatio));
    row('no-live-zone answers', (x) => String(x.noLiveZone));
    row('upstream p99', (x) => (x.upstreamP99Ms === null ? '-' : `≤ ${x.upstreamP99Ms} ms`));
    row('MQTT moves ok / failed', (x) => `${x.mqttMovesOk} / ${x.mqttMovesFailed}`);
  }
  return `${out.join('\n')}\n`;
}

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * The timeline as one inline SVG, no script and no dependency: a bar per step on the time
 * axis (green ok, grey skipped/noop, red failed), the rollback as a marker, and the fleet's
 * error ratio per guard poll as a line (scaled to its own maximum, at least 1%).
 */
export function renderTimelineSvg(r: DrillReport): string {
  const W = 900;
  const rowH = 18;
  const left = 10;
  const t0 = Date.parse(r.startedAt);
  const span = Math.max(1, Date.parse(r.endedAt) - t0);
  const x = (ms: number): number => left + ((ms - t0) / span) * (W - 2 * left);
  const chartTop = r.steps.length * rowH + 20;
  const chartH = 80;
  const H = chartTop + chartH + 30;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
  );
  for (const st of r.steps) {
    const a = x(Date.parse(st.startedAt));
    const b = Math.max(a + 2, x(Date.parse(st.endedAt)));
    const y = st.index * rowH + 4;
    const fill = st.result === 'failed' ? '#d9534f' : st.result === 'ok' ? '#5cb85c' : '#aaaaaa';
    parts.push(
      `<rect x="${a.toFixed(1)}" y="${y}" width="${(b - a).toFixed(1)}" height="${rowH - 4}" fill="${fill}"><title>${esc(`${st.name}: ${st.result}, ${st.durationMs} ms`)}</title></rect>`,
    );
    parts.push(
      `<text x="${Math.min(b + 4, W - 200).toFixed(1)}" y="${y + rowH - 7}">${esc(`${st.index + 1}. ${st.name}`)}</text>`,
    );
  }
  if (r.rollback?.done === true) {
    const rx = x(Date.parse(r.rollback.at));
    parts.push(
      `<line x1="${rx.toFixed(1)}" x2="${rx.toFixed(1)}" y1="0" y2="${chartTop + chartH}" stroke="#d9534f" stroke-dasharray="4 2"/>`,
    );
    parts.push(`<text x="${(rx + 3).toFixed(1)}" y="${chartTop - 4}" fill="#d9534f">rollback</text>`);
  }
  const ratios = r.timeline.map((p) => ({
    at: p.at,
    ratio: p.requests === 0 ? 0 : p.errors5xx / p.requests,
  }));
  const top = Math.max(0.01, ...ratios.map((p) => p.ratio));
  const y = (ratio: number): number => chartTop + chartH - (ratio / top) * chartH;
  parts.push(
    `<line x1="${left}" x2="${W - left}" y1="${chartTop + chartH}" y2="${chartTop + chartH}" stroke="#888"/>`,
  );
  if (ratios.length > 0) {
    const pts = ratios.map((p) => `${x(p.at).toFixed(1)},${y(p.ratio).toFixed(1)}`).join(' ');
    parts.push(`<polyline points="${pts}" fill="none" stroke="#337ab7" stroke-width="1.5"/>`);
  }
  parts.push(
    `<text x="${left}" y="${chartTop + chartH + 15}">error ratio per poll (top of chart = ${pct(top)}); ${s(span)} in all</text>`,
  );
  parts.push('</svg>');
  return parts.join('\n');
}

export function renderHtml(r: DrillReport): string {
  // The Markdown tables are shown as preformatted text: no Markdown renderer, no script.
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>${esc(`Drill ${r.drill}: ${r.result}`)}</title>`,
    '<style>body{font-family:sans-serif;margin:2em}pre{background:#f6f6f6;padding:1em;overflow:auto}</style>',
    '</head><body>',
    `<h1>${esc(`Drill ${r.drill}: ${r.result.toUpperCase()}`)}</h1>`,
    renderTimelineSvg(r),
    `<pre>${esc(renderMarkdown(r))}</pre>`,
    '</body></html>',
    '',
  ].join('\n');
}

/** Writes DIR/<drill>.md and .json (and .html when asked); returns the paths written. */
export async function writeReports(dir: string, r: DrillReport, html: boolean): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const base = join(dir, r.drill);
  const files: [string, string][] = [
    [`${base}.md`, renderMarkdown(r)],
    [`${base}.json`, `${JSON.stringify(r, null, 2)}\n`],
    ...(html ? ([[`${base}.html`, renderHtml(r)]] as [string, string][]) : []),
  ];
  for (const [path, text] of files) await writeFile(path, text);
  return files.map(([p]) => p);
}
