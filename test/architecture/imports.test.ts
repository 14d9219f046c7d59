/**
 * The shape of src/: folders import one way, along the data flow, and no files import each
 * other in a circle. Every `import`, `import type`, `export … from` and `import()` under src/
 * counts (a type-only cycle still makes two modules impossible to read one without the other).
 *
 * The folder order is data (LAYERS below): a folder may import its own files and folders of
 * lower layers only. A new folder must be placed in it, or this test fails.
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';
import { REPO_ROOT } from '../helpers/cli.js';
import { sourceFiles } from '../helpers/source-files.js';

/**
 * Lowest first. Folders in one layer must not import each other.
 * - core: errors, config (its section types and validators), logging, small shared helpers;
 * - zonemap: the map model, its schema and stores; certs: certificate generation;
 * - router: the pure routing decision;
 * - listeners, upstream: sockets in, endpoints out; identity: who a client is;
 * - admin: the admin listener and metrics, a leaf handed what it serves by the process;
 * - http, mqtt: the protocol stages;
 * - gateway: the composition root of a gateway process (src/gateway/process.ts);
 * - drill: zone map changes with guard rails; console, lab: built on the drill;
 * - cli: the `zonegate` commands.
 */
export const LAYERS: readonly (readonly string[])[] = [
  ['core'],
  ['zonemap', 'certs'],
  ['router'],
  ['listeners', 'upstream'],
  ['identity'],
  ['admin'],
  ['http', 'mqtt'],
  ['gateway'],
  ['drill'],
  ['console', 'lab'],
  ['cli'],
];

/**
 * File cycles allowed to exist: none. A new entry needs a reason written here.
 */
export const KNOWN_FILE_CYCLES: readonly string[] = [];

/** Imports against LAYERS allowed to exist: none. A new entry needs a reason written here. */
export const KNOWN_LAYER_EXCEPTIONS: readonly string[] = [];

export type ImportGraph = ReadonlyMap<string, readonly string[]>;

export interface ShapeProblems {
  readonly folderCycles: string[];
  readonly fileCycles: string[];
  readonly againstOrder: string[];
}

/** `src/<folder>/…` → folder; a file right under src/ is its own folder. */
function folderOf(file: string): string {
  const parts = file.split('/');
  return parts.length > 2 ? parts[1]! : parts[1]!.replace(/\.tsx?$/, '');
}

/** Strongly connected components with more than one member (Tarjan). */
function cycles(nodes: Iterable<string>, next: (n: string) => Iterable<string>): string[][] {
  let index = 0;
  const stack: string[] = [];
  const onStack = new Set<string>();
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of next(v)) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || [...next(v)].includes(v)) out.push(scc.sort());
    }
  };
  for (const n of nodes) if (!idx.has(n)) visit(n);
  return out;
}

/** Every problem with the shape of `graph` (file → files it imports), each naming the files. */
export function shapeProblems(
  graph: ImportGraph,
  layers: readonly (readonly string[])[],
  knownFileCycles: readonly string[] = [],
  knownLayerExceptions: readonly string[] = [],
): ShapeProblems {
  const rank = new Map<string, number>();
  layers.forEach((layer, i) => {
    for (const f of layer) rank.set(f, i);
  });
  // folder → folder → the file edges that make it, for the message.
  const folderEdges = new Map<string, Map<string, string[]>>();
  const againstOrder: string[] = [];
  for (const [from, targets] of graph) {
    const a = folderOf(from);
    for (const to of targets) {
      const b = folderOf(to);
      if (a === b) continue;
      const edge = `${from} -> ${to}`;
      const byTarget = folderEdges.get(a) ?? new Map<string, string[]>();
      folderEdges.set(a, byTarget);
      byTarget.set(b, [...(byTarget.get(b) ?? []), edge]);
      const ra = rank.get(a);
      const rb = rank.get(b);
      if (ra === undefined || rb === undefined) {
        againstOrder.push(`${edge}: folder ${ra === undefined ? a : b} is not in the declared order`);
      } else if (rb >= ra && !knownLayerExceptions.includes(edge)) {
        againstOrder.push(
          `${edge}: ${a} may not import ${b} (${b} is ${rb === ra ? 'in the same layer' : 'above it'})`,
        );
      }
    }
  }
  const folderCycles = cycles(folderEdges.keys(), (f) => folderEdges.get(f)?.keys() ?? []).map((scc) => {
    const members = new Set(scc);
    const examples = scc.flatMap((f) =>
      [...(folderEdges.get(f) ?? new Map<string, string[]>())]
        .filter(([to]) => members.has(to))
        .map(([, edges]) => edges[0]!),
    );
    return `${scc.join(' <-> ')}: ${examples.join('; ')}`;
  });
  const fileCycles = cycles(graph.keys(), (f) => graph.get(f) ?? [])
    .map((scc) => scc.join(' '))
    .filter((c) => !knownFileCycles.includes(c));
  return { folderCycles, fileCycles, againstOrder };
}

