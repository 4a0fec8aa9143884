import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Response } from 'express';

/**
 * A CSV download streamed from `lines`: written as the client takes it (pipeline waits for the
 * socket to drain), and stopped, its generator closed, when the client goes away. Whatever the
 * generator must check (scopes, plan, range) it checks before this is called: once the header
 * is sent, a failure can only cut the file short.
 */
export async function sendCsv(res: Response, filename: string, lines: AsyncIterable<string>): Promise<void> {
  res.status(200).set({
    'content-type': 'text/csv; charset=utf-8',
    'content-disposition': `attachment; filename="${filename}"`,
    'cache-control': 'no-store',
  });
  await pipeline(Readable.from(lines), res);
}
