import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parseJsonInPieces } from './json-pieces.js';
import { runSteps } from './steps.js';

const fixtures = readdirSync(join(__dirname, 'fixtures'))
  .filter((name) => name.endsWith('.json'))
  .map((name) => [name, readFileSync(join(__dirname, 'fixtures', name), 'utf8')] as const);

const CRAFTED: [string, string][] = [
  [
    'every kind of value, escapes, white space',
    ' \t\r\n{"a": [1, -0, 1e400, 0.1, -2.5E-3, "x\\"y\\\\", "\\u00e9\\ud83c\\udf89", true, false, null, [], {}, [[[]]]],\n "b" : {"c": {"d": "}]"}} } ',
  ],
  ['a key twice: the last value, at the place of the first', '{"k": 1, "other": 2, "k": {"again": true}}'],
  ['"__proto__" is a key like any other', '{"__proto__": {"polluted": true}, "list": [{"__proto__": []}]}'],
  ['keys that are numbers come first, as in any object', '{"b": 1, "10": 2, "a": 3, "2": 4, "": 5, " k ": 6}'],
  ['a bare value', '"just a string"'],
  ['nested deeper than it is entered', `{"deep": ${'['.repeat(200)}{"a": 1}${']'.repeat(200)}, "after": [1, 2]}`],
  ['an array of objects, pretty-printed', JSON.stringify({ data: Array.from({ length: 20 }, (_, i) => ({ i, title: `Link ${i} "quoted"`, tags: ['x', 'y'] })) }, null, 2)],
];

const BROKEN = [
  '{"a": 1,}',
  '[1,]',
  '{"a" 1}',
  '{"a": 1 "b": 2}',
  '[1 2]',
  '{a: 1}',
  '[01]',
  '["\\x"]',
  '["a\nb"]',
  '[1]x',
  '[',
  '{"a":',
  '"abc',
  '[tru]',
  '{"a": 1}}',
  '[1]]',
  '[\u00a01]',
  '{"a": [1, 2}',
  "{'a': 1}",
  '[1, 2, 3',
  `{"deep": ${'['.repeat(50)}1${']'.repeat(49)}}`,
];

const SIZES = [1, 2, 3, 7, 16, 64, 1 << 16];
const inPieces = (text: string, size: number) => runSteps(parseJsonInPieces(text, size));

describe('reading JSON a value at a time', () => {
  test('every piece size gives what JSON.parse gives, properties in the same order', () => {
    for (const [name, text] of [...fixtures, ...CRAFTED]) {
      const expected: unknown = JSON.parse(text);
      for (const size of SIZES) {
        const value = inPieces(text, size);
        assert.deepStrictEqual(value, expected, `${name}, pieces of ${size}`);
        assert.equal(JSON.stringify(value), JSON.stringify(expected), `${name}, pieces of ${size}: order`);
      }
    }
    const value = inPieces(CRAFTED[2]![1], 1) as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(value), Object.prototype);
    assert.deepEqual(Object.keys(value), ['__proto__', 'list']);
  });

  test('a hundred thousand nested arrays are read as JSON.parse reads them, not entered one by one', () => {
    const text = `{"x": ${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    const value = inPieces(text, 1 << 16) as { x: unknown[][] };
    assert.ok(Array.isArray(value.x[0]));
  });

  test('what JSON.parse refuses is refused, saying where', () => {
    for (const text of BROKEN) {
      assert.throws(() => JSON.parse(text), SyntaxError, text);
      for (const size of SIZES) assert.throws(() => inPieces(text, size), SyntaxError, `${JSON.stringify(text)}, pieces of ${size}`);
    }
    assert.throws(() => inPieces('{"data": [1, 2, x]}', 1), /position 16 \(line 1 column 17\)/);
    assert.throws(() => inPieces('[\n  {"a": 1},\n  {"a": 1 "b": 2}\n]', 1), /Expected ',' or '}' after property value in JSON at position 24 \(line 3 column 11\)/);
    assert.throws(() => inPieces('[\n  {"a": 1},\n  {"a": "\\x"}\n]', 1), /Bad escaped character in JSON at position 24 \(line 3 column 11\)/);
  });
});
