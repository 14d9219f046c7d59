/**
 * A small parser for the Prometheus text exposition format (version 0.0.4), enough to read a
 * gateway's own /metrics: `name{label="value",...} value [timestamp]` lines, `#` comments
 * skipped. Label values may hold the escapes \\ \" and \n. Written here instead of taking a
 * dependency: the format is a line grammar, and no parser on npm is both small and kept up.
 * A malformed line is an error naming its line number: a check must not pass on a half-read
 * exposition.
 */

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export class PromTextError extends Error {}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

// Prometheus reads values with Go's ParseFloat, which takes NaN and Inf in any case
// (prom-client writes `Nan` for an empty event loop lag mean).
function parseValue(text: string): number {
  switch (text.toLowerCase()) {
    case '+inf':
    case 'inf':
      return Infinity;
    case '-inf':
      return -Infinity;
    case 'nan':
      return NaN;
  }
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new PromTextError(`bad value '${text}'`);
  return Number(text);
}

function parseLine(line: string): Sample {
  const m = NAME.exec(line);
  if (m === null) throw new PromTextError('no metric name');
  const name = m[0];
  let i = name.length;
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    for (;;) {
      while (line[i] === ' ') i++;
      if (line[i] === '}') {
        i++;
        break;
      }
      const lm = LABEL_NAME.exec(line.slice(i));
      if (lm === null) throw new PromTextError('bad label name');
      const label = lm[0];
      i += label.length;
      if (line[i] !== '=' || line[i + 1] !== '"') throw new PromTextError(`label ${label}: expected ="`);
      i += 2;
      let value = '';
      for (;;) {
        const c = line[i];
        if (c === undefined) throw new PromTextError(`label ${label}: unterminated value`);
        i++;
        if (c === '"') break;
        if (c === '\\') {
          const e = line[i];
          i++;
          if (e === 'n') value += '\n';
          else if (e === '\\' || e === '"') value += e;
          else throw new PromTextError(`label ${label}: bad escape \\${e ?? ''}`);
        } else value += c;
      }
      labels[label] = value;
      while (line[i] === ' ') i++;
      if (line[i] === ',') i++;
      else if (line[i] !== '}') throw new PromTextError(`label ${label}: expected , or }`);
    }
  }
  const rest = line
    .slice(i)
    .trim()
    .split(/[ \t]+/);
  if (rest.length < 1 || rest.length > 2 || rest[0] === '') throw new PromTextError('expected a value');
  if (rest.length === 2 && !/^-?\d+$/.test(rest[1] ?? ''))
    throw new PromTextError(`bad timestamp '${rest[1]}'`);
  return { name, labels, value: parseValue(rest[0] ?? '') };
}

export function parsePromText(text: string): Sample[] {
  const out: Sample[] = [];
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = (lines[n] ?? '').trim();
    if (line === '' || line.startsWith('#')) continue;
    try {
      out.push(parseLine(line));
    } catch (err) {
      throw new PromTextError(`line ${n + 1}: ${(err as Error).message}: ${line.slice(0, 200)}`);
    }
  }
  return out;
}
