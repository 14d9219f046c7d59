/**
 * `npm run bench [-- NAME...]`: runs every bench/*.ts (except this file) one after another —
 * never in parallel, they would measure each other — and writes bench/RESULTS.md with the
 * machine, the versions, and every markdown table each benchmark printed. With names, only
 * those benchmarks run and only their sections of RESULTS.md are replaced; the others stay.
 * The capacity note at the end is rebuilt from the figures in every section (bench/capacity.ts).
 *
 * Env: BENCH_TIMEOUT_MS bounds one benchmark (default 1200000: bench/http.ts takes ~13 min).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, release, totalmem, type } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { capacityNote, mqttFiguresFromTable, parseCapacityInputs } from './capacity.js';

const benchDir = dirname(fileURLToPath(import.meta.url));
const rootDir = dirname(benchDir);
const timeoutMs = Number(process.env.BENCH_TIMEOUT_MS ?? '1200000');

export interface BenchRun {
  readonly name: string;
  readonly code: number | null;
  readonly ms: number;
  readonly tables: readonly string[];
  readonly output: string;
}

/** Consecutive lines starting with `|` form one markdown table. */
export function extractTables(output: string): string[] {
  const tables: string[] = [];
  let current: string[] = [];
  for (const line of output.split('\n')) {
    if (line.trimStart().startsWith('|')) current.push(line.trim());
    else if (current.length > 0) {
      tables.push(current.join('\n'));
      current = [];
    }
  }
  if (current.length > 0) tables.push(current.join('\n'));
  // A lone `|` line is not a table; a real one has a header and a separator at least.
  return tables.filter((t) => t.split('\n').length >= 2);
}

/**
 * What a benchmark reports, without its progress lines: from the caption just above its
 * first table to the end — captions, tables, and the summary lines after them (ratios,
 * "target … met"). Markdown headings become italic lines so they do not break our outline.
 */
export function extractReport(output: string): string {
  const lines = output.split('\n').map((l) => l.trimEnd());
  const first = lines.findIndex((l) => l.trimStart().startsWith('|'));
  if (first < 0) return '';
  let start = first;
  let i = first - 1;
  while (i >= 0 && lines[i] === '') i--;
  if (i >= 0) start = i;
  const out: string[] = [];
  for (const line of lines.slice(start)) {
    const l = line.trim();
    if (l.startsWith('|')) {
      // A table must start on its own block, right after a blank line.
      if (out.length > 0 && out.at(-1) !== '' && !(out.at(-1) ?? '').startsWith('|')) out.push('');
      out.push(l);
    } else if (l === '') {
      if (out.length > 0 && out.at(-1) !== '') out.push('');
    } else {
      if ((out.at(-1) ?? '').startsWith('|')) out.push('');
      out.push(/^#{1,6} /.test(l) ? `_${l.replace(/^#+ /, '')}_` : l);
    }
  }
  while (out.at(-1) === '') out.pop();
  return out.join('\n');
}

function toolVersion(cmd: string, args: readonly string[]): string | null {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 5000 });
  if (r.error !== undefined || r.status === null) return null;
  const text = `${r.stdout}${r.stderr}`.trim().split('\n')[0] ?? '';
  return text === '' ? null : text;
}

function packageVersion(name: string): string | null {
  try {
    const pkg = JSON.parse(readFileSync(join(rootDir, 'node_modules', name, 'package.json'), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? null;
  } catch {
    return null;
  }
}

function machineSection(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const lines = [
    `- Date: ${new Date().toISOString()}`,
    `- Machine: ${type()} ${release()}, ${availableParallelism()} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM`,
    `- Node.js ${process.version}`,
  ];
  const tools: [string, string, readonly string[]][] = [
    ['redis-server', 'redis-server', ['--version']],
    ['mosquitto', 'mosquitto', ['-h']],
    ['nginx', 'nginx', ['-v']],
    ['haproxy', 'haproxy', ['-v']],
  ];
  for (const [label, cmd, args] of tools) {
    const v = toolVersion(cmd, args);
    if (v !== null) lines.push(`- ${label}: ${v}`);
  }
  const pkgs = ['undici', 'autocannon', 'mqtt', 'ioredis', 'prom-client', 'pino']
    .map((p) => [p, packageVersion(p)] as const)
    .filter((p): p is readonly [string, string] => p[1] !== null)
    .map(([p, v]) => `${p} ${v}`);
  lines.push(`- Packages: ${pkgs.join(', ')}`);
  return lines.join('\n');
}

function runOne(file: string): Promise<BenchRun> {
  const name = basename(file, '.ts');
  const started = Date.now();
  process.stdout.write(`\n=== ${name} ===\n`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      cwd: rootDir,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      output += chunk;
      process.stdout.write(chunk);
    });
    const timer = setTimeout(() => {
      process.stderr.write(`${name}: no result after ${timeoutMs} ms, stopping it\n`);
      child.kill('SIGTERM');
    }, timeoutMs);
    child.on('error', (err) => {
      output += `\n${err.message}\n`;
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ name, code, ms: Date.now() - started, tables: extractTables(output), output });
    });
  });
}

