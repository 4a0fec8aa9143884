import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedWebhook {
  /** The request path: several endpoints can share one receiver. */
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

/**
 * A real webhook receiver on 127.0.0.1. `respond` decides each answer (default 200); every
 * request is kept in `received`.
 */
/**
 * What the receiver does with a request: an answer; `hang` (never answer); `destroy` (drop the
 * connection); `stall` (send the status line and part of the body, then never finish).
 */
export type ReceiverAnswer = { status: number; headers?: Record<string, string>; body?: string } | 'hang' | 'destroy' | { stall: number };

export async function startReceiver(respond: (req: ReceivedWebhook, n: number) => ReceiverAnswer = () => ({ status: 200 })) {
  const received: ReceivedWebhook[] = [];
  const waiters: { ready(): boolean; resolve(): void }[] = [];
  const typeOf = (hook: ReceivedWebhook): string | undefined => {
    try {
      return (JSON.parse(hook.body) as { type?: string }).type;
    } catch {
      return undefined;
    }
  };
  const waitUntil = (ready: () => boolean, timeoutMs: number, what: () => string): Promise<void> => {
    if (ready()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(what())), timeoutMs);
      waiters.push({ ready, resolve: () => (clearTimeout(timer), resolve()) });
    });
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const hook = { path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
      received.push(hook);
      for (const w of waiters.filter((w) => w.ready())) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
      const answer = respond(hook, received.length);
      if (answer === 'hang') return;
      if (answer === 'destroy') return void req.socket.destroy();
      if ('stall' in answer) {
        res.writeHead(answer.stall, { 'content-length': '100' });
        return void res.write('partial');
      }
      res.writeHead(answer.status, answer.headers).end(answer.body ?? '');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    /** Resolves once `n` requests have arrived, retries and duplicates included (or rejects after timeoutMs). */
    waitFor(n: number, timeoutMs = 20_000): Promise<void> {
      return waitUntil(() => received.length >= n, timeoutMs, () => `only ${received.length} of ${n} webhooks arrived`);
    },
    /**
     * The first request of each event (webhook-id), in the order they arrived: what a receiver
     * keeps, since delivery is at-least-once (a request cut off on a stale keep-alive connection is
     * sent again) and the order of events is not promised.
     */
    events(): ReceivedWebhook[] {
      const seen = new Set<unknown>();
      return received.filter((hook) => !seen.has(hook.headers['webhook-id']) && seen.add(hook.headers['webhook-id']));
    },
    /** Resolves with the first request carrying an event of `type`. */
    async waitForEvent(type: string, timeoutMs = 20_000): Promise<ReceivedWebhook> {
      const find = () => received.find((hook) => typeOf(hook) === type);
      await waitUntil(() => find() !== undefined, timeoutMs, () => `no ${type} webhook arrived (${received.map(typeOf).join(', ') || 'none at all'})`);
      return find()!;
    },
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
