/**
 * The one pattern convention of the identity config (docs/design.md "Identity patterns"):
 * every pattern (`identity.uidPattern`, `identity.certUid.pattern`, `identity.mqtt.pattern`) is a
 * JavaScript regular expression compiled with the `u` flag (uids are Unicode text, `.` is one
 * code point) and has at most one capturing group, named or not. A pattern that takes the uid
 * out of a longer value gives that group's text, or the whole match when it has no group.
 * Checked once, at config load, with the field named in the error.
 */
import { InvalidConfigError } from '../core/errors.js';
import { uidPatternProblem } from '../core/uid-pattern.js';

export { uidPatternProblem };

/** Compile a pattern by the convention; throws the config error naming `field`. */
export function compileUidPattern(field: string, source: string): RegExp {
  const problem = uidPatternProblem(source);
  if (problem !== null) throw new InvalidConfigError([{ path: field, message: problem }]);
  return new RegExp(source, 'u');
}

/**
 * The uid a pattern takes out of `value`: its capturing group's text, or the whole match when
 * it has none. Null when it does not match, or the part it names is empty or did not take part.
 */
export function pickUid(pattern: RegExp, value: string): string | null {
  const m = pattern.exec(value);
  if (m === null) return null;
  // exec() reports every group, matched or not: the length says whether the pattern has one.
  const uid = m.length > 1 ? m[1] : m[0];
  return uid === undefined || uid === '' ? null : uid;
}
