import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { CHART_SIZES, niceTicks, renderClickChart, renderResponsiveClickChart, type ChartBucket } from './click-chart.js';

const HOUR = 3_600_000;
const DAY = 86_400_000;
// Wider than the renderer's own estimate, so a pass here means room to spare in a real font.
const TEST_CHAR_WIDTH = 12 * 0.62;

interface SvgNode {
  name: string;
  attrs: Record<string, string>;
  children: SvgNode[];
  text: string;
}

type RawNode = Record<string, unknown> & { ':@'?: Record<string, string> };

/** Validates the markup as XML and returns it as a plain tree. */
function parseSvg(svg: string): SvgNode {
  assert.equal(XMLValidator.validate(svg), true, 'the chart is well-formed XML');
  const parser = new XMLParser({
    preserveOrder: true,
    ignoreAttributes: false,
    attributeNamePrefix: '',
    parseAttributeValue: false,
    parseTagValue: false,
    trimValues: false,
  });
  const toNode = (raw: RawNode): SvgNode => {
    const name = Object.keys(raw).find((k) => k !== ':@')!;
    const kids = (raw[name] as RawNode[]).filter((k) => !('#text' in k)).map(toNode);
    const text = (raw[name] as RawNode[]).map((k) => ('#text' in k ? String(k['#text']) : '')).join('');
    return { name, attrs: raw[':@'] ?? {}, children: kids, text };
  };
  const roots = (parser.parse(svg) as RawNode[]).filter((r) => !('#text' in r));
  assert.equal(roots.length, 1);
  return toNode(roots[0]!);
}

function findAll(node: SvgNode, match: (n: SvgNode) => boolean): SvgNode[] {
  return [...(match(node) ? [node] : []), ...node.children.flatMap((c) => findAll(c, match))];
}

const hasClass = (cls: string) => (n: SvgNode) => (n.attrs.class ?? '').split(' ').includes(cls);

/** The single group carrying a class, e.g. the human bars. */
function group(root: SvgNode, cls: string): SvgNode {
  const found = findAll(root, (n) => n.name === 'g' && hasClass(cls)(n));
  assert.equal(found.length, 1, `one <g class="${cls}">`);
  return found[0]!;
}

interface Box {
  left: number;
  right: number;
  top: number;
  bottom: number;
}

/** Bounding box of the absolute M/H/V/Q/Z paths the chart draws bars with. */
function pathBox(d: string): Box {
  const xs: number[] = [];
  const ys: number[] = [];
  for (const [, command, args] of d.matchAll(/([MHVQZ])([^MHVQZ]*)/g)) {
    const n = args!.trim().split(/[\s,]+/).filter(Boolean).map(Number);
    if (command === 'H') xs.push(...n);
    else if (command === 'V') ys.push(...n);
    else n.forEach((v, i) => (i % 2 === 0 ? xs : ys).push(v));
  }
  return { left: Math.min(...xs), right: Math.max(...xs), top: Math.min(...ys), bottom: Math.max(...ys) };
}

/** Pixel scale read from the drawn axis: where the 0 and the top tick's gridlines sit and what the top tick says. */
function yAxis(root: SvgNode): { baseline: number; unitsPerClick: number; labels: string[] } {
  const labels = findAll(group(root, 'click-chart__y-axis'), (n) => n.name === 'text');
  const lines = findAll(group(root, 'click-chart__grid'), (n) => n.name === 'line').map((l) => Number(l.attrs.y1));
  const baseline = Math.max(...lines);
  const top = Math.min(...lines);
  const topValue = Number(labels.at(-1)!.text);
  return { baseline, unitsPerClick: (baseline - top) / topValue, labels: labels.map((l) => l.text) };
}

