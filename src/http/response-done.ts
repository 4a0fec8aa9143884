import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';

/**
 * Runs `fn` once the exchange is over: the response was handed to the OS (`finished`), or the
 * connection closed before it was (`finished` false: the client went away mid-body or
 * mid-response). `close` fires in both cases, `finish` only in the first.
 *
 * Why a helper: a listener on a response or socket runs from Node's own event loop, where an
 * exception is uncaught and ends the process. Every such listener in the server goes through
 * here, so a bug in one is a logged error, never an outage (src/http/response-done.test.ts
 * checks that no other code adds listeners to requests, responses or sockets).
 */
export function onResponseDone(res: ServerResponse, log: Logger, fn: (finished: boolean) => void): void {
  res.once('close', () => {
    try {
      fn(res.writableFinished);
    } catch (err) {
      log.error({ err }, 'a handler run after the response failed');
    }
  });
}

/** The status a log records: what was sent, or 499 (nginx's "client closed request") when nothing was. */
export function loggedStatus(res: ServerResponse, finished: boolean): number {
  return finished || res.headersSent ? res.statusCode : 499;
}
