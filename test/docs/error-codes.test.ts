/**
 * docs/errors.md and the source agree, both ways: every code in the `ZgErrorCode` union
 * (src/core/errors.ts) is documented, every documented code is in the union, and every code is
 * raised somewhere — an error class that carries it (or a subclass of it) is constructed in
 * src/, not only declared.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';
import { REPO_ROOT } from '../helpers/cli.js';
import { sourceFiles } from '../helpers/source-files.js';

/** Codes documented and declared but raised nowhere: none allowed (a new entry needs a reason here). */
const KNOWN_UNRAISED: readonly string[] = [];

/** The string members of `export type ZgErrorCode = 'A' | 'B' | …`. */
function unionCodes(): string[] {
  const file = join(REPO_ROOT, 'src/core/errors.ts');
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  for (const st of sf.statements) {
    if (ts.isTypeAliasDeclaration(st) && st.name.text === 'ZgErrorCode' && ts.isUnionTypeNode(st.type)) {
      return st.type.types.flatMap((t) =>
        ts.isLiteralTypeNode(t) && ts.isStringLiteral(t.literal) ? [t.literal.text] : [],
      );
    }
  }
  throw new Error('no ZgErrorCode union in src/core/errors.ts');
}

interface Raising {
  /** Class → the class it extends. */
  readonly parent: Map<string, string>;
  /** Class → codes its constructor passes to super(). */
  readonly codesOf: Map<string, string[]>;
  /** Class names constructed with `new` anywhere in src/. */
  readonly constructed: Set<string>;
  /**
   * Codes passed straight to `new SomeError('ZG_ERR_…', …)`, or handed out as a value
   * (`code: … ?? 'ZG_ERR_…'` in an answer body or a log line).
   */
  readonly direct: Set<string>;
}

function scanRaising(): Raising {
  const r: Raising = { parent: new Map(), codesOf: new Map(), constructed: new Set(), direct: new Set() };
  // Every code literal in an expression: a conditional (`status === 408 ? 'A' : 'B'`) names two.
  const codesIn = (node: ts.Node | undefined): string[] => {
    if (node === undefined) return [];
    if (ts.isStringLiteral(node)) return node.text.startsWith('ZG_ERR_') ? [node.text] : [];
    const out: string[] = [];
    ts.forEachChild(node, (child) => {
      out.push(...codesIn(child));
    });
    return out;
  };
  const codeArgs = (args: ts.NodeArray<ts.Expression> | undefined): string[] => codesIn(args?.[0]);
  const named = (name: ts.Node): boolean => (ts.isIdentifier(name) ? name.text : '') === 'code';
  for (const file of sourceFiles(join(REPO_ROOT, 'src'))) {
    const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node, inClass: string | null): void => {
      let cls = inClass;
      if (ts.isClassDeclaration(node) && node.name !== undefined) {
        cls = node.name.text;
        const ext = node.heritageClauses?.find((h) => h.token === ts.SyntaxKind.ExtendsKeyword)?.types[0];
        if (ext !== undefined) r.parent.set(cls, ext.expression.getText(sf));
      }
      if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.SuperKeyword && cls !== null) {
        r.codesOf.set(cls, [...(r.codesOf.get(cls) ?? []), ...codeArgs(node.arguments)]);
      }
      if (
        (ts.isVariableDeclaration(node) || ts.isPropertyAssignment(node)) &&
        named(node.name) &&
        node.initializer !== undefined
      ) {
        for (const c of codesIn(node.initializer)) r.direct.add(c);
      }
      if (ts.isNewExpression(node)) {
        r.constructed.add(node.expression.getText(sf));
        for (const c of codeArgs(node.arguments)) r.direct.add(c);
      }
      ts.forEachChild(node, (child) => visit(child, cls));
    };
    visit(sf, null);
  }
  return r;
}

/** Codes some constructed error carries: its own class's, or an ancestor's it passes on. */
function raisedCodes(r: Raising): Set<string> {
  const raised = new Set(r.direct);
  for (const name of r.constructed) {
    for (let c: string | undefined = name; c !== undefined; c = r.parent.get(c)) {
      const codes = r.codesOf.get(c);
      if (codes !== undefined && codes.length > 0) {
        for (const code of codes) raised.add(code);
        break;
      }
    }
  }
  return raised;
}

describe('docs/errors.md', () => {
  const docs = readFileSync(join(REPO_ROOT, 'docs/errors.md'), 'utf8');
  const listed = [...docs.matchAll(/^\| (ZG_ERR_[A-Z0-9_]+) \|/gm)].map((m) => m[1]!);
  const declared = unionCodes();
  const scanned = scanRaising();

  it('lists every code of the ZgErrorCode union', () => {
    assert.ok(declared.length > 5, 'found the union');
    const missing = declared.filter((c) => !listed.includes(c));
    assert.deepEqual(missing, [], `add these codes to docs/errors.md: ${missing.join(', ')}`);
  });

  it('documents only codes the source declares', () => {
    const unknown = listed.filter((c) => !declared.includes(c));
    assert.deepEqual(unknown, [], `not in ZgErrorCode (src/core/errors.ts): ${unknown.join(', ')}`);
  });

  it('documents only codes something raises', () => {
    const raised = raisedCodes(scanned);
    const never = listed.filter((c) => !raised.has(c) && !KNOWN_UNRAISED.includes(c));
    assert.deepEqual(
      never,
      [],
      `documented, but no error carrying it is ever constructed: ${never.join(', ')}`,
    );
    const stale = KNOWN_UNRAISED.filter((c) => raised.has(c) || !listed.includes(c));
    assert.deepEqual(stale, [], 'raised now (or gone): remove from KNOWN_UNRAISED');
  });

  it('finds the raise sites (the scan itself works)', () => {
    const r = scanned;
    assert.ok(r.constructed.has('UsageError'), 'new UsageError(…) was seen');
    assert.deepEqual(r.codesOf.get('UsageError'), ['ZG_ERR_USAGE']);
    // Through a parent that takes the code as a parameter: InvalidConfigError → InvalidDocumentError.
    assert.ok(raisedCodes(r).has('ZG_ERR_CONFIG_INVALID'));
    const synthetic: Raising = {
      parent: new Map([['DeclaredOnly', 'ZonegateError']]),
      codesOf: new Map([['DeclaredOnly', ['ZG_ERR_X']]]),
      constructed: new Set(),
      direct: new Set(),
    };
    assert.equal(raisedCodes(synthetic).has('ZG_ERR_X'), false, 'a class never constructed raises nothing');
  });

  it('lists each code once', () => {
    const dupes = listed.filter((c, i) => listed.indexOf(c) !== i);
    assert.deepEqual(dupes, []);
  });
});
