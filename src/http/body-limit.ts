import { Transform, type TransformCallback } from 'node:stream';
import { BodyTooLargeError } from './errors.js';

/** What a request body reports to the exchange that owns it. */
export interface BodyOwner {
  /** The client sent some bytes: the upload is not idle. */
  bodyProgress(): void;
  /** `bufferBytes` are buffered or the body ended: time to take an upstream connection. */
  bodyReady(): void;
  /** The client has sent its whole body. */
  bodyEnded(): void;
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

  constructor(limit: number, bufferBytes: number, owner: BodyOwner) {
    super({ readableHighWaterMark: bufferBytes });
    this.#limit = limit;
    this.#bufferBytes = bufferBytes;
    this.#owner = owner;
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
    cb();
    this.#owner.bodyEnded();
    if (!this.#ready) {
      this.#ready = true;
      this.#owner.bodyReady();
    }
  }
}
