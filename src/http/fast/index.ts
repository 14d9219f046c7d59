export { FastPath, type FastPathOptions } from './fast-path.js';
export {
  ChunkedDecoder,
  parseRequestHead,
  rawFields,
  type ChunkRejectCode,
  type HeadRejectCode,
  type HeadRejection,
  type RequestHead,
} from './parser.js';
