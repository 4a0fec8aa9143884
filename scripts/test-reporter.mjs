// A node:test reporter for people: one line per top-level suite as it ends, then the counts and
// every failure with its file, line, name and message. (The spec reporter prints a line per test:
// some 1,500 lines to scroll back through to find the one that failed.)
import { relative } from 'node:path';
import { inspect } from 'node:util';

const GREEN = '\x1b[32m';
const RED = '\x1b[31m';
const DIM = '\x1b[2m';
const RESET = '\x1b[0m';

export default async function* summary(source) {
  const colour = process.stdout.isTTY && !process.env.NO_COLOR;
  const paint = (code, text) => (colour ? `${code}${text}${RESET}` : text);
  const started = performance.now();
  const counts = { pass: 0, fail: 0, skip: 0, todo: 0 };
  let skippedSuites = 0;
  /** Per file: the names of the suites a test is in (by nesting), and its last lines of stderr. */
  const names = new Map();
  const stderr = new Map();
  /** Per file and top-level suite: how its tests went. */
  const suites = new Map();
  const failures = [];

  for await (const { type, data } of source) {
    const file = data.file ? relative(process.cwd(), data.file) : '(no file)';
    if (type === 'test:start') {
      const stack = names.get(file) ?? [];
      stack.length = data.nesting;
      stack.push(data.name);
      names.set(file, stack);
    } else if (type === 'test:stderr') {
      const lines = stderr.get(file) ?? [];
      lines.push(...String(data.message).split('\n').filter((l) => l.trim() && !l.includes('node:internal')));
      stderr.set(file, lines.slice(-20));
    } else if (type === 'test:pass' || type === 'test:fail') {
      const path = [...(names.get(file) ?? []).slice(0, data.nesting), data.name];
      const key = `${file}\0${path[0]}`;
      const suite = suites.get(key) ?? { file, name: path[0], tests: 0, failed: 0 };
      suites.set(key, suite);
      if (data.details?.type !== 'suite') {
        const outcome = data.skip !== undefined ? 'skip' : data.todo !== undefined ? 'todo' : type === 'test:pass' ? 'pass' : 'fail';
        counts[outcome]++;
        suite.tests++;
        if (outcome === 'fail') {
          suite.failed++;
          failures.push({ file, line: data.line, column: data.column, path, error: data.details?.error });
        }
      } else if (data.skip !== undefined) {
        // A skipped suite (the PostgreSQL ones without LINKQR_TEST_POSTGRES_URL): its tests are
        // never reported: the summary counts it apart.
        skippedSuites++;
      } else if (type === 'test:fail' && (suite.tests === 0 || data.details?.error?.failureType !== 'subtestsFailed')) {
        // A suite (or a whole file) that failed by itself: a hook, an import. Its tests, if any
        // were reported, were cancelled, and their failures do not say why.
        failures.push({ file, line: data.line, column: data.column, path, error: data.details?.error });
        if (suite.tests === 0) counts.fail++;
      }
      if (data.nesting === 0) {
        const seconds = ((data.details?.duration_ms ?? 0) / 1000).toFixed(1);
        const mark = suite.failed > 0 || type === 'test:fail' ? paint(RED, '✖') : paint(GREEN, '✔');
        if (data.skip !== undefined && suite.tests === 0) {
          yield `${paint(DIM, '-')} ${file} ${paint(DIM, '›')} ${data.name} ${paint(DIM, `(skipped${typeof data.skip === 'string' ? `: ${data.skip}` : ''})`)}\n`;
        } else {
          yield `${mark} ${file} ${paint(DIM, '›')} ${data.name} ${paint(DIM, `(${suite.tests} test${suite.tests === 1 ? '' : 's'}, ${seconds} s)`)}\n`;
        }
      }
    }
  }

  const seconds = (performance.now() - started) / 1000;
  const time = seconds >= 60 ? `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s` : `${seconds.toFixed(1)} s`;
  const total = counts.pass + counts.fail + counts.skip + counts.todo;
  yield '\n';
  if (failures.length > 0) {
    yield paint(RED, `${failures.length} failure${failures.length === 1 ? '' : 's'}:\n`);
    for (const [i, f] of failures.entries()) {
      const where = f.line ? `${f.file}:${f.line}:${f.column}` : f.file;
      yield `\n${i + 1}) ${where}\n   ${f.path.join(' › ')}\n${indent(describe(f.error), '   ')}\n`;
      const lines = stderr.get(f.file);
      if (lines?.some((l) => l.trim())) yield `   stderr of ${f.file} (last lines):\n${indent(lines.join('\n').trimEnd(), '     ')}\n`;
    }
    yield '\n';
  }
  const parts = [`${counts.pass} passed`, `${counts.fail} failed`];
  if (counts.skip) parts.push(`${counts.skip} skipped`);
  if (counts.todo) parts.push(`${counts.todo} todo`);
  if (skippedSuites) parts.push(`${skippedSuites} suite${skippedSuites === 1 ? '' : 's'} skipped`);
  yield `${paint(counts.fail > 0 ? RED : GREEN, `${total} test${total === 1 ? '' : 's'}: ${parts.join(', ')}`)} in ${time}\n`;
}

/** The message a person needs: the assertion's own message and diff, or the error and its first frames. */
function describe(error) {
  const cause = error?.cause ?? error;
  if (!cause) return 'failed (no error given)';
  if (typeof cause !== 'object') return String(cause);
  const text = cause.code === 'ERR_ASSERTION' || !cause.stack ? (cause.message ?? inspect(cause)) : cause.stack;
  const lines = String(text).split('\n');
  const frames = lines.filter((l) => /^\s+at /.test(l) && !l.includes('node:internal') && !l.includes('node_modules'));
  const head = lines.filter((l) => !/^\s+at /.test(l)).slice(0, 40);
  return [...head, ...frames.slice(0, 4)].join('\n');
}

const indent = (text, pad) =>
  String(text)
    .split('\n')
    .map((l) => pad + l)
    .join('\n');
