import { fileURLToPath } from 'node:url';
import { UsageError } from '../../core/errors.js';
import { loadDrillPlanFile, writeReports, type DrillEvent } from '../../drill/plan/index.js';
import { exampleMap, formatLabResult, runLab, smallMap } from '../../lab/index.js';
import { flag, oneOf, optionalString } from '../../core/args.js';
import type { Command, OptionValues } from '../command.js';

function int(values: OptionValues, name: string, fallback: number, min: number, max: number): number {
  const v = optionalString(values, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw new UsageError(`--${name} must be an integer from ${min} to ${max} (got '${v}')`);
  return n;
}

const policy = (p: string): string => fileURLToPath(new URL(`../../../policies/${p}`, import.meta.url));

export const lab: Command = {
  name: 'lab',
  summary:
    'Start a whole fleet on this machine, put simulated users on it, run a drill plan and report what they felt.',
  usage:
    'zonegate lab [--size example|small] [--plan PLAN.yaml] [--gateways-per-idc N] [--users N] [--anonymous N]\n' +
    '             [--mqtt N] [--delay-ms MS] [--warmup-ms MS] [--settle-ms MS] [--report DIR [--html]] [--json]\n' +
    '  example: the three-site five-center map (5 IDCs, 15 zones), plan policies/drills/city-failover.yaml\n' +
    '  small: 3 cities of one IDC and one RZone each, plan policies/drills/lab-city-failover.yaml\n' +
    '  exit 0 when the drill passed with no failed request, no wrong-zone answer and no lost QoS 1 message',
  options: {
    size: { type: 'string' },
    plan: { type: 'string' },
    'gateways-per-idc': { type: 'string' },
    users: { type: 'string' },
    anonymous: { type: 'string' },
    mqtt: { type: 'string' },
    'delay-ms': { type: 'string' },
    'warmup-ms': { type: 'string' },
    'settle-ms': { type: 'string' },
    report: { type: 'string' },
    html: { type: 'boolean' },
    json: { type: 'boolean' },
  },
  allowPositionals: false,
  async run({ values }, io) {
    const size = oneOf(values, 'size', ['example', 'small'] as const, 'example');
    const planFile =
      optionalString(values, 'plan') ??
      policy(size === 'small' ? 'drills/lab-city-failover.yaml' : 'drills/city-failover.yaml');
    const plan = await loadDrillPlanFile(planFile);
    const json = flag(values, 'json');
    const interrupt = new AbortController();
    const onSigint = (): void => {
      io.err('interrupted: the drill rolls back, then the lab stops everything it started');
      process.off('SIGINT', onSigint);
      interrupt.abort();
    };
    process.on('SIGINT', onSigint);
    try {
      const result = await runLab({
        map: size === 'small' ? smallMap() : await exampleMap(),
        plan,
        gatewaysPerIdc: int(values, 'gateways-per-idc', 1, 1, 4),
        httpUsers: int(values, 'users', size === 'small' ? 30 : 200, 0, 5000),
        anonymousUsers: int(values, 'anonymous', size === 'small' ? 6 : 40, 0, 5000),
        mqttUsers: int(values, 'mqtt', size === 'small' ? 9 : 100, 0, 5000),
        thinkMs: 100,
        publishMs: 200,
        interIdcDelayMs: int(values, 'delay-ms', 5, 0, 1000),
        warmupMs: int(values, 'warmup-ms', 2000, 0, 600_000),
        settleMs: int(values, 'settle-ms', 2000, 0, 600_000),
        maxDrillMs: 15 * 60_000,
        zonegate: [...process.execArgv, process.argv[1] ?? ''],
        log: (line) => (json ? undefined : io.out(line)),
        onEvent: (e: DrillEvent) => {
          if (json) io.out(JSON.stringify(e));
          else if (e.type === 'step-end')
            io.out(
              `  [${e.index + 1}] ${e.name}: ${e.result}${e.error === undefined ? '' : ` — ${e.error.message}`}`,
            );
        },
        signal: interrupt.signal,
      });
      if (json) io.out(JSON.stringify({ type: 'lab', ...result, report: undefined }));
      else for (const line of formatLabResult(result)) io.out(line);
      const dir = optionalString(values, 'report');
      if (dir !== undefined) {
        const written = await writeReports(dir, result.report, flag(values, 'html'));
        if (!json) io.out(`report: ${written.join(', ')}`);
      }
      const clean =
        result.report.result === 'passed' &&
        result.http.failed === 0 &&
        result.http.wrongZone === 0 &&
        result.mqtt.lost === 0;
      return clean ? 0 : 1;
    } finally {
      process.off('SIGINT', onSigint);
    }
  },
};
