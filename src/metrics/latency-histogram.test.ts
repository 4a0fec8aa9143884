import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Histogram, Registry } from 'prom-client';
import { LatencyHistogram } from './latency-histogram.js';

test("LatencyHistogram renders exactly what prom-client's Histogram renders for the same observations, text and JSON", async () => {
  const buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
  const ours = new Registry();
  const theirs = new Registry();
  const fast = new LatencyHistogram('x_duration_seconds', 'Latency.', ['route', 'method', 'status'], buckets, ours);
  const reference = new Histogram({ name: 'x_duration_seconds', help: 'Latency.', labelNames: ['route', 'method', 'status'], buckets, registers: [theirs] });
  const series = [
    { route: '/:slug', method: 'GET', status: '3xx' },
    { route: '/:slug', method: 'HEAD', status: '4xx' },
    { route: '/api/v1/links', method: 'POST', status: '2xx' },
  ];
  const hot = fast.observer(series[0]!);
  // Values on bucket bounds (le is "less than or equal"), between them, and beyond the last.
  const samples = [0, 0.0005, 0.0007, 0.001, 0.003, 0.05, 0.07, 2.5, 3, 10, 0.25, 0.0001];
  samples.forEach((v, i) => {
    const labels = series[i % series.length]!;
    if (i % series.length === 0) hot(v);
    else fast.observe(labels, v);
    reference.observe(labels, v);
  });
  assert.equal(await ours.metrics(), await theirs.metrics());
  // JSON: the same metric and values (prom-client adds an empty exemplar to each of its own).
  const plain = async (r: Registry) =>
    (await r.getMetricsAsJSON()).map((m) => ({
      ...m,
      values: m.values.map((v) => ({ labels: v.labels, value: v.value, metricName: (v as { metricName?: string }).metricName })),
    }));
  assert.deepEqual(await plain(ours), await plain(theirs));
});

test('LatencyHistogram leaves out what is not a duration, and is reset with the registry', async () => {
  const registry = new Registry();
  const h = new LatencyHistogram('y_seconds', 'Latency.', ['route'], [0.1, 1], registry);
  const observe = h.observer({ route: '/' });
  for (const v of [Number.NaN, -0.5, Number.POSITIVE_INFINITY, 0.05, 2]) observe(v);
  const text = await registry.metrics();
  assert.match(text, /y_seconds_sum\{route="\/"\} 2\.05\n/);
  assert.match(text, /y_seconds_count\{route="\/"\} 2\n/);
  registry.resetMetrics();
  assert.match(await registry.metrics(), /y_seconds_count\{route="\/"\} 0\n/);
});
