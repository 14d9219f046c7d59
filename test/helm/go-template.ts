/**
 * Renders a Helm chart's real templates without the helm binary (none is installed here and
 * the npm registry has no maintained Go text/template + Sprig engine: the candidates there
 * parse `{{ .x }}` substitutions only, without define/include, pipelines or trim markers).
 *
 * This is Go's text/template for exactly the subset a chart like ours uses — text and
 * `{{- -}}` trimming, comments, if / else if / else, range (lists and maps, with `$i, $v :=`),
 * with, define / include / template, `$var :=` and `=`, pipelines, parenthesised pipelines —
 * with Go's data semantics that bite chart authors: numbers from values files are float64 (so
 * `{{ 2592000 }}` from values prints `2.592e+06`), integer literals and Sprig arithmetic are
 * int64, truthiness is Go's, map ranges and toYaml go in key order, and `required` / `fail`
 * stop the render with Helm's "execution error at (file:line:col): message".
 * An unknown function or keyword is an error, so the chart cannot quietly outgrow this subset.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify as toYamlText, parse as parseYaml } from 'yaml';

type Value = unknown;
type Dict = Record<string, Value>;
const isDict = (v: Value): v is Dict => typeof v === 'object' && v !== null && !Array.isArray(v);

export class TemplateError extends Error {}

// ---------------------------------------------------------------- lexing and parsing

interface Pos {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}
type Arg =
  | { kind: 'field'; /** 'dot', or a variable name such as '$' or '$x' */ base: string; path: string[] }
  | { kind: 'lit'; value: Value }
  | { kind: 'ident'; name: string }
  | { kind: 'pipe'; pipe: Pipe; path: string[] };
interface Pipe {
  readonly decl?: { names: string[]; op: ':=' | '=' };
  readonly cmds: Arg[][];
  readonly pos: Pos;
}
type Node =
  | { kind: 'text'; text: string }
  | { kind: 'out'; pipe: Pipe }
  | { kind: 'if'; branches: { pipe: Pipe; body: Node[] }[]; otherwise: Node[] }
  | { kind: 'range'; pipe: Pipe; body: Node[]; otherwise: Node[] }
  | { kind: 'with'; pipe: Pipe; body: Node[]; otherwise: Node[] }
  | { kind: 'template'; name: string; pipe: Pipe | undefined };

interface Action {
  readonly body: string;
  readonly pos: Pos;
}

/** Splits a template into text and actions, applying the trim markers. */
function lex(src: string, file: string): (string | Action)[] {
  const out: (string | Action)[] = [];
  let i = 0;
  const posAt = (off: number): Pos => {
    const before = src.slice(0, off);
    const line = before.split('\n').length;
    return { file, line, col: off - before.lastIndexOf('\n') };
  };
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    if (open < 0) {
      out.push(src.slice(i));
      break;
    }
    let text = src.slice(i, open);
    let start = open + 2;
    if (/^-[ \t\r\n]/.test(src.slice(start, start + 2))) {
      text = text.replace(/\s+$/, '');
      start += 1;
    }
    out.push(text);
    let close: number;
    if (src.slice(start).trimStart().startsWith('/*')) {
      close = src.indexOf('*/', start);
      close = src.indexOf('}}', close);
    } else {
      close = findClose(src, start);
    }
    if (close < 0) throw new TemplateError(`${file}: unclosed action at ${posAt(open).line}`);
    let body = src.slice(start, close);
    i = close + 2;
    if (/[\s]-$/.test(body)) {
      body = body.slice(0, -1);
      const m = /^\s*/.exec(src.slice(i));
      i += m?.[0].length ?? 0;
    }
    out.push({ body: body.trim(), pos: posAt(open) });
  }
  return out;
}

/** The `}}` that closes an action, skipping those inside string literals. */
function findClose(src: string, from: number): number {
  let q: string | undefined;
  for (let j = from; j < src.length - 1; j++) {
    const c = src[j];
    if (q !== undefined) {
      if (c === '\\' && q === '"') j++;
      else if (c === q) q = undefined;
    } else if (c === '"' || c === '`') q = c;
    else if (c === '}' && src[j + 1] === '}') return j;
  }
  return -1;
}

