import * as z from 'zod';

/*
 * Zod building blocks for request input whose every rule reaches the JSON Schema of the OpenAPI
 * document. zod's JSON Schema output keeps types, bounds and patterns but drops refinements and
 * transforms, so a rule written as `.refine()` is enforced yet undocumented: these spell such
 * rules in a form the output keeps.
 */

/**
 * A whole number from min to max in a query string (`?limit=20`): documented as an integer, as
 * clients send it. Only plain decimal digits are read as a number; `1e1`, `+5` or ` 5` are refused.
 */
export const integerParam = (min: number, max: number, fallback: number) => {
  const message = `must be an integer from ${min} to ${max}`;
  return z
    .preprocess((v) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v), z.int({ error: message }).min(min, message).max(max, message))
    .default(fallback);
};

/**
 * The body of a PATCH: any subset of the object's fields, but at least one (`{}` would change
 * nothing, which is more likely a client's mistake than its intent).
 */
export const patchOf = <T extends z.ZodObject>(schema: T) =>
  schema
    .partial()
    // `when`: only complain about an empty change when nothing else is wrong (e.g. unknown fields).
    .refine((o) => Object.keys(o).length > 0, { message: 'send at least one field to change', when: (payload) => payload.issues.length === 0 })
    .meta({ minProperties: 1 });

/** A pattern matching `word` in any letter case, for JSON Schema (whose patterns take no `i` flag). */
export const anyCase = (word: string) => word.replace(/[a-z]/gi, (c) => `[${c.toUpperCase()}${c.toLowerCase()}]`);