/* ------------------------------------------------------------------------------------------
 * Reading src/
 * ---------------------------------------------------------------------------------------- */

/** A relative specifier as the file it names: `./x.js` → `x.ts`, a folder → its index. */
function resolveSpecifier(fromAbs: string, spec: string): string | null {
  const base = join(dirname(fromAbs), spec);
  const candidates = [
    base.replace(/\.js$/, '.ts'),
    base.replace(/\.js$/, '.tsx'),
    base,
    `${base}.ts`,
    `${base}.tsx`,
    join(base, 'index.ts'),
  ];
  for (const c of candidates) {
    try {
      if (statSync(c).isFile()) return c;
    } catch {
      // next candidate
    }
  }
  return null;
}

/** Every relative import of every file under src/, as repo-relative `src/…` paths. */
function readGraph(): { graph: Map<string, string[]>; unresolved: string[] } {
  const srcDir = join(REPO_ROOT, 'src');
  const graph = new Map<string, string[]>();
  const unresolved: string[] = [];
  const rel = (abs: string): string => relative(REPO_ROOT, abs).split(sep).join('/');
  for (const abs of sourceFiles(srcDir)) {
    // The TypeScript scanner sees static imports (type-only too), `export … from`,
    // `import()` and `require()` calls, in code, never in comments or strings.
    const info = ts.preProcessFile(readFileSync(abs, 'utf8'), true, true);
    const targets: string[] = [];
    for (const { fileName } of info.importedFiles) {
      if (!fileName.startsWith('.')) continue;
      const target = resolveSpecifier(abs, fileName);
      if (target === null) unresolved.push(`${rel(abs)}: ${fileName}`);
      else targets.push(rel(target));
    }
    graph.set(rel(abs), [...new Set(targets)]);
  }
  return { graph, unresolved };
}

describe('import shape of src/', () => {
  const { graph, unresolved } = readGraph();
  const found = shapeProblems(graph, LAYERS, KNOWN_FILE_CYCLES, KNOWN_LAYER_EXCEPTIONS);

  it('reads every import (the scan itself works)', () => {
    assert.ok(graph.size > 100, `only ${graph.size} files found under src/`);
    assert.ok(
      graph.get('src/cli/main.ts')?.includes('src/cli/commands/index.ts'),
      'main.ts -> commands/index.ts was not seen',
    );
    assert.deepEqual(unresolved, [], 'relative imports that name no file');
  });

  it('has no cycle between folders', () => {
    assert.deepEqual(found.folderCycles, []);
  });

  it('has no cycle between files', () => {
    assert.deepEqual(found.fileCycles, []);
  });

  it('imports only down the declared folder order', () => {
    assert.deepEqual(found.againstOrder, []);
  });

  it('keeps core free of every other folder, and admin free of the stages it serves', () => {
    const bad = [...graph].flatMap(([from, targets]) =>
      targets
        .filter((to) => {
          const [a, b] = [folderOf(from), folderOf(to)];
          if (a === 'core') return b !== 'core';
          return a === 'admin' && ['gateway', 'http', 'mqtt'].includes(b);
        })
        .map((to) => `${from} -> ${to}`)
        .filter((edge) => !KNOWN_LAYER_EXCEPTIONS.includes(edge)),
    );
    assert.deepEqual(bad, []);
  });

  it('keeps the allowlists honest: each entry still exists', () => {
    const allCycles = shapeProblems(graph, LAYERS).fileCycles;
    const gone = KNOWN_FILE_CYCLES.filter((c) => !allCycles.includes(c));
    assert.deepEqual(gone, [], 'these cycles are gone: remove them from KNOWN_FILE_CYCLES');
    const edges = new Set([...graph].flatMap(([from, targets]) => targets.map((to) => `${from} -> ${to}`)));
    const stale = KNOWN_LAYER_EXCEPTIONS.filter((e) => !edges.has(e));
    assert.deepEqual(stale, [], 'these imports are gone: remove them from KNOWN_LAYER_EXCEPTIONS');
  });
});