/** Bars keyed by the bucket whose hover column holds their centre. */
function barsByBucket(root: SvgNode, cls: string): Map<number, Box> {
  const columns = findAll(group(root, 'click-chart__hits'), (n) => n.name === 'rect').map((r) => ({
    left: Number(r.attrs.x),
    right: Number(r.attrs.x) + Number(r.attrs.width),
  }));
  const bars = new Map<number, Box>();
  for (const path of findAll(group(root, cls), (n) => n.name === 'path')) {
    const box = pathBox(path.attrs.d!);
    const centre = (box.left + box.right) / 2;
    const index = columns.findIndex((c) => centre >= c.left && centre <= c.right);
    assert.ok(index >= 0 && !bars.has(index), `bar at x=${centre} sits in its own column`);
    bars.set(index, box);
  }
  return bars;
}

function xLabels(root: SvgNode): { x: number; text: string }[] {
  const axis = group(root, 'click-chart__x-axis');
  assert.equal(axis.attrs['text-anchor'], 'middle');
  return findAll(axis, (n) => n.name === 'text').map((t) => ({ x: Number(t.attrs.x), text: t.text }));
}

function viewBoxWidth(root: SvgNode): number {
  return Number(root.attrs.viewBox!.split(' ')[2]);
}

/** A deterministic, bumpy series: every value differs, so a mix-up between buckets shows. */
function series(count: number, step: number, start = '2026-11-03T00:00:00Z', peak = 500): ChartBucket[] {
  const t0 = Date.parse(start);
  return Array.from({ length: count }, (_, i) => {
    const total = Math.round(peak * (0.3 + 0.7 * Math.abs(Math.sin(i * 0.7 + 1))));
    const human = Math.round(total * (0.6 + 0.3 * Math.abs(Math.cos(i))));
    return { t: new Date(t0 + i * step).toISOString(), total, human, qr: Math.round(human * 0.2) };
  });
}

describe('niceTicks', () => {
  const cases: [max: number, ticks: number[]][] = [
    [0, [0, 1]],
    [0.4, [0, 1]],
    [1, [0, 1]],
    [2, [0, 1, 2]],
    [3, [0, 1, 2, 3]],
    [4, [0, 1, 2, 3, 4]],
    [5, [0, 2, 4, 6]],
    [9, [0, 5, 10]],
    [17, [0, 5, 10, 15, 20]],
    [41, [0, 20, 40, 60]],
    [99, [0, 25, 50, 75, 100]],
    [101, [0, 50, 100, 150]],
    [1_234, [0, 500, 1_000, 1_500]],
    [2_400_000, [0, 1_000_000, 2_000_000, 3_000_000]],
  ];
  for (const [max, expected] of cases) {
    test(`max ${max} → ${expected.join(', ')}`, () => assert.deepEqual(niceTicks(max), expected));
  }

  test('a bad maximum gets the 0–1 scale instead of NaN ticks', () => {
    for (const max of [-5, Number.NaN, Number.POSITIVE_INFINITY]) assert.deepEqual(niceTicks(max), [0, 1]);
  });

  test('count caps the number of ticks', () => {
    assert.deepEqual(niceTicks(100, 3), [0, 50, 100]);
    assert.deepEqual(niceTicks(7, 2), [0, 10]);
  });

  test('for any maximum: 3 to 5 evenly spaced round ticks from 0 that cover it without a wasted step', () => {
    const round = (step: number) => {
      const magnitude = 10 ** Math.floor(Math.log10(step));
      return [1, 2, 2.5, 5].includes(step / magnitude) && Number.isInteger(step);
    };
    for (let max = 2; max < 1e10; max = Math.ceil(max * 1.37)) {
      const ticks = niceTicks(max);
      const step = ticks[1]!;
      assert.ok(ticks.length >= 3 && ticks.length <= 5, `${ticks.length} ticks for ${max}`);
      assert.equal(ticks[0], 0);
      assert.ok(round(step), `step ${step} for ${max}`);
      ticks.forEach((t, i) => assert.equal(t, i * step));
      assert.ok(ticks.at(-1)! >= max && ticks.at(-2)! < max, `${ticks.join(',')} covers ${max} tightly`);
    }
  });
});