/** One benchmark's section of RESULTS.md: heading, status (when and on which Node), report. */
function runSection(run: BenchRun): string {
  const status = run.code === 0 ? 'ok' : `FAILED (exit ${String(run.code)})`;
  const parts = [
    `## ${run.name}`,
    '',
    `\`bench/${run.name}.ts\` — ${status}, ${(run.ms / 1000).toFixed(1)} s, ${new Date().toISOString()}, Node.js ${process.version}`,
    '',
  ];
  if (run.tables.length > 0) {
    parts.push(extractReport(run.output), '');
  } else {
    // No table: keep the tail of what it printed so the failure can be read here.
    const tail = run.output.trim().split('\n').slice(-20).join('\n');
    parts.push('```', tail === '' ? '(no output)' : tail, '```', '');
  }
  return parts.join('\n');
}

const CAPACITY = 'capacity';

/** The `## name` sections of a RESULTS.md, by name (the capacity note is rebuilt, never kept). */
export function splitSections(markdown: string): Map<string, string> {
  const sections = new Map<string, string>();
  let name: string | null = null;
  let lines: string[] = [];
  const flush = (): void => {
    if (name !== null && name !== CAPACITY) sections.set(name, `${lines.join('\n').trimEnd()}\n`);
  };
  for (const line of markdown.split('\n')) {
    const m = /^## (\S+)\s*$/.exec(line);
    if (m !== null) {
      flush();
      name = m[1] ?? null;
      lines = [line];
    } else if (name !== null) lines.push(line);
  }
  flush();
  return sections;
}

/**
 * The capacity section from every benchmark section's figures: capacity-input lines first,
 * and MQTT figures read from bench/mqtt.ts's table where it printed none.
 */
export function capacitySection(sections: ReadonlyMap<string, string>): string {
  const text = [...sections.values()].join('\n');
  const figures = parseCapacityInputs(text);
  const mqtt = sections.get('mqtt');
  if (mqtt !== undefined)
    for (const f of mqttFiguresFromTable(mqtt))
      if (!figures.some((g) => g.metric === f.metric && g.target === f.target)) figures.push(f);
  return [`## ${CAPACITY}`, '', capacityNote(figures), ''].join('\n');
}

export function resultsMarkdown(
  runs: readonly BenchRun[],
  previous: ReadonlyMap<string, string> = new Map(),
): string {
  const sections = new Map(previous);
  for (const run of runs) sections.set(run.name, runSection(run));
  const names = [...sections.keys()].sort();
  const kept = names.filter((n) => !runs.some((r) => r.name === n));
  return [
    '# Benchmark results',
    '',
    'Written by `npm run bench` (bench/run-all.ts); do not edit by hand.',
    '',
    machineSection(),
    ...(kept.length === 0
      ? []
      : [
          `- Measured in this run: ${runs.map((r) => r.name).join(', ')}; kept from an earlier run (its own machine and versions): ${kept.join(', ')}`,
        ]),
    '',
    ...names.map((n) => sections.get(n) ?? ''),
    capacitySection(sections),
  ].join('\n');
}

/**
 * bench/*.ts minus this runner and minus the helpers the benchmarks import (`./table.js`):
 * a helper has nothing to run, and this way a new benchmark needs no registration.
 */
export function benchmarkFiles(): string[] {
  const all = readdirSync(benchDir).filter(
    (f) => f.endsWith('.ts') && f !== 'run-all.ts' && !f.startsWith('_'),
  );
  const imported = new Set<string>();
  for (const f of all) {
    for (const m of readFileSync(join(benchDir, f), 'utf8').matchAll(/from '\.\/([\w.-]+)\.js'/g)) {
      imported.add(`${m[1] ?? ''}.ts`);
    }
  }
  return all.filter((f) => !imported.has(f));
}

async function main(): Promise<number> {
  const filters = process.argv.slice(2);
  const files = benchmarkFiles()
    .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
    .sort()
    .map((f) => join('bench', f));
  if (files.length === 0) {
    process.stderr.write('no benchmarks matched\n');
    return 2;
  }
  const runs: BenchRun[] = [];
  for (const f of files) runs.push(await runOne(f));
  const out = join(benchDir, 'RESULTS.md');
  // A partial run replaces its own sections and keeps the rest of the last full one.
  const previous =
    filters.length > 0 && existsSync(out)
      ? splitSections(readFileSync(out, 'utf8'))
      : new Map<string, string>();
  writeFileSync(out, resultsMarkdown(runs, previous));
  process.stdout.write(`\nwrote ${out}\n`);
  return runs.every((r) => r.code === 0) ? 0 : 1;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
