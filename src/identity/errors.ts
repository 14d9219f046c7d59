import { ZonegateError } from '../core/errors.js';

/**
 * The uid header is not a uid the gateway can read: its bytes (after percent-decoding) are not
 * UTF-8, or a `%` is not followed by two hex digits. Answered with 400, its message as reason:
 * routing by a guess would put the user in a zone their other requests do not go to.
 */
export class UidHeaderInvalidError extends ZonegateError {
  constructor(header: string, message: string) {
    super('ZG_ERR_UID_INVALID', `${header} header ${message}`, { httpStatus: 400 });
  }
}