describe('renderClickChart', () => {
  test('is an inline, accessible SVG that scales to its container and carries no inline styles or scripts', () => {
    const svg = renderClickChart(series(30, DAY), { interval: 'day', title: 'Spring sale' });
    const root = parseSvg(svg);
    assert.ok(svg.startsWith('<svg '), 'no XML prolog');
    assert.equal(root.name, 'svg');
    assert.equal(root.attrs.role, 'img');
    assert.match(root.attrs.viewBox!, /^0 0 \d+ \d+$/);
    assert.equal(root.attrs.width, undefined);
    assert.ok(root.attrs.preserveAspectRatio);
    const [titleId, descId] = root.attrs['aria-labelledby']!.split(' ');
    const byId = (id: string | undefined) => findAll(root, (n) => n.attrs.id === id);
    assert.deepEqual(byId(titleId).map((n) => [n.name, n.text]), [['title', 'Spring sale']]);
    assert.deepEqual(byId(descId).map((n) => n.name), ['desc']);
    assert.doesNotMatch(svg, /\sstyle=/);
    assert.doesNotMatch(svg, /<script|\son[a-z]+=/i);
    const legend = findAll(group(root, 'click-chart__legend'), (n) => n.name === 'text').map((n) => n.text);
    assert.deepEqual(legend, ['Human', 'Bots', 'QR scans']);
  });

  test('every class the stylesheet colours has a presentation-attribute fallback', () => {
    const root = parseSvg(renderClickChart(series(10, DAY), { interval: 'day', title: 'x' }));
    const painted = (cls: string, attr: 'fill' | 'stroke') =>
      findAll(root, hasClass(cls)).every((n) => n.attrs[attr]?.startsWith('#'));
    assert.ok(painted('click-chart__human', 'fill'));
    assert.ok(painted('click-chart__bot', 'fill'));
    assert.ok(painted('click-chart__qr', 'stroke'));
    assert.ok(painted('click-chart__grid', 'stroke'));
    assert.ok(painted('click-chart__label', 'fill'));
  });

  test('bar heights are proportional to the clicks, and bots stack on the human part up to the total', () => {
    const data = series(30, DAY);
    const root = parseSvg(renderClickChart(data, { interval: 'day', title: 'x' }));
    const { baseline, unitsPerClick } = yAxis(root);
    const human = barsByBucket(root, 'click-chart__human');
    const bots = barsByBucket(root, 'click-chart__bot');
    const close = (actual: number, expected: number, what: string) =>
      assert.ok(Math.abs(actual - expected) <= 0.02, `${what}: ${actual} ≠ ${expected}`);
    data.forEach((b, i) => {
      const h = human.get(i)!;
      const bot = bots.get(i)!;
      close(h.bottom, baseline, `human bar ${i} stands on the axis`);
      close(h.bottom - h.top, b.human * unitsPerClick, `human bar ${i}`);
      close(bot.bottom, h.top, `bots bar ${i} sits on the human bar`);
      close(bot.bottom - bot.top, (b.total - b.human) * unitsPerClick, `bots bar ${i}`);
      close(h.bottom - bot.top, b.total * unitsPerClick, `stack ${i}`);
      assert.ok(Math.abs(h.right - h.left - (bot.right - bot.left)) < 0.02, 'both parts of a stack are equally wide');
    });
  });

  test('a bucket without bots or without humans draws only the part it has', () => {
    const data = [
      { t: '2026-11-03T00:00:00Z', total: 10, human: 10, qr: 0 },
      { t: '2026-11-04T00:00:00Z', total: 6, human: 0, qr: 0 },
      { t: '2026-11-05T00:00:00Z', total: 0, human: 0, qr: 0 },
    ];
    const root = parseSvg(renderClickChart(data, { interval: 'day', title: 'x' }));
    assert.deepEqual([...barsByBucket(root, 'click-chart__human').keys()], [0]);
    assert.deepEqual([...barsByBucket(root, 'click-chart__bot').keys()], [1]);
  });

  test('the QR line passes through each bucket’s QR count', () => {
    const data = series(12, DAY);
    const root = parseSvg(renderClickChart(data, { interval: 'day', title: 'x' }));
    const { baseline, unitsPerClick } = yAxis(root);
    const [line] = findAll(root, (n) => n.name === 'polyline' && hasClass('click-chart__qr')(n));
    const ys = line!.attrs.points!.split(' ').map((p) => Number(p.split(',')[1]));
    assert.equal(ys.length, data.length);
    ys.forEach((y, i) => assert.ok(Math.abs(baseline - y - data[i]!.qr * unitsPerClick) <= 0.02, `QR point ${i}`));
  });

  test('the y axis uses round ticks that cover the busiest bucket, written compactly when huge', () => {
    const small = parseSvg(renderClickChart(series(5, DAY, undefined, 83), { interval: 'day', title: 'x' }));
    assert.deepEqual(yAxis(small).labels, ['0', '25', '50', '75', '100']);

    const huge = [{ t: '2026-11-03T00:00:00Z', total: 1_234_567, human: 1_100_000, qr: 56_000 }];
    const root = parseSvg(renderClickChart(huge, { interval: 'day', title: 'x' }));
    assert.deepEqual(yAxis(root).labels, ['0', '500K', '1M', '1.5M']);
    const [tip] = findAll(group(root, 'click-chart__hits'), (n) => n.name === 'title');
    assert.equal(tip!.text, '2026-11-03: 1,234,567 clicks (1,100,000 human, 134,567 bots, 56,000 QR)');
  });

  const labelCases: [name: string, data: ChartBucket[], interval: 'hour' | 'day', width?: number][] = [
    ['24 hours', series(24, HOUR, '2026-11-03T14:00:00Z'), 'hour'],
    ['31 days', series(31, DAY), 'day'],
    ['90 days', series(90, DAY), 'day'],
    ['744 hours', series(744, HOUR), 'hour'],
    ['2,000 hours', series(2_000, HOUR), 'hour'],
    ['2,000 days', series(2_000, DAY), 'day'],
    ['31 days in a narrow card', series(31, DAY), 'day', 320],
    // Hourly data where the query skipped the empty hours: neighbouring buckets are a day apart.
    ['60 sparse hours, one a day', series(60, DAY), 'hour'],
  ];
  for (const [name, data, interval, width] of labelCases) {
    test(`x labels for ${name} do not overlap and stay inside the chart`, () => {
      const root = parseSvg(renderClickChart(data, { interval, title: 'x', width }));
      const labels = xLabels(root);
      assert.ok(labels.length >= 2, `${labels.length} labels`);
      const extents = labels.map((l) => ({ ...l, left: l.x - (l.text.length * TEST_CHAR_WIDTH) / 2, right: l.x + (l.text.length * TEST_CHAR_WIDTH) / 2 }));
      assert.ok(extents[0]!.left >= 0 && extents.at(-1)!.right <= viewBoxWidth(root));
      for (let i = 1; i < extents.length; i++) {
        assert.ok(extents[i]!.left >= extents[i - 1]!.right, `"${extents[i - 1]!.text}" and "${extents[i]!.text}" overlap`);
      }
      const format = interval === 'day' ? /^[A-Z][a-z]{2} \d{1,2}$/ : /^(\d\d:00|[A-Z][a-z]{2} \d{1,2})$/;
      for (const l of labels) assert.match(l.text, format);
    });
  }

  test('hour labels show the time, and the date at midnight (UTC)', () => {
    const labels = xLabels(parseSvg(renderClickChart(series(24, HOUR, '2026-11-03T14:00:00Z'), { interval: 'hour', title: 'x' })));
    const texts = labels.map((l) => l.text);
    assert.ok(texts.includes('Nov 4'), texts.join(' '));
    assert.ok(!texts.includes('00:00'));
    assert.ok(texts.every((t) => t === 'Nov 4' || /^\d\d:00$/.test(t)));
    const hours = texts.map((t) => (t === 'Nov 4' ? 0 : Number(t.slice(0, 2))));
    const steps = new Set(hours.slice(1).map((h, i) => (h - hours[i]! + 24) % 24));
    assert.equal(steps.size, 1, `labels every N hours: ${texts.join(' ')}`);
  });

  test('labels sit under the bucket they name, on round times: midnights for days of hours, Mondays for weeks', () => {
    const data = series(2_000, HOUR, '2026-11-01T05:00:00Z');
    const root = parseSvg(renderClickChart(data, { interval: 'hour', title: 'x' }));
    const columns = findAll(group(root, 'click-chart__hits'), (n) => n.name === 'rect');
    for (const label of xLabels(root)) {
      const index = columns.findIndex((c) => label.x >= Number(c.attrs.x) && label.x < Number(c.attrs.x) + Number(c.attrs.width));
      const start = new Date(data[index]!.t);
      assert.equal(start.getUTCHours(), 0, `${label.text} is at midnight`);
      assert.equal(start.getUTCDay(), 1, `${label.text} is a Monday`);
      const month = start.toLocaleString('en-US', { month: 'short', timeZone: 'UTC' });
      assert.equal(label.text, `${month} ${start.getUTCDate()}`);
    }
  });

  test('2,000 buckets still get bars at least 1 unit wide, all inside the chart', () => {
    const root = parseSvg(renderClickChart(series(2_000, HOUR), { interval: 'hour', title: 'x' }));
    const bars = barsByBucket(root, 'click-chart__human');
    assert.equal(bars.size, 2_000);
    for (const box of bars.values()) {
      assert.ok(box.right - box.left >= 1 - 1e-9, `bar ${box.left}–${box.right}`);
      assert.ok(box.left >= 0 && box.right <= viewBoxWidth(root));
    }
  });

  test('one bucket draws a single bar of a sensible width, labelled with its day', () => {
    const root = parseSvg(renderClickChart([{ t: '2026-11-03T00:00:00Z', total: 7, human: 5, qr: 1 }], { interval: 'day', title: 'x' }));
    const [bar] = barsByBucket(root, 'click-chart__human').values();
    assert.ok(bar!.right - bar!.left <= 60, 'not a bar as wide as the chart');
    assert.deepEqual(xLabels(root).map((l) => l.text), ['Nov 3']);
    assert.equal(findAll(root, (n) => n.name === 'circle' && n.attrs.r !== undefined).length >= 1, true, 'the lone QR value shows as a dot');
  });

  test('each bucket has a native tooltip with its counts', () => {
    const data = [
      { t: '2026-11-03T00:00:00Z', total: 120, human: 100, qr: 15 },
      { t: '2026-11-04T00:00:00Z', total: 1, human: 1, qr: 0 },
    ];
    const tips = findAll(group(parseSvg(renderClickChart(data, { interval: 'day', title: 'x' })), 'click-chart__hits'), (n) => n.name === 'title');
    assert.deepEqual(
      tips.map((t) => t.text),
      ['2026-11-03: 120 clicks (100 human, 20 bots, 15 QR)', '2026-11-04: 1 click (1 human, 0 bots, 0 QR)'],
    );
    const hourly = renderClickChart([{ t: '2026-11-03T14:00:00Z', total: 2, human: 1, qr: 0 }], { interval: 'hour', title: 'x' });
    assert.match(hourly, /<title>2026-11-03 14:00 UTC: 2 clicks \(1 human, 1 bot, 0 QR\)<\/title>/);
  });

  test('the description sums up the range for screen readers', () => {
    const data = [
      { t: '2026-11-03T00:00:00Z', total: 1_000, human: 900, qr: 40 },
      { t: '2026-11-20T00:00:00Z', total: 200, human: 180, qr: 10 },
      { t: '2026-12-02T00:00:00Z', total: 34, human: 20, qr: 6 },
    ];
    const desc = findAll(parseSvg(renderClickChart(data, { interval: 'day', title: 'x' })), (n) => n.name === 'desc')[0]!;
    assert.equal(desc.text, '1,234 clicks, 1,100 human, 134 bots, 56 from QR codes, Nov 3 – Dec 2, 2026. Busiest day: Nov 3, 2026 with 1,000 clicks.');

    const hours = [
      { t: '2026-12-31T22:00:00Z', total: 1, human: 1, qr: 0 },
      { t: '2026-12-31T23:00:00Z', total: 3, human: 2, qr: 1 },
    ];
    const hourDesc = findAll(parseSvg(renderClickChart(hours, { interval: 'hour', title: 'x' })), (n) => n.name === 'desc')[0]!;
    assert.equal(hourDesc.text, '4 clicks, 3 human, 1 bot, 1 from QR codes, Dec 31, 2026, 22:00 – Jan 1, 2027, 00:00 UTC. Busiest hour: Dec 31, 23:00 UTC with 3 clicks.');
  });

  test('user text is escaped: a hostile link title stays text', () => {
    const title = `<script>alert("x")</script>&'\u0000 ok`;
    const svg = renderClickChart(series(3, DAY), { interval: 'day', title });
    assert.doesNotMatch(svg, /<script/);
    const root = parseSvg(svg);
    const [titleNode] = findAll(root, (n) => n.name === 'title' && n.attrs.id !== undefined);
    assert.equal(titleNode!.text, `<script>alert("x")</script>&' ok`, 'the NUL, which XML cannot hold, is dropped');
  });

  for (const [name, data] of [
    ['an empty series', []],
    ['a series of zeros', series(14, DAY).map((b) => ({ ...b, total: 0, human: 0, qr: 0 }))],
  ] as const) {
    test(`${name} draws a 0–1 axis with the empty message and no bars`, () => {
      const svg = renderClickChart(data, { interval: 'day', title: 'x' });
      const root = parseSvg(svg);
      assert.deepEqual(yAxis(root).labels, ['0', '1']);
      assert.equal(findAll(root, hasClass('click-chart__empty'))[0]?.text, 'No clicks in this range');
      assert.equal(findAll(root, (n) => n.name === 'path').length, 0);
      assert.equal(findAll(group(root, 'click-chart__hits'), (n) => n.name === 'rect').length, data.length);
      assert.match(findAll(root, (n) => n.name === 'desc')[0]!.text, /^No clicks in this range/);
    });
  }

  test('a chart with clicks has no empty message', () => {
    assert.doesNotMatch(renderClickChart(series(3, DAY), { interval: 'day', title: 'x' }), /No clicks/);
  });

  test('impossible counts are clamped rather than drawn: human and QR never exceed the total', () => {
    const data = [{ t: '2026-11-03T00:00:00Z', total: 10, human: 25, qr: -3 }];
    const root = parseSvg(renderClickChart(data, { interval: 'day', title: 'x' }));
    assert.equal(findAll(root, (n) => n.name === 'title' && !n.attrs.id)[0]!.text, '2026-11-03: 10 clicks (10 human, 0 bots, 0 QR)');
  });

  test('a bucket time that is not a date is an error, not a chart of NaNs', () => {
    assert.throws(() => renderClickChart([{ t: 'yesterday', total: 1, human: 1, qr: 0 }], { interval: 'day', title: 'x' }), RangeError);
  });

  test('ids are stable for the same input and differ between charts, so several fit on one page', () => {
    const a = renderClickChart(series(3, DAY), { interval: 'day', title: 'a' });
    const b = renderClickChart(series(3, DAY), { interval: 'day', title: 'b' });
    const ids = (svg: string) => parseSvg(svg).attrs['aria-labelledby'];
    assert.equal(renderClickChart(series(3, DAY), { interval: 'day', title: 'a' }), a);
    assert.notEqual(ids(a), ids(b));
  });
});

test('the responsive chart: one SVG per card size, each with its own viewBox width and its own ids', () => {
  const series: ChartBucket[] = [{ t: '2030-01-01T00:00:00.000Z', total: 3, human: 2, qr: 1 }];
  const html = renderResponsiveClickChart(series, { interval: 'day', title: 'Spring' });
  const widths = [...html.matchAll(/<div class="chart-size chart-size-(\d+)"><svg [^>]*viewBox="0 0 (\d+) /g)].map((m) => [Number(m[1]), Number(m[2])]);
  assert.deepEqual(widths, CHART_SIZES.map((w) => [w, w]));
  const ids = [...html.matchAll(/ id="([^"]+)"/g)].map((m) => m[1]);
  assert.equal(new Set(ids).size, ids.length, 'no id twice on the page');
});