/** `sp`: whitespace before the token (`(x).f` reads a field of x, `(x) .f` is a second argument). */
type Tok = { t: 'str' | 'num' | 'ident' | 'field' | 'var' | 'op'; v: string; sp: boolean };

function tokenize(s: string, pos: Pos): Tok[] {
  const toks: Tok[] = [];
  const re =
    /\s*(?:("(?:[^"\\]|\\.)*")|(`[^`]*`)|(-?\d+(?:\.\d+)?)|(\$[A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)|((?:\.[A-Za-z0-9_]+)+|\.)|([A-Za-z_][A-Za-z0-9_]*)|(:=|=|\||\(|\)|,))/y;
  let m: RegExpExecArray | null;
  let at = 0;
  while (at < s.length && (m = ((re.lastIndex = at), re.exec(s))) !== null) {
    const sp = /^\s/.test(m[0]);
    at = re.lastIndex;
    if (m[1] !== undefined) toks.push({ t: 'str', v: JSON.parse(m[1]) as string, sp });
    else if (m[2] !== undefined) toks.push({ t: 'str', v: m[2].slice(1, -1), sp });
    else if (m[3] !== undefined) toks.push({ t: 'num', v: m[3], sp });
    else if (m[4] !== undefined) toks.push({ t: 'var', v: m[4], sp });
    else if (m[5] !== undefined) toks.push({ t: 'field', v: m[5], sp });
    else if (m[6] !== undefined) toks.push({ t: 'ident', v: m[6], sp });
    else if (m[7] !== undefined) toks.push({ t: 'op', v: m[7], sp });
  }
  if (s.slice(at).trim() !== '')
    throw new TemplateError(`${pos.file}:${pos.line}: cannot parse "${s.slice(at)}" in {{ ${s} }}`);
  return toks;
}

function parsePipe(toks: Tok[], pos: Pos): Pipe {
  let k = 0;
  let decl: Pipe['decl'];
  // `$a := ...`, `$a, $b := ...`, `$a = ...`
  const declEnd = toks.findIndex((t) => t.t === 'op' && (t.v === ':=' || t.v === '='));
  if (declEnd > 0 && toks.slice(0, declEnd).every((t) => t.t === 'var' || (t.t === 'op' && t.v === ','))) {
    decl = {
      names: toks
        .slice(0, declEnd)
        .filter((t) => t.t === 'var')
        .map((t) => t.v),
      op: toks[declEnd]?.v as ':=' | '=',
    };
    k = declEnd + 1;
  }
  const [pipe, end] = parseCmds(toks, k, pos);
  if (end !== toks.length) throw new TemplateError(`${pos.file}:${pos.line}: unexpected ")"`);
  return decl === undefined ? { cmds: pipe, pos } : { decl, cmds: pipe, pos };
}

function parseCmds(toks: Tok[], k: number, pos: Pos): [Arg[][], number] {
  const cmds: Arg[][] = [[]];
  while (k < toks.length) {
    const t = toks[k] as Tok;
    if (t.t === 'op' && t.v === ')') break;
    k++;
    const cmd = cmds[cmds.length - 1] as Arg[];
    if (t.t === 'op' && t.v === '|') cmds.push([]);
    else if (t.t === 'op' && t.v === '(') {
      const [inner, end] = parseCmds(toks, k, pos);
      k = end + 1;
      let path: string[] = [];
      const next = toks[k];
      if (next?.t === 'field' && next.v !== '.' && !next.sp) {
        path = next.v.slice(1).split('.');
        k++;
      }
      cmd.push({ kind: 'pipe', pipe: { cmds: inner, pos }, path });
    } else if (t.t === 'str') cmd.push({ kind: 'lit', value: t.v });
    else if (t.t === 'num') cmd.push({ kind: 'lit', value: t.v.includes('.') ? Number(t.v) : BigInt(t.v) });
    else if (t.t === 'field')
      cmd.push({ kind: 'field', base: 'dot', path: t.v === '.' ? [] : t.v.slice(1).split('.') });
    else if (t.t === 'var') {
      const [name, ...path] = t.v.split('.');
      cmd.push({ kind: 'field', base: name ?? '$', path });
    } else if (t.t === 'ident') {
      if (t.v === 'true' || t.v === 'false') cmd.push({ kind: 'lit', value: t.v === 'true' });
      else if (t.v === 'nil') cmd.push({ kind: 'lit', value: null });
      else cmd.push({ kind: 'ident', name: t.v });
    } else throw new TemplateError(`${pos.file}:${pos.line}: unexpected "${t.v}"`);
  }
  if (cmds.some((c) => c.length === 0)) throw new TemplateError(`${pos.file}:${pos.line}: empty command`);
  return [cmds, k];
}

