/**
 * Coalesces forwarded packets into as few writes as possible: packets relayed unchanged (or
 * rewritten in place, same length) that sit back to back in one received chunk leave as one
 * write of that byte range. A chunk of a thousand small PUBLISH packets costs one write, not a
 * thousand. Anything not contiguous starts a new run, so order is always kept.
 *
 * Handlers flush when their chunk is done (and check backpressure then); a microtask flushes
 * anyway right after the current event handler, so nothing queued can wait for another event.
 */
import type { Writable } from 'node:stream';

export class RunWriter {
  private buffer: ArrayBufferLike | null = null;
  private start = 0;
  private end = 0;
  private target: Writable | null = null;
  private scheduled = false;
  private readonly flushTask = (): void => {
    this.scheduled = false;
    this.flush();
  };

  /** Queue `frame` for `target` (after everything queued before it). */
  add(frame: Buffer, target: Writable): void {
    if (this.buffer === frame.buffer && this.end === frame.byteOffset && this.target === target) {
      this.end += frame.length;
      return;
    }
    if (this.buffer !== null) this.flush();
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.flushTask);
    }
    this.buffer = frame.buffer;
    this.start = frame.byteOffset;
    this.end = frame.byteOffset + frame.length;
    this.target = target;
  }

  /** Write what is queued. */
  flush(): void {
    const buffer = this.buffer;
    const target = this.target;
    if (buffer === null || target === null) return;
    this.buffer = null;
    this.target = null;
    if (!target.destroyed) target.write(Buffer.from(buffer, this.start, this.end - this.start));
  }

  /** Drop what is queued (the connection is going away). */
  clear(): void {
    this.buffer = null;
    this.target = null;
  }
}
