/**
 * The check behind the identity config's one pattern convention (src/identity/pattern.ts has
 * the rule and its use): here, in core, because the config is validated once at load and core
 * imports no stage.
 */

/** What is wrong with a pattern, or null: the message says what to change. */
export function uidPatternProblem(source: string): string | null {
  let groups: number;
  try {
    new RegExp(source, 'u');
    // An alternative that matches the empty string makes exec() report every group.
    groups = (new RegExp(`(?:${source})|`, 'u').exec('')?.length ?? 1) - 1;
  } catch (err) {
    let hint = '';
    try {
      new RegExp(source);
      hint =
        ' (it compiles without the u flag: escape only characters that need it, e.g. write - not \\- outside [])';
    } catch {
      // Invalid either way: the engine's message says where.
    }
    return `invalid regular expression with the u (Unicode) flag: ${(err as Error).message}${hint}`;
  }
  if (groups > 1) {
    return (
      `has ${groups} capturing groups; at most one is allowed (the uid's): ` +
      'write the others as non-capturing (?:…)'
    );
  }
  return null;
}