interface Parsed {
  readonly nodes: Node[];
  readonly defines: Map<string, Node[]>;
}

function parse(src: string, file: string): Parsed {
  const items = lex(src, file);
  const defines = new Map<string, Node[]>();
  let k = 0;
  // Parses until one of `stops`; returns the nodes and the stopping action.
  const block = (stops: string[]): [Node[], Action | undefined] => {
    const nodes: Node[] = [];
    while (k < items.length) {
      const it = items[k++] as string | Action;
      if (typeof it === 'string') {
        if (it !== '') nodes.push({ kind: 'text', text: it });
        continue;
      }
      const word = /^[a-z]+/.exec(it.body)?.[0] ?? '';
      const rest = it.body.slice(word.length).trim();
      if (it.body.startsWith('/*')) continue;
      if (stops.includes(word) && (word !== 'else' || true)) return [nodes, it];
      switch (word) {
        case 'if': {
          const branches = [{ pipe: parsePipe(tokenize(rest, it.pos), it.pos), body: [] as Node[] }];
          let otherwise: Node[] = [];
          for (;;) {
            const [body, stop] = block(['else', 'end']);
            (branches[branches.length - 1] as { body: Node[] }).body = body;
            if (stop === undefined) throw new TemplateError(`${file}: unclosed if`);
            if (stop.body === 'end') break;
            const elseRest = stop.body.slice(4).trim();
            if (elseRest.startsWith('if ')) {
              branches.push({ pipe: parsePipe(tokenize(elseRest.slice(3), stop.pos), stop.pos), body: [] });
              continue;
            }
            const [tail, end] = block(['end']);
            if (end === undefined) throw new TemplateError(`${file}: unclosed if`);
            otherwise = tail;
            break;
          }
          nodes.push({ kind: 'if', branches, otherwise });
          break;
        }
        case 'range':
        case 'with': {
          const pipe = parsePipe(tokenize(rest, it.pos), it.pos);
          const [body, stop] = block(['else', 'end']);
          let otherwise: Node[] = [];
          if (stop === undefined) throw new TemplateError(`${file}: unclosed ${word}`);
          if (stop.body === 'else') {
            const [tail, end] = block(['end']);
            if (end === undefined) throw new TemplateError(`${file}: unclosed ${word}`);
            otherwise = tail;
          }
          nodes.push({ kind: word, pipe, body, otherwise });
          break;
        }
        case 'define': {
          const name = JSON.parse(rest) as string;
          const [body, stop] = block(['end']);
          if (stop === undefined) throw new TemplateError(`${file}: unclosed define`);
          defines.set(name, body);
          break;
        }
        case 'template': {
          const toks = tokenize(rest, it.pos);
          const name = toks.shift();
          if (name?.t !== 'str') throw new TemplateError(`${file}:${it.pos.line}: template needs a name`);
          nodes.push({
            kind: 'template',
            name: name.v,
            pipe: toks.length > 0 ? parsePipe(toks, it.pos) : undefined,
          });
          break;
        }
        case 'end':
        case 'else':
          throw new TemplateError(`${file}:${it.pos.line}: unexpected {{ ${it.body} }}`);
        case 'block':
        case 'break':
        case 'continue':
          throw new TemplateError(`${file}:${it.pos.line}: {{ ${word} }} is outside this renderer's subset`);
        default:
          nodes.push({ kind: 'out', pipe: parsePipe(tokenize(it.body, it.pos), it.pos) });
      }
    }
    return [nodes, undefined];
  };
  const [nodes] = block([]);
  return { nodes, defines };
}

