import assert from 'node:assert/strict';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';
import { ROOT } from './testing/harness.js';

// Every query is asynchronous, so a call whose promise nobody awaits is a write that may run after
// its transaction committed, or fail with nobody told. The type checker knows which expressions
// are promises: a statement that is only a promise must be awaited, returned, or given to `void`
// (which says "on purpose", and whose callee then handles its own failure), stored, or end in a
// rejection handler.

/** `file:line  text` of each statement in src/ (tests included) that drops a promise. */
function floatingPromises(): string[] {
  const config = ts.getParsedCommandLineOfConfigFile(join(ROOT, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
  if (!config) throw new Error('tsconfig.json could not be read');
  const program = ts.createProgram({ rootNames: config.fileNames.filter((f) => f.includes('/src/')), options: config.options });
  const checker = program.getTypeChecker();
  const isPromise = (type: ts.Type): boolean =>
    type.isUnion() ? type.types.some(isPromise) : type.getProperty('then') !== undefined && type.getProperty('catch') !== undefined;
  /** Stored (`x = promise`, `x ??= promise`) or already handled (`p.catch(…)`, `p.then(ok, failed)`): not dropped. */
  const keptOrHandled = (e: ts.Expression): boolean =>
    (ts.isBinaryExpression(e) && e.operatorToken.kind >= ts.SyntaxKind.FirstAssignment && e.operatorToken.kind <= ts.SyntaxKind.LastAssignment) ||
    (ts.isCallExpression(e) &&
      ts.isPropertyAccessExpression(e.expression) &&
      (e.expression.name.text === 'catch' || (e.expression.name.text === 'then' && e.arguments.length === 2)));
  // node:test's test() and describe() return promises the runner itself waits for.
  const TEST_API = new Set(['test', 'describe', 'it', 'suite']);
  const isTestDeclaration = (e: ts.Expression) =>
    ts.isCallExpression(e) &&
    ((ts.isIdentifier(e.expression) && TEST_API.has(e.expression.text)) ||
      (ts.isPropertyAccessExpression(e.expression) && TEST_API.has(e.expression.name.text)));
  const found: string[] = [];
  for (const file of program.getSourceFiles()) {
    if (file.isDeclarationFile || !file.fileName.startsWith(join(ROOT, 'src'))) continue;
    const visit = (node: ts.Node) => {
      if (
        ts.isExpressionStatement(node) &&
        !ts.isVoidExpression(node.expression) &&
        !keptOrHandled(node.expression) &&
        !isTestDeclaration(node.expression) &&
        isPromise(checker.getTypeAtLocation(node.expression))
      ) {
        const { line } = file.getLineAndCharacterOfPosition(node.getStart(file));
        found.push(`${relative(ROOT, file.fileName)}:${line + 1}  ${node.getText(file).split('\n')[0]}`);
      }
      ts.forEachChild(node, visit);
    };
    visit(file);
  }
  return found;
}

test('no statement drops a promise (await it, return it, or `void` it on purpose)', () => {
  assert.deepEqual(floatingPromises(), []);
});
