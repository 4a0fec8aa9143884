import * as z from 'zod';
import { integerParam } from './request-schemas.js';

/** `?limit=` of every list: 1–100, default 50 (SPEC §4). */
export const limitParam = integerParam(1, 100, 50).meta({ description: 'Items per page, 1–100 (default 50)' });

/** `?after=`: the nextCursor of the previous page, an id of the listed kind. */
export const cursorParam = (idPattern: RegExp) =>
  z.string().regex(idPattern, 'must be a nextCursor value from a previous page').meta({ description: 'The nextCursor of the previous page' });
