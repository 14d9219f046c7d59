/**
 * The log of a gateway run in the test process (`createLogger(options, sink)`): pino writes one
 * JSON object per line, and a line may arrive in more than one chunk.
 */
import { PassThrough } from 'node:stream';

/**
 * A stream that parses each whole line it is written into `into`, then calls `onLines` (to wake
 * whoever waits for a line); a partial line waits for the rest of it.
 */
export function jsonLineSink<T>(into: T[], onLines?: () => void): PassThrough {
  const sink = new PassThrough();
  let partial = '';
  sink.on('data', (d: Buffer) => {
    partial += d.toString('utf8');
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) into.push(JSON.parse(l) as T);
    onLines?.();
  });
  return sink;
}
