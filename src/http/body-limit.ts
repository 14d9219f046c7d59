import { Transform, type TransformCallback } from 'node:stream';
import { BodyTooLargeError } from './errors.js';

/** What a request body reports to the exchange that owns it. */
export interface BodyOwner {
  /** The client sent some bytes: the upload is not idle. */
  bodyProgress(): void;
  /** `bufferBytes` are buffered or the body ended: time to take an upstream connection. */
  bodyReady(): void;
  /**
   * The client's body ended: null when that is its real end, else the error to fail the body
   * with (an HTTP/2 stream reset also ends the request stream, just before it reports the reset).
   */
  bodyEnded(): Error | null;
}

function confirmEnd(body: RequestBody): void {
  body.confirmEnd();
}

/**
 * The request body on its way upstream: counts it against `limits.maxBodyBytes` (a chunked body
 * has no length to check up front, and an HTTP/2 one may lie), reports progress for the idle
 * timeout, and holds up to `bufferBytes` before the exchange takes an upstream connection, so a
 * slow client uploading a small body never pins one.
 */
export class RequestBody extends Transform {
  #seen = 0;
  #ready = false;
  readonly #limit: number;
  readonly #bufferBytes: number;
  readonly #owner: BodyOwner;
  /** HTTP/2: decide whether the body really ended one turn of the event loop later. */
  readonly #deferEnd: boolean;
  #flushed: TransformCallback | null = null;

  constructor(limit: number, bufferBytes: number, owner: BodyOwner, deferEnd: boolean) {
    super({ readableHighWaterMark: bufferBytes });
    this.#limit = limit;
    this.#bufferBytes = bufferBytes;
    this.#owner = owner;
    this.#deferEnd = deferEnd;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#seen += chunk.length;
    this.#owner.bodyProgress();
    if (this.#seen > this.#limit) {
      cb(new BodyTooLargeError(this.#limit));
      return;
    }
    cb(null, chunk);
    if (!this.#ready && this.#seen >= this.#bufferBytes) {
      this.#ready = true;
      this.#owner.bodyReady();
    }
  }

  override _flush(cb: TransformCallback): void {
    this.#flushed = cb;
    if (this.#deferEnd) setImmediate(confirmEnd, this);
    else this.confirmEnd();
  }

  confirmEnd(): void {
    const cb = this.#flushed!;
    this.#flushed = null;
    const err = this.#owner.bodyEnded();
    if (err !== null) {
      cb(err);
      return;
    }
    cb();
    if (!this.#ready) {
      this.#ready = true;
      this.#owner.bodyReady();
    }
  }
}
