import type { NextFunction, Request, Response } from 'express';
import * as z from 'zod';
import { errors, type FieldError } from '../../lib/errors.js';

/** Parses request input at the edge; the domain only ever sees the typed result. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, what: 'body' | 'query'): z.output<S> {
  if (what === 'body' && (typeof input !== 'object' || input === null || Array.isArray(input))) {
    throw errors.validation([{ field: 'body', message: 'must be a JSON object' }], 'The request body must be a JSON object.');
  }
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  // One entry per field, its messages joined in the order zod found them: a client shows
  // `errors` beside its fields with a plain map (field → message) and loses none of them.
  const byField = new Map<string, string[]>();
  const add = (field: string, message: string) => {
    const messages = byField.get(field) ?? [];
    if (!messages.includes(message)) messages.push(message);
    byField.set(field, messages);
  };
  for (const issue of result.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) add(key, what === 'body' ? 'is not a known field' : 'is not a known query parameter');
    } else {
      add(issue.path.join('.') || what, issue.message);
    }
  }
  const fieldErrors: FieldError[] = [...byField].map(([field, messages]) => ({ field, message: messages.join('; ') }));
  throw errors.validation(fieldErrors, `The request ${what} has invalid fields: ${[...byField.keys()].join(', ')}.`);
}

const NO_QUERY = z.strictObject({});

/** Routes without query parameters refuse any, as the others refuse unknown ones (a typo never passes silently). */
export function noQuery(req: Request, _res: Response, next: NextFunction) {
  parseInput(NO_QUERY, req.query, 'query');
  next();
}