describe('the shape check itself', () => {
  const layers = [['core'], ['zonemap'], ['cli']];
  const graph = (edges: Record<string, string[]>): ImportGraph => new Map(Object.entries(edges));

  it('reports a cycle between two folders, naming the files on both sides', () => {
    const found = shapeProblems(
      graph({
        'src/core/config.ts': ['src/zonemap/redis.ts'],
        'src/zonemap/redis.ts': ['src/core/errors.ts'],
        'src/core/errors.ts': [],
      }),
      layers,
    );
    assert.equal(found.folderCycles.length, 1);
    assert.match(found.folderCycles[0]!, /core <-> zonemap|zonemap <-> core/);
    assert.match(found.folderCycles[0]!, /src\/core\/config\.ts -> src\/zonemap\/redis\.ts/);
    assert.match(found.folderCycles[0]!, /src\/zonemap\/redis\.ts -> src\/core\/errors\.ts/);
    assert.deepEqual(found.fileCycles, [], 'no file cycle: config → redis → errors ends');
    assert.deepEqual(found.againstOrder, [
      'src/core/config.ts -> src/zonemap/redis.ts: core may not import zonemap (zonemap is above it)',
    ]);
  });

  it('reports a cycle between files of one folder, and a file importing itself', () => {
    const found = shapeProblems(
      graph({
        'src/cli/a.ts': ['src/cli/b.ts'],
        'src/cli/b.ts': ['src/cli/c.ts'],
        'src/cli/c.ts': ['src/cli/a.ts'],
        'src/cli/self.ts': ['src/cli/self.ts'],
      }),
      layers,
    );
    assert.deepEqual(found.fileCycles.sort(), ['src/cli/a.ts src/cli/b.ts src/cli/c.ts', 'src/cli/self.ts']);
    assert.deepEqual(found.folderCycles, []);
  });

  it('lets an allowlisted file cycle pass, and only that one', () => {
    const edges = graph({
      'src/cli/a.ts': ['src/cli/b.ts'],
      'src/cli/b.ts': ['src/cli/a.ts'],
      'src/cli/x.ts': ['src/cli/y.ts'],
      'src/cli/y.ts': ['src/cli/x.ts'],
    });
    const found = shapeProblems(edges, layers, ['src/cli/a.ts src/cli/b.ts']);
    assert.deepEqual(found.fileCycles, ['src/cli/x.ts src/cli/y.ts']);
  });

  it('reports a folder that is not in the declared order', () => {
    const found = shapeProblems(
      graph({ 'src/cli/main.ts': ['src/newthing/x.ts'], 'src/newthing/x.ts': [] }),
      layers,
    );
    assert.deepEqual(found.againstOrder, [
      'src/cli/main.ts -> src/newthing/x.ts: folder newthing is not in the declared order',
    ]);
  });

  it('reports an import between two folders of one layer', () => {
    const found = shapeProblems(graph({ 'src/http/a.ts': ['src/mqtt/b.ts'], 'src/mqtt/b.ts': [] }), [
      ['http', 'mqtt'],
    ]);
    assert.deepEqual(found.againstOrder, [
      'src/http/a.ts -> src/mqtt/b.ts: http may not import mqtt (mqtt is in the same layer)',
    ]);
  });
});