// ---------------------------------------------------------------- Go value semantics

function truth(v: Value): boolean {
  if (v === null || v === undefined || v === false || v === '' || v === 0 || v === 0n) return false;
  if (Array.isArray(v)) return v.length > 0;
  if (isDict(v)) return Object.keys(v).length > 0;
  return true;
}

/** fmt's %v: float64 in %g with the shortest digits (exponent from 1e21 down... Go uses 1e6 up). */
function formatFloat(n: number): string {
  if (!Number.isFinite(n)) return n > 0 ? '+Inf' : n < 0 ? '-Inf' : 'NaN';
  if (n === 0) return '0';
  const exp = Math.floor(Math.log10(Math.abs(n)));
  if (exp < -4 || exp >= 21 || (exp >= 6 && true)) {
    const [mant, e] = n.toExponential().split('e');
    const ev = Number(e);
    return `${mant}e${ev < 0 ? '-' : '+'}${String(Math.abs(ev)).padStart(2, '0')}`;
  }
  return String(n);
}

function str(v: Value): string {
  if (v === null || v === undefined) return '<no value>';
  if (typeof v === 'string') return v;
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return formatFloat(v);
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(str).join(' ')}]`;
  if (isDict(v))
    return `map[${Object.keys(v)
      .sort()
      .map((k) => `${k}:${str(v[k])}`)
      .join(' ')}]`;
  return typeof v === 'symbol' || typeof v === 'function' ? v.toString() : JSON.stringify(v);
}
/** Sprig's strval: like %v but nil is "". */
const strval = (v: Value): string => (v === null || v === undefined ? '' : str(v));

function toInt(v: Value): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return BigInt(Math.trunc(v));
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
  if (typeof v === 'boolean') return v ? 1n : 0n;
  return 0n;
}

function same(a: Value, b: Value): boolean {
  if ((typeof a === 'bigint' || typeof a === 'number') && (typeof b === 'bigint' || typeof b === 'number'))
    return Number(a) === Number(b);
  return a === b || (a == null && b == null);
}

function sortedYaml(v: Value): Value {
  if (Array.isArray(v)) return v.map(sortedYaml);
  if (isDict(v))
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortedYaml(v[k])]),
    );
  return typeof v === 'bigint' ? Number(v) : v;
}

function goQuote(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => c);
}

// ---------------------------------------------------------------- execution

interface Scope {
  readonly vars: Map<string, Value>;
  readonly up: Scope | undefined;
}

export interface ChartMeta {
  readonly name: string;
  readonly version: string;
  readonly appVersion: string;
}

export interface RenderInput {
  readonly values: Dict;
  readonly release: { name: string; namespace: string };
}

export class Chart {
  readonly files = new Map<string, Parsed>();
  readonly defines = new Map<string, Node[]>();
  readonly meta: ChartMeta;

  constructor(readonly dir: string) {
    const chart = parseYaml(readFileSync(join(dir, 'Chart.yaml'), 'utf8')) as Dict;
    this.meta = {
      name: String(chart.name),
      version: String(chart.version),
      appVersion: String(chart.appVersion),
    };
    for (const f of readdirSync(join(dir, 'templates')).sort()) {
      if (!/\.(yaml|tpl)$/.test(f)) continue;
      const path = `${this.meta.name}/templates/${f}`;
      const parsed = parse(readFileSync(join(dir, 'templates', f), 'utf8'), path);
      this.files.set(path, parsed);
      // Helm names every file's template by its path (`include (print $.Template.BasePath "/x.yaml") .`).
      this.defines.set(path, parsed.nodes);
      for (const [k, v] of parsed.defines) this.defines.set(k, v);
    }
  }

  /** Renders every template not starting with `_`: file name → text (as `helm template` prints). */
  render(input: RenderInput): Map<string, string> {
    const top: Dict = {
      Values: input.values,
      Release: {
        Name: input.release.name,
        Namespace: input.release.namespace,
        Service: 'Helm',
        IsInstall: true,
      },
      Chart: { Name: this.meta.name, Version: this.meta.version, AppVersion: this.meta.appVersion },
      Capabilities: { KubeVersion: { Version: 'v1.31.0' } },
    };
    const out = new Map<string, string>();
    for (const [path, parsed] of this.files) {
      if (path.split('/').pop()?.startsWith('_')) continue;
      const ctx = { ...top, Template: { Name: path, BasePath: `${this.meta.name}/templates` } };
      out.set(path, this.exec(parsed.nodes, ctx, { vars: new Map([['$', ctx]]), up: undefined }));
    }
    return out;
  }

  private exec(nodes: Node[], dot: Value, scope: Scope): string {
    let s = '';
    for (const n of nodes) {
      switch (n.kind) {
        case 'text':
          s += n.text;
          break;
        case 'out': {
          const v = this.pipe(n.pipe, dot, scope);
          if (n.pipe.decl === undefined) s += str(v);
          break;
        }
        case 'if': {
          const branch = n.branches.find((b) => truth(this.pipe(b.pipe, dot, scope)));
          s += this.exec(branch?.body ?? n.otherwise, dot, { vars: new Map(), up: scope });
          break;
        }
        case 'with': {
          const v = this.pipe({ cmds: n.pipe.cmds, pos: n.pipe.pos }, dot, scope);
          const inner: Scope = { vars: new Map(), up: scope };
          if (n.pipe.decl !== undefined) inner.vars.set(n.pipe.decl.names[0] ?? '', v);
          s += truth(v) ? this.exec(n.body, v, inner) : this.exec(n.otherwise, dot, inner);
          break;
        }
        case 'range': {
          const v = this.pipe({ cmds: n.pipe.cmds, pos: n.pipe.pos }, dot, scope);
          const entries: [Value, Value][] = Array.isArray(v)
            ? v.map((x, i) => [BigInt(i), x])
            : isDict(v)
              ? Object.keys(v)
                  .sort()
                  .map((k) => [k, v[k]])
              : v === null || v === undefined
                ? []
                : (() => {
                    throw this.fail(n.pipe.pos, `range can't iterate over ${str(v)}`);
                  })();
          if (entries.length === 0) s += this.exec(n.otherwise, dot, { vars: new Map(), up: scope });
          for (const [key, item] of entries) {
            const inner: Scope = { vars: new Map(), up: scope };
            const names = n.pipe.decl?.names ?? [];
            if (names.length === 1) inner.vars.set(names[0] ?? '', item);
            if (names.length === 2) {
              inner.vars.set(names[0] ?? '', key);
              inner.vars.set(names[1] ?? '', item);
            }
            s += this.exec(n.body, item, inner);
          }
          break;
        }
        case 'template':
          s += this.include(n.name, n.pipe === undefined ? null : this.pipe(n.pipe, dot, scope), n.pipe?.pos);
          break;
      }
    }
    return s;
  }

  private include(name: string, dot: Value, pos: Pos | undefined): string {
    const body = this.defines.get(name);
    if (body === undefined) throw this.fail(pos, `no template "${name}" associated with template`);
    return this.exec(body, dot, { vars: new Map([['$', dot]]), up: undefined });
  }

  private fail(pos: Pos | undefined, msg: string): TemplateError {
    return new TemplateError(
      pos === undefined ? msg : `execution error at (${pos.file}:${pos.line}:${pos.col}): ${msg}`,
    );
  }

  private lookupVar(name: string, scope: Scope, pos: Pos): Value {
    for (let s: Scope | undefined = scope; s !== undefined; s = s.up)
      if (s.vars.has(name)) return s.vars.get(name);
    throw new TemplateError(`${pos.file}:${pos.line}: undefined variable "${name}"`);
  }

  private pipe(p: Pipe, dot: Value, scope: Scope): Value {
    let v: Value = undefined;
    let first = true;
    for (const cmd of p.cmds) {
      v = this.command(cmd, dot, scope, p.pos, first ? [] : [v]);
      first = false;
    }
    if (p.decl !== undefined) {
      const name = p.decl.names[0] ?? '';
      if (p.decl.op === ':=') scope.vars.set(name, v);
      else {
        let s: Scope | undefined = scope;
        while (s !== undefined && !s.vars.has(name)) s = s.up;
        if (s === undefined)
          throw new TemplateError(`${p.pos.file}:${p.pos.line}: undefined variable "${name}"`);
        s.vars.set(name, v);
      }
    }
    return v;
  }

  private walk(v: Value, path: string[], pos: Pos): Value {
    for (const k of path) {
      if (v === null || v === undefined) return undefined;
      if (!isDict(v)) throw this.fail(pos, `can't evaluate field ${k} in type ${typeof v}`);
      v = v[k];
    }
    return v;
  }

  private arg(a: Arg, dot: Value, scope: Scope, pos: Pos): Value {
    switch (a.kind) {
      case 'lit':
        return a.value;
      case 'field':
        return this.walk(a.base === 'dot' ? dot : this.lookupVar(a.base, scope, pos), a.path, pos);
      case 'pipe':
        return this.walk(this.pipe(a.pipe, dot, scope), a.path, pos);
      case 'ident':
        return this.call(a.name, [], pos);
    }
  }

  private command(cmd: Arg[], dot: Value, scope: Scope, pos: Pos, piped: Value[]): Value {
    const [head, ...rest] = cmd as [Arg, ...Arg[]];
    if (head.kind !== 'ident') {
      if (rest.length > 0 || piped.length > 0) throw this.fail(pos, "can't give argument to non-function");
      return this.arg(head, dot, scope, pos);
    }
    // and / or evaluate lazily, like Go 1.18+.
    if (head.name === 'and' || head.name === 'or') {
      const args = [...rest.map((a) => () => this.arg(a, dot, scope, pos)), ...piped.map((v) => () => v)];
      let last: Value;
      for (const get of args) {
        last = get();
        if (head.name === 'and' ? !truth(last) : truth(last)) return last;
      }
      return last;
    }
    return this.call(head.name, [...rest.map((a) => this.arg(a, dot, scope, pos)), ...piped], pos);
  }

  private call(name: string, a: Value[], pos: Pos): Value {
    const need = (n: number): void => {
      if (a.length !== n) throw this.fail(pos, `wrong number of args for ${name}: want ${n} got ${a.length}`);
    };
    switch (name) {
      case 'include':
        need(2);
        return this.include(String(a[0]), a[1], pos);
      case 'required':
        need(2);
        if (a[1] === null || a[1] === undefined || a[1] === '') throw this.fail(pos, String(a[0]));
        return a[1];
      case 'fail':
        need(1);
        throw this.fail(pos, String(a[0]));
      case 'default':
        need(2);
        return truth(a[1]) ? a[1] : a[0];
      case 'empty':
        need(1);
        return !truth(a[0]);
      case 'not':
        need(1);
        return !truth(a[0]);
      case 'eq':
        return a.slice(1).some((b) => same(a[0], b));
      case 'ne':
        need(2);
        return !same(a[0], a[1]);
      case 'lt':
      case 'le':
      case 'gt':
      case 'ge': {
        need(2);
        const [x, y] = [Number(a[0]), Number(a[1])];
        return name === 'lt' ? x < y : name === 'le' ? x <= y : name === 'gt' ? x > y : x >= y;
      }
      case 'quote':
        return a
          .filter((x) => x !== null && x !== undefined)
          .map((x) => goQuote(strval(x)))
          .join(' ');
      case 'squote':
        return a
          .filter((x) => x !== null && x !== undefined)
          .map((x) => `'${strval(x)}'`)
          .join(' ');
      case 'print':
        return a.map(strval).join('');
      case 'printf': {
        let i = 1;
        return String(a[0]).replace(/%([svdq%])/g, (_m, verb: string) => {
          if (verb === '%') return '%';
          const x = a[i++];
          if (verb === 'd') return toInt(x).toString();
          if (verb === 'q') return goQuote(strval(x));
          return str(x);
        });
      }
      case 'nindent':
      case 'indent': {
        need(2);
        const pad = ' '.repeat(Number(a[0]));
        const body = strval(a[1])
          .split('\n')
          .map((l) => pad + l)
          .join('\n');
        return name === 'nindent' ? `\n${body}` : body;
      }
      case 'toYaml':
        need(1);
        if (a[0] === null || a[0] === undefined) return 'null';
        return toYamlText(sortedYaml(a[0]), { lineWidth: 0, indent: 2 }).replace(/\n$/, '');
      case 'toJson':
        need(1);
        return JSON.stringify(sortedYaml(a[0]));
      case 'trunc': {
        need(2);
        const n = Number(a[0]);
        const s = strval(a[1]);
        return n >= 0 ? s.slice(0, n) : s.slice(n);
      }
      case 'trimSuffix':
        need(2);
        return strval(a[1]).endsWith(String(a[0]))
          ? strval(a[1]).slice(0, -String(a[0]).length || undefined)
          : strval(a[1]);
      case 'trimPrefix':
        need(2);
        return strval(a[1]).startsWith(String(a[0])) ? strval(a[1]).slice(String(a[0]).length) : strval(a[1]);
      case 'trim':
        need(1);
        return strval(a[0]).trim();
      case 'lower':
        return strval(a[0]).toLowerCase();
      case 'upper':
        return strval(a[0]).toUpperCase();
      case 'contains':
        need(2);
        return strval(a[1]).includes(strval(a[0]));
      case 'hasPrefix':
        need(2);
        return strval(a[1]).startsWith(strval(a[0]));
      case 'sha256sum':
        need(1);
        return createHash('sha256').update(strval(a[0])).digest('hex');
      case 'b64enc':
        need(1);
        return Buffer.from(strval(a[0])).toString('base64');
      case 'toString':
        need(1);
        return strval(a[0]);
      case 'int':
      case 'int64':
        need(1);
        return toInt(a[0]);
      case 'add':
        return a.reduce<bigint>((s, x) => s + toInt(x), 0n);
      case 'sub':
        need(2);
        return toInt(a[0]) - toInt(a[1]);
      case 'mul':
        return a.reduce<bigint>((s, x) => s * toInt(x), 1n);
      case 'div':
        need(2);
        if (toInt(a[1]) === 0n) throw this.fail(pos, 'integer divide by zero');
        return toInt(a[0]) / toInt(a[1]);
      case 'add1':
        need(1);
        return toInt(a[0]) + 1n;
      case 'max':
        return a.map(toInt).reduce((m, x) => (x > m ? x : m));
      case 'min':
        return a.map(toInt).reduce((m, x) => (x < m ? x : m));
      case 'hasKey':
        need(2);
        return isDict(a[0]) && Object.hasOwn(a[0], String(a[1]));
      case 'get':
        need(2);
        return isDict(a[0]) ? (a[0][String(a[1])] ?? '') : '';
      case 'index': {
        let v = a[0];
        for (const k of a.slice(1))
          v = Array.isArray(v) ? v[Number(k)] : isDict(v) ? v[String(k)] : undefined;
        return v;
      }
      case 'len':
        need(1);
        return BigInt(
          Array.isArray(a[0]) ? a[0].length : isDict(a[0]) ? Object.keys(a[0]).length : strval(a[0]).length,
        );
      case 'list':
        return [...a];
      case 'dict': {
        const d: Dict = {};
        for (let i = 0; i + 1 < a.length; i += 2) d[strval(a[i])] = a[i + 1];
        return d;
      }
      case 'join':
        need(2);
        return (Array.isArray(a[1]) ? a[1] : []).map(strval).join(strval(a[0]));
      case 'ternary':
        need(3);
        return truth(a[2]) ? a[0] : a[1];
      case 'coalesce':
        return a.find(truth) ?? null;
      default:
        throw this.fail(pos, `function "${name}" not defined`);
    }
  }
}
