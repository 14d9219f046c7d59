import { Transform, type TransformCallback } from 'node:stream';
import { BodyTooLargeError } from './errors.js';

/**
 * Counts a chunked request body on its way upstream and fails the stream past the limit.
 * Only used when there is no Content-Length to check up front.
 */
export class BodyLimit extends Transform {
  #seen = 0;
  readonly #limit: number;

  constructor(limit: number) {
    super();
    this.#limit = limit;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#seen += chunk.length;
    if (this.#seen > this.#limit) cb(new BodyTooLargeError(this.#limit));
    else cb(null, chunk);
  }
}
