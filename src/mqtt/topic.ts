/**
 * Topic name and filter checks on raw UTF-8 bytes (MQTT 3.1.1 §4.7, MQTT 5 §4.7), bounded by
 * the configured length and depth. The broker checks the rest (UTF-8 well-formedness).
 */
const SLASH = 0x2f;
const PLUS = 0x2b;
const HASH = 0x23;

/** null when the topic name is acceptable, else why not. Wildcards are not allowed in names (§3.3.2.1). */
export function checkTopicName(
  buf: Buffer,
  start: number,
  end: number,
  maxBytes: number,
  maxLevels: number,
): string | null {
  const len = end - start;
  if (len === 0) return 'empty topic name (topic aliases are not offered)';
  if (len > maxBytes) return `topic name longer than ${maxBytes} bytes`;
  let levels = 1;
  for (let i = start; i < end; i++) {
    const b = buf[i] as number;
    if (b === SLASH) {
      if (++levels > maxLevels) return `topic name deeper than ${maxLevels} levels`;
    } else if (b === PLUS || b === HASH || b === 0) {
      return 'wildcard or U+0000 in a topic name';
    }
  }
  return null;
}

/** null when the topic filter is acceptable (§4.7.1: `#` last and alone, `+` alone in its level). */
export function checkTopicFilter(filter: string, maxBytes: number, maxLevels: number): string | null {
  if (filter.length === 0) return 'empty topic filter';
  if (Buffer.byteLength(filter) > maxBytes) return `topic filter longer than ${maxBytes} bytes`;
  const levels = filter.split('/');
  if (levels.length > maxLevels) return `topic filter deeper than ${maxLevels} levels`;
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i] as string;
    if (level.includes('\u0000')) return 'U+0000 in a topic filter';
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1))
      return 'misplaced # in a topic filter';
    if (level.includes('+') && level !== '+') return 'misplaced + in a topic filter';
  }
  return null;
}
