import type { Steps } from './steps.js';

/*
 * JSON.parse of a 50 MB export takes 200 ms, all of it one turn of the event loop. Here the
 * document is cut into values JSON.parse reads in well under a millisecond each (a link, with
 * everything in it), with a yield between two: a value longer than PIECE_CHARS is not parsed
 * whole but entered (its members read one by one, the same way), so the big list of links and
 * the object around it are assembled here, the links themselves by JSON.parse. What this code
 * reads itself is only the punctuation between values, so the values, and which documents are
 * refused, are JSON.parse's own; a test compares the two on every fixture and on broken JSON.
 *
 * A single string or number is always parsed whole: no export holds one long enough to matter.
 */

/** A value this long or shorter is given to JSON.parse whole. */
const PIECE_CHARS = 64 * 1024;
/**
 * Containers nested deeper are parsed whole, however long: the exports' lists of links are at
 * most 3 deep, and entering a million nested arrays one by one would cost far more than
 * JSON.parse does (which reads them in 200 ms).
 */
const MAX_DEPTH = 8;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
/** What a number, true, false or null is written with (anything else ends it). */
const isScalarChar = (c: number) =>
  (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x2d || c === 0x2b || c === 0x2e;

/** JSON.parse(text), a value at a time: yields between values. Throws SyntaxError as JSON.parse does. */
export function* parseJsonInPieces(text: string, pieceChars = PIECE_CHARS): Steps<unknown> {
  if (text.length <= pieceChars) return JSON.parse(text);
  const reader = new PieceReader(text, pieceChars);
  const value = yield* reader.value(0);
  reader.skipSpace();
  if (reader.pos < text.length) throw reader.error('Unexpected non-whitespace character after JSON');
  return value;
}

class PieceReader {
  pos = 0;
  constructor(
    private readonly text: string,
    private readonly pieceChars: number,
  ) {}

  *value(depth: number): Steps<unknown> {
    this.skipSpace();
    const start = this.pos;
    const c = this.text.charCodeAt(start);
    if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (depth >= MAX_DEPTH) {
        // Never closed: JSON.parse says so.
        const end = this.containerEnd(start, this.text.length);
        return this.parse(start, end === -1 ? this.text.length : end);
      }
      const end = this.containerEnd(start, start + this.pieceChars);
      if (end !== -1) return this.parse(start, end);
      return c === OPEN_BRACE ? yield* this.object(depth + 1) : yield* this.array(depth + 1);
    }
    if (c === QUOTE) return this.parse(start, this.stringEnd(start));
    let end = start;
    while (end < this.text.length && isScalarChar(this.text.charCodeAt(end))) end++;
    if (end === start) throw this.error(this.pos < this.text.length ? `Unexpected token '${this.text[this.pos]}'` : 'Unexpected end of JSON input');
    return this.parse(start, end);
  }

  private *object(depth: number): Steps<Record<string, unknown>> {
    const object: Record<string, unknown> = {};
    this.pos++;
    this.skipSpace();
    if (this.next(CLOSE_BRACE)) return object;
    for (;;) {
      this.skipSpace();
      if (this.text.charCodeAt(this.pos) !== QUOTE) throw this.error('Expected double-quoted property name');
      const key = this.parse(this.pos, this.stringEnd(this.pos)) as string;
      this.skipSpace();
      if (!this.next(COLON)) throw this.error("Expected ':' after property name");
      const value = yield* this.value(depth);
      // As JSON.parse does: "__proto__" is a property like any other, not the object's prototype.
      if (key === '__proto__') Object.defineProperty(object, key, { value, writable: true, enumerable: true, configurable: true });
      else object[key] = value;
      this.skipSpace();
      if (this.next(CLOSE_BRACE)) return object;
      if (!this.next(COMMA)) throw this.error("Expected ',' or '}' after property value");
      yield;
    }
  }

  private *array(depth: number): Steps<unknown[]> {
    const array: unknown[] = [];
    this.pos++;
    this.skipSpace();
    if (this.next(CLOSE_BRACKET)) return array;
    for (;;) {
      array.push(yield* this.value(depth));
      this.skipSpace();
      if (this.next(CLOSE_BRACKET)) return array;
      if (!this.next(COMMA)) throw this.error("Expected ',' or ']' after array element");
      yield;
    }
  }

  skipSpace() {
    while (isSpace(this.text.charCodeAt(this.pos))) this.pos++;
  }

  private next(c: number): boolean {
    if (this.text.charCodeAt(this.pos) !== c) return false;
    this.pos++;
    return true;
  }

  /** JSON.parse of text[start, end), which becomes the position; its errors located in the whole text. */
  private parse(start: number, end: number): unknown {
    try {
      const value: unknown = JSON.parse(this.text.slice(start, end));
      this.pos = end;
      return value;
    } catch (error) {
      if (!(error instanceof SyntaxError)) throw error;
      // V8 says where in the piece it stopped, or quotes the piece: the position is made the document's.
      const located = error.message.replace(/ at position (\d+)(?: \(line \d+ column \d+\))?/, (_, at: string) => ` at ${this.where(start + Number(at))}`);
      throw new SyntaxError(located === error.message ? `${error.message} (in the value at ${this.where(start)})` : located);
    }
  }

  /**
   * Where the array or object opening at `start` ends (after its bracket), if it does before
   * `limit`; else -1. Only counts brackets outside strings: whether it is JSON is JSON.parse's to say.
   */
  private containerEnd(start: number, limit: number): number {
    const stop = Math.min(limit, this.text.length);
    let depth = 0;
    for (let i = start; i < stop; i++) {
      const c = this.text.charCodeAt(i);
      if (c === QUOTE) {
        i = this.closingQuote(i);
        if (i === -1) return -1;
      } else if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++;
      else if ((c === CLOSE_BRACE || c === CLOSE_BRACKET) && --depth === 0) return i + 1;
    }
    return -1;
  }

  /** After the string opening at `start`. */
  private stringEnd(start: number): number {
    const close = this.closingQuote(start);
    if (close === -1) {
      this.pos = start;
      throw this.error('Unterminated string in JSON');
    }
    return close + 1;
  }

  /** The quote that closes the string opened at `open` (one not escaped by a backslash), or -1. */
  private closingQuote(open: number): number {
    for (let i = this.text.indexOf('"', open + 1); i !== -1; i = this.text.indexOf('"', i + 1)) {
      let backslashes = 0;
      while (this.text.charCodeAt(i - 1 - backslashes) === BACKSLASH) backslashes++;
      if (backslashes % 2 === 0) return i;
    }
    return -1;
  }

  error(message: string): SyntaxError {
    return new SyntaxError(message === 'Unexpected end of JSON input' ? message : `${message} in JSON at ${this.where(this.pos)}`);
  }

  /** As V8 says it: `position 12 (line 1 column 13)`. */
  private where(at: number): string {
    let line = 1;
    let lineStart = 0;
    for (let i = this.text.indexOf('\n'); i !== -1 && i < at; i = this.text.indexOf('\n', i + 1)) {
      line++;
      lineStart = i + 1;
    }
    return `position ${at} (line ${line} column ${at - lineStart + 1})`;
  }
}
