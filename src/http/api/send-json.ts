import type { Response } from 'express';

/**
 * Writes a JSON response directly: Express's res.json goes through res.send's content
 * negotiation and freshness checks, which an API response never needs.
 */
export function sendJson(res: Response, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}
