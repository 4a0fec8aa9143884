import { z } from 'zod';

/** `?limit=` of every list: 1–100, default 50 (SPEC §4). */
export const limitParam = z
  .string()
  .regex(/^\d+$/, 'must be an integer from 1 to 100')
  .transform(Number)
  .refine((n) => n >= 1 && n <= 100, 'must be an integer from 1 to 100')
  .default(50)
  .meta({ description: 'Items per page, 1–100 (default 50)' });

/** `?after=`: the nextCursor of the previous page, an id of the listed kind. */
export const cursorParam = (idPattern: RegExp) =>
  z.string().regex(idPattern, 'must be a nextCursor value from a previous page').meta({ description: 'The nextCursor of the previous page' });
