export { HttpStage, type HttpStageOptions } from './stage.js';
export type { HttpContext } from './context.js';
export {
  BadRequestError,
  BodyTooLargeError,
  HeadersTooLargeError,
  InternalError,
  NoUpstreamError,
  UpstreamFailedError,
  UpstreamTimeoutError,
} from './errors.js';
export { findCookie, scanRequestHeaders, type ScannedRequest } from './headers.js';
