import { checkRowCount, ImportFormatError } from './import-row.js';
import { parseJsonInPieces } from './json-pieces.js';
import type { Steps } from './steps.js';

export type JsonObject = Record<string, unknown>;

export const isJsonObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Whether a document is JSON rather than CSV: its first character, after any BOM and white space. */
export const looksLikeJson = (text: string) => /^\uFEFF?\s*[[{]/.test(text);

/** Parses a JSON document, a value at a time (json-pieces.ts), saying where it stops being JSON when it does. */
export function* readJson(text: string, what: string): Steps<unknown> {
  const source = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (source.trim() === '') throw new ImportFormatError(`the ${what} is empty`);
  try {
    return yield* parseJsonInPieces(source);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    throw new ImportFormatError(`the ${what} is not valid JSON: ${error.message}`);
  }
}

/**
 * The list of links a tool's JSON holds, found by `pick` (which knows where that tool puts it),
 * checked against the row limit. `expected` says where the list should have been, for the message.
 */
export function jsonItems(document: unknown, pick: (document: unknown) => unknown, what: string, expected: string, maxRows: number): unknown[] {
  const items = pick(document);
  if (!Array.isArray(items)) throw new ImportFormatError(`the ${what} has no list of links: ${expected}`);
  checkRowCount(items.length, maxRows, what);
  return items;
}

/** The value at a path of property names, or undefined where the path stops. */
export function at(value: unknown, ...path: string[]): unknown {
  let current = value;
  for (const key of path) {
    if (!isJsonObject(current)) return undefined;
    current = current[key];
  }
  return current;
}

export const NOT_AN_OBJECT = { field: 'row', message: 'is not a JSON object' } as const;
