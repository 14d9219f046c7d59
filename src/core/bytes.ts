/**
 * Writing short strings into a Buffer being assembled (a head, a log line) without a native
 * call per piece: for strings of a few dozen characters a loop is faster than Buffer#write.
 */

/** `s` at `buf[pos]`, one byte per character as latin1 encodes it (ASCII as is); returns the end. */
export function putLatin1(buf: Buffer, pos: number, s: string): number {
  for (let i = 0; i < s.length; i++) buf[pos++] = s.charCodeAt(i);
  return pos;
}
