import diagnosticsChannel from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage } from 'node:http';

/**
 * Counts the responses that HTTP clients in this process (the webhook sender of an in-process
 * test server) have received from a port: the status line and headers read. A test about an
 * answer that stalls after its status line waits for this before moving the sender's timers,
 * or the timeout would land before the status line and test something else.
 */
export function clientResponsesFrom(port: number): { readonly count: number; readonly bodyBytes: number; stop(): void } {
  let count = 0;
  let bodyBytes = 0;
  const onResponse = (message: unknown) => {
    const { request, response } = message as { request: ClientRequest; response: IncomingMessage };
    if (request.socket?.remotePort !== port) return;
    count++;
    // Beside the client's own listener: both see each chunk in the same turn.
    response.on('data', (chunk: Buffer) => (bodyBytes += chunk.length));
  };
  diagnosticsChannel.subscribe('http.client.response.finish', onResponse);
  return {
    get count() {
      return count;
    },
    /** Body bytes the client has read from those responses. */
    get bodyBytes() {
      return bodyBytes;
    },
    stop: () => diagnosticsChannel.unsubscribe('http.client.response.finish', onResponse),
  };
}
