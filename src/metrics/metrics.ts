import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { RedirectOutcome } from '../http/redirect.js';
import { LatencyHistogram } from './latency-histogram.js';

/**
 * Prometheus metrics of one server instance (its own registry, not prom-client's global one,
 * so tests can run several servers in one process).
 */
/** The methods the server answers; any other (Node parses some 30) is counted as `other`, not as a series of its own. */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export function createMetrics(sources: {
  clickBufferDepth(): number;
  pendingDeliveries(): Promise<number>;
  /** Click batches whose rollups wait to be applied (src/clicks/rollup-applier.ts), and how old the oldest is. */
  pendingRollups(): Promise<{ batches: number; lagSeconds: number }>;
  storageAvailable(): boolean;
  /** The redirect cache's counts so far (src/links/redirect-cache.ts): read when scraped, nothing added to the redirect path. */
  redirectCache(): { hits: number; misses: number; size: number; max: number };
}) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'linkqr_' });

  // Counted on the redirect path as plain numbers since the last scrape, which adds them.
  const redirectCounts = new Map<RedirectOutcome, number>();
  new Counter({
    name: 'linkqr_redirects_total',
    help: 'Requests to short links, by outcome.',
    labelNames: ['outcome'] as const,
    registers: [registry],
    collect() {
      for (const [outcome, n] of redirectCounts) if (n > 0) this.inc({ outcome }, n);
      redirectCounts.clear();
    },
  });
  const requestDuration = new LatencyHistogram(
    'linkqr_http_request_duration_seconds',
    'HTTP request latency, by route pattern, method and status class.',
    ['route', 'method', 'status'],
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registry,
  );
  new Gauge({
    name: 'linkqr_click_buffer_depth',
    help: 'Clicks waiting in memory to be written.',
    registers: [registry],
    collect() {
      this.set(sources.clickBufferDepth());
    },
  });
  // Counted by the cache as plain numbers; a scrape adds what came since the last one.
  let counted = { hits: 0, misses: 0 };
  new Counter({
    name: 'linkqr_redirect_cache_requests_total',
    help: 'Redirect lookups, by whether the cache had the link (hit) or the database was read (miss; unknown slugs too). Hit rate: hit / (hit + miss).',
    labelNames: ['result'] as const,
    registers: [registry],
    collect() {
      const { hits, misses } = sources.redirectCache();
      this.inc({ result: 'hit' }, hits - counted.hits);
      this.inc({ result: 'miss' }, misses - counted.misses);
      counted = { hits, misses };
    },
  });
  new Gauge({
    name: 'linkqr_redirect_cache_entries',
    help: 'Links held in the redirect cache (bounded by linkqr_redirect_cache_max_entries; the least recently used go first).',
    registers: [registry],
    collect() {
      this.set(sources.redirectCache().size);
    },
  });
  new Gauge({
    name: 'linkqr_redirect_cache_max_entries',
    help: 'The most links the redirect cache holds.',
    registers: [registry],
    collect() {
      this.set(sources.redirectCache().max);
    },
  });
  new Gauge({
    name: 'linkqr_storage_available',
    help: '1 while the database can be written, 0 while writes fail for a disk reason (full, read-only, I/O errors).',
    registers: [registry],
    collect() {
      this.set(sources.storageAvailable() ? 1 : 0);
    },
  });
  const clickFlushDuration = new Histogram({
    name: 'linkqr_click_flush_duration_seconds',
    help: 'Time to write one batch of clicks.',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  const clicksWritten = new Counter({
    name: 'linkqr_clicks_written_total',
    help: 'Clicks written to the database.',
    registers: [registry],
  });

  // Read from the database at each scrape. While it cannot be read (PostgreSQL down), the scrape
  // still answers, these keep their last value, and linkqr_storage_available says why: one failed
  // read failed the whole scrape (503), and every other series with it.
  const fromDatabase = async (set: (n: number) => void, read: () => Promise<number>) => {
    try {
      set(await read());
    } catch {
      // The last value stays.
    }
  };
  new Gauge({
    name: 'linkqr_outbox_pending_deliveries',
    help: 'Webhook deliveries waiting for an attempt (due now or retrying later).',
    registers: [registry],
    async collect() {
      await fromDatabase((n) => this.set(n), sources.pendingDeliveries);
    },
  });
  new Gauge({
    name: 'linkqr_click_rollups_pending_batches',
    help: 'Click batches whose rollups (what stats read) are not applied yet.',
    registers: [registry],
    async collect() {
      await fromDatabase((n) => this.set(n), async () => (await sources.pendingRollups()).batches);
    },
  });
  new Gauge({
    name: 'linkqr_click_rollups_lag_seconds',
    help: 'How far behind the clicks stats are: the age of the oldest pending batch, 0 when none.',
    registers: [registry],
    async collect() {
      await fromDatabase((n) => this.set(n), async () => (await sources.pendingRollups()).lagSeconds);
    },
  });
  const webhookAttempts = new Counter({
    name: 'linkqr_webhook_attempts_total',
    help: 'Webhook delivery attempts, by outcome (success, failure, gone, throttled).',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const webhookAttemptDuration = new Histogram({
    name: 'linkqr_webhook_attempt_duration_seconds',
    help: 'Time from request start to the end of the response (or the error) of one attempt.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15],
    registers: [registry],
  });

  const apiKeyVerifications = new Counter({
    name: 'linkqr_api_key_verifications_total',
    help: 'argon2 checks of API key secrets (keys not verified in the last 5 minutes), by result; invalid ones are wrong secrets for existing key ids.',
    labelNames: ['result'] as const,
    registers: [registry],
  });

  // Each series found once: the redirect path must not build or hash label sets per request.
  const redirectLatency = new Map<string, (seconds: number) => void>();
  const statusClass = (status: number) => `${Math.floor(status / 100)}xx`;

  return {
    registry,
    redirect(outcome: RedirectOutcome, method: string, status: number, seconds: number) {
      redirectCounts.set(outcome, (redirectCounts.get(outcome) ?? 0) + 1);
      const key = method + status;
      let observe = redirectLatency.get(key);
      if (!observe) redirectLatency.set(key, (observe = requestDuration.observer({ route: '/:slug', method, status: statusClass(status) })));
      observe(seconds);
    },
    request(route: string, method: string, status: number, seconds: number) {
      requestDuration.observe({ route, method: METHODS.has(method) ? method : 'other', status: statusClass(status) }, seconds);
    },
    webhookAttempt(outcome: string, seconds: number) {
      webhookAttempts.inc({ outcome });
      webhookAttemptDuration.observe(seconds);
    },
    apiKeyVerified(valid: boolean) {
      apiKeyVerifications.inc({ result: valid ? 'valid' : 'invalid' });
    },
    clickFlush(count: number, seconds: number) {
      clickFlushDuration.observe(seconds);
      clicksWritten.inc(count);
    },
  };
}
export type Metrics = ReturnType<typeof createMetrics>;
