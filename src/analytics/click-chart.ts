import { createHash } from 'node:crypto';

/** One time bucket of a click series. `human` and `qr` are subsets of `total`; bots are `total - human`. */
export interface ChartBucket {
  /** ISO 8601 UTC start of the bucket. */
  t: string;
  total: number;
  human: number;
  qr: number;
}

export interface ClickChartOptions {
  interval: 'hour' | 'day';
  /**
   * Size of the viewBox. The SVG always scales to its container's width, so these set the proportions
   * and how big the 12-unit text is next to the bars; pick roughly the card's width in CSS pixels.
   */
  width?: number;
  height?: number;
  /** Accessible name, often built from a link title (user input); escaped here. */
  title: string;
}

const DEFAULT_WIDTH = 720;
const DEFAULT_HEIGHT = 240;
const MIN_WIDTH = 240;
const MIN_HEIGHT = 140;
const FONT_SIZE = 12;
// A generous average glyph width for the UI's sans-serif fonts, so estimated labels never collide in practice.
const CHAR_WIDTH = FONT_SIZE * 0.6;
const LABEL_GAP = 12;
const AXIS_LABEL_CHARS = 6; // "Nov 30", "14:00"
const MAX_BAR_WIDTH = 44;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

// Fallbacks for pages without admin.css (and for the standalone .svg); the stylesheet's classes win over these.
const COLOUR = {
  human: '#2454d6',
  bot: '#c3cad6',
  qr: '#e07b00',
  grid: '#edf0f3',
  baseline: '#cfd4dc',
  label: '#6b7485',
  hit: 'transparent',
  surface: '#ffffff',
};

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const wholeNumber = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const compactNumber = new Intl.NumberFormat('en-US', { notation: 'compact', maximumSignificantDigits: 3 });

interface Bucket {
  start: Date;
  total: number;
  human: number;
  bots: number;
  qr: number;
}

interface Plot {
  left: number;
  right: number;
  top: number;
  bottom: number;
}

/**
 * Round axis ticks from 0 up to at least `max`: steps of 1, 2, 5, 10, 20, 25, 50… (whole clicks only),
 * at most `count` ticks. A series with no clicks gets a 0–1 scale so the axis still has a top.
 */
export function niceTicks(max: number, count = 5): number[] {
  const top = Number.isFinite(max) && max > 0 ? max : 0;
  if (top === 0) return [0, 1];
  const step = niceStep(top, Math.max(1, Math.floor(count) - 1));
  return Array.from({ length: Math.ceil(top / step) + 1 }, (_, i) => i * step);
}

function niceStep(max: number, maxIntervals: number): number {
  for (let magnitude = 1; ; magnitude *= 10) {
    // 2.5 only from 25 upwards: a step of 2.5 clicks would put fractions on the axis.
    for (const multiple of magnitude === 1 ? [1, 2, 5] : [1, 2, 2.5, 5]) {
      const step = multiple * magnitude;
      if (Math.ceil(max / step) <= maxIntervals) return step;
    }
  }
}

/**
 * An inline `<svg>` (no XML prolog) with stacked human/bot bars per bucket, a QR-scan line, a y axis with
 * round ticks, non-overlapping UTC time labels, a legend, and a `<title>`/`<desc>` summary for screen readers.
 * Styled by the `.click-chart*` rules in admin.css, with presentation attributes as a fallback; no inline styles.
 */
export function renderClickChart(series: readonly ChartBucket[], opts: ClickChartOptions): string {
  const buckets = series.map(toBucket);
  const width = size(opts.width, DEFAULT_WIDTH, MIN_WIDTH);
  const height = size(opts.height, DEFAULT_HEIGHT, MIN_HEIGHT);
  // reduce, not Math.max(...spread): a long series would overflow the argument stack.
  const ticks = niceTicks(buckets.reduce((max, b) => Math.max(max, b.total), 0));
  const tickLabels = ticks.map((t) => compactNumber.format(t));
  const plot: Plot = {
    left: Math.ceil(Math.max(...tickLabels.map(textWidth)) + 10),
    right: width - 4,
    top: 32,
    bottom: height - 26,
  };
  const id = `click-chart-${chartHash(series, opts)}`;
  const hasClicks = buckets.some((b) => b.total > 0);

  return [
    openTag('svg', {
      xmlns: 'http://www.w3.org/2000/svg',
      class: 'click-chart',
      viewBox: `0 0 ${width} ${height}`,
      preserveAspectRatio: 'xMidYMid meet',
      role: 'img',
      'aria-labelledby': `${id}-title ${id}-desc`,
      'font-family': 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
      'font-size': FONT_SIZE,
    }),
    element('title', { id: `${id}-title` }, escapeXml(opts.title.trim() || 'Clicks')),
    element('desc', { id: `${id}-desc` }, escapeXml(summary(buckets, opts.interval))),
    legend(width),
    gridlines(ticks, plot),
    yAxisLabels(ticks, tickLabels, plot),
    bars(buckets, ticks.at(-1)!, plot),
    qrLine(buckets, ticks.at(-1)!, plot),
    xAxisLabels(buckets, opts.interval, plot, width, height),
    hasClicks ? '' : emptyMessage(plot),
    hoverTargets(buckets, opts.interval, plot),
    '</svg>',
  ].join('\n');
}

/**
 * The chart drawn for four card widths, each shown by a container query (admin.css) where its
 * 12-unit text draws at 11–18 CSS pixels: one SVG scaled from 960 units down to a phone's 300
 * pixels would draw its labels at 4. The viewBox widths and the breakpoints go together: each
 * size is shown from about its own width up to the next size's.
 */
export const CHART_SIZES = [280, 440, 660, 960] as const;

export function renderResponsiveClickChart(series: readonly ChartBucket[], opts: Omit<ClickChartOptions, 'width'>): string {
  return CHART_SIZES.map((width) => `<div class="chart-size chart-size-${width}">${renderClickChart(series, { ...opts, width })}</div>`).join('\n');
}

function size(requested: number | undefined, fallback: number, min: number): number {
  return requested !== undefined && Number.isFinite(requested) ? Math.max(min, Math.round(requested)) : fallback;
}

/** Makes the numbers safe to draw: finite, non-negative, and `human`/`qr` never above `total`. */
function toBucket(b: ChartBucket, index: number): Bucket {
  const start = new Date(b.t);
  if (Number.isNaN(start.getTime())) throw new RangeError(`click chart bucket ${index} has an invalid time: ${b.t}`);
  const count = (n: number) => (Number.isFinite(n) && n > 0 ? Math.round(n) : 0);
  const total = count(b.total);
  const human = Math.min(total, count(b.human));
  return { start, total, human, bots: total - human, qr: Math.min(total, count(b.qr)) };
}

/** Ids must be unique on a page holding several charts; hashing the input keeps the function pure. */
function chartHash(series: readonly ChartBucket[], opts: ClickChartOptions): string {
  return createHash('sha256').update(JSON.stringify([opts.title, opts.interval, opts.width, opts.height, series])).digest('hex').slice(0, 10);
}

function legend(width: number): string {
  const items = [
    { label: 'Human', kind: 'human' as const },
    { label: 'Bots', kind: 'bot' as const },
    { label: 'QR scans', kind: 'qr' as const },
  ];
  const marker = 12;
  const itemWidth = (label: string) => marker + 6 + textWidth(label);
  const spacing = 16;
  let x = width - 4 - items.reduce((sum, item) => sum + itemWidth(item.label), 0) - spacing * (items.length - 1);
  const y = 10;
  const parts = items.map(({ label, kind }) => {
    const swatch =
      kind === 'qr'
        ? element('line', { class: 'click-chart__qr', x1: x, y1: y, x2: x + marker, y2: y, stroke: COLOUR.qr, 'stroke-width': 2, 'stroke-linecap': 'round' }) +
          element('circle', { class: 'click-chart__qr-dot', cx: x + marker / 2, cy: y, r: 3, fill: COLOUR.qr, stroke: COLOUR.surface, 'stroke-width': 1.5 })
        : element('rect', { class: `click-chart__${kind}`, x: x + 1, y: y - 5, width: 10, height: 10, rx: 2.5, fill: COLOUR[kind] });
    const text = element('text', { x: x + marker + 6, y, dy: '0.35em' }, escapeXml(label));
    x += itemWidth(label) + spacing;
    return swatch + text;
  });
  return element('g', { class: 'click-chart__legend click-chart__label', fill: COLOUR.label }, parts.join(''));
}

function gridlines(ticks: number[], plot: Plot): string {
  const yMax = ticks.at(-1)!;
  const lines = ticks.map((t) => {
    const y = scaleY(t, yMax, plot);
    const attrs = { x1: plot.left, y1: y, x2: plot.right, y2: y };
    return t === 0 ? element('line', { ...attrs, class: 'click-chart__baseline', stroke: COLOUR.baseline }) : element('line', attrs);
  });
  return element('g', { class: 'click-chart__grid', stroke: COLOUR.grid, 'stroke-width': 1, 'shape-rendering': 'crispEdges' }, lines.join(''));
}

function yAxisLabels(ticks: number[], labels: string[], plot: Plot): string {
  const yMax = ticks.at(-1)!;
  const texts = ticks.map((t, i) => element('text', { x: plot.left - 8, y: scaleY(t, yMax, plot), dy: '0.35em' }, escapeXml(labels[i]!)));
  return element('g', { class: 'click-chart__label click-chart__y-axis', fill: COLOUR.label, 'text-anchor': 'end' }, texts.join(''));
}

function bars(buckets: Bucket[], yMax: number, plot: Plot): string {
  const slot = slotWidth(buckets.length, plot);
  // Gaps only while there is room for them; at 2,000 buckets a bar is a 1-unit line that may touch its neighbours.
  const gap = slot >= 6 ? slot * 0.28 : slot >= 2 ? 1 : 0;
  const barWidth = Math.max(1, Math.min(MAX_BAR_WIDTH, slot - gap));
  const radius = barWidth >= 4 ? Math.min(3, barWidth / 4) : 0;
  const human: string[] = [];
  const bot: string[] = [];
  buckets.forEach((b, i) => {
    const x = plot.left + slot * i + (slot - barWidth) / 2;
    const humanTop = scaleY(b.human, yMax, plot);
    const totalTop = scaleY(b.total, yMax, plot);
    // Only the topmost segment of a stack gets rounded corners, so the stack reads as one bar.
    if (b.human > 0) human.push(element('path', { d: barPath(x, barWidth, plot.bottom, humanTop, b.bots > 0 ? 0 : radius) }));
    if (b.bots > 0) bot.push(element('path', { d: barPath(x, barWidth, humanTop, totalTop, radius) }));
  });
  // Antialiased 1-unit bars blur into a haze; snapped to pixels they read as a dense histogram.
  const rendering: Attrs = slot < 3 ? { 'shape-rendering': 'crispEdges' } : {};
  return (
    element('g', { class: 'click-chart__human', fill: COLOUR.human, ...rendering }, human.join('')) +
    element('g', { class: 'click-chart__bot', fill: COLOUR.bot, ...rendering }, bot.join(''))
  );
}

/** A bar segment from `bottom` up to `top`, with its top corners rounded by up to `radius`. */
function barPath(x: number, width: number, bottom: number, top: number, radius: number): string {
  const r = Math.min(radius, width / 2, bottom - top);
  // Rounding the right edge from the rounded left one keeps every bar exactly as wide as intended.
  const left = round(x);
  const [x0, x1, yb, yt] = [num(left), num(left + width), num(bottom), num(top)];
  if (r <= 0) return `M${x0} ${yb}V${yt}H${x1}V${yb}Z`;
  return `M${x0} ${yb}V${num(top + r)}Q${x0} ${yt} ${num(x + r)} ${yt}H${num(x + width - r)}Q${x1} ${yt} ${x1} ${num(top + r)}V${yb}Z`;
}

function qrLine(buckets: Bucket[], yMax: number, plot: Plot): string {
  if (!buckets.some((b) => b.qr > 0)) return '';
  const slot = slotWidth(buckets.length, plot);
  const points = buckets.map((b, i) => ({ x: centerX(i, slot, plot), y: scaleY(b.qr, yMax, plot) }));
  const line = element('polyline', {
    class: 'click-chart__qr',
    points: points.map((p) => `${num(p.x)},${num(p.y)}`).join(' '),
    fill: 'none',
    stroke: COLOUR.qr,
    'stroke-width': slot < 3 ? 1.25 : 2,
    'stroke-linejoin': 'round',
    'stroke-linecap': 'round',
  });
  // Dots while the buckets are wide enough to tell apart; a single bucket would otherwise draw nothing.
  const dots =
    slot >= 10
      ? element(
          'g',
          { class: 'click-chart__qr-dot', fill: COLOUR.qr, stroke: COLOUR.surface, 'stroke-width': 1.5 },
          points.map((p) => element('circle', { cx: p.x, cy: p.y, r: 3 })).join(''),
        )
      : '';
  return element('g', { 'pointer-events': 'none' }, line + dots);
}

/**
 * Labels every Nth bucket, N chosen from round steps (3 h, 6 h, a day, a week…) so labels fit, and aligned to
 * the clock (midnight, Mondays) rather than to the first bucket. A final pass drops any label that would still
 * overlap its neighbour or leave the chart, e.g. where the series skips buckets.
 */
function xAxisLabels(buckets: Bucket[], interval: ClickChartOptions['interval'], plot: Plot, width: number, height: number): string {
  const slot = slotWidth(buckets.length, plot);
  const every = labelEvery(slot, interval);
  const texts: string[] = [];
  let lastRight = -Infinity;
  buckets.forEach((b, i) => {
    if (!isAligned(b.start, interval, every)) return;
    const text = axisLabel(b.start, interval);
    const x = centerX(i, slot, plot);
    const half = textWidth(text) / 2;
    if (x - half < 0 || x + half > width || x - half < lastRight + LABEL_GAP) return;
    texts.push(element('text', { x, y: height - 6 }, escapeXml(text)));
    lastRight = x + half;
  });
  return element('g', { class: 'click-chart__label click-chart__x-axis', fill: COLOUR.label, 'text-anchor': 'middle' }, texts.join(''));
}

function labelEvery(slot: number, interval: ClickChartOptions['interval']): number {
  const needed = (AXIS_LABEL_CHARS * CHAR_WIDTH + LABEL_GAP) / slot;
  const steps = interval === 'hour' ? [1, 2, 3, 4, 6, 12, 24, 48, 72, 168] : [1, 2, 3, 7, 14, 28];
  let step = steps.find((s) => s >= needed);
  for (step ??= steps.at(-1)! * 2; step < needed; step *= 2);
  return step;
}

function isAligned(start: Date, interval: ClickChartOptions['interval'], every: number): boolean {
  // Offsets of 3 days move multi-day steps from Thursdays (1970-01-01) to Mondays.
  const index = interval === 'hour' ? Math.floor(start.getTime() / HOUR_MS) + 72 : Math.floor(start.getTime() / DAY_MS) + 3;
  return index % every === 0;
}

function axisLabel(start: Date, interval: ClickChartOptions['interval']): string {
  if (interval === 'hour' && (start.getUTCHours() !== 0 || start.getUTCMinutes() !== 0)) return hourMinute(start);
  return monthDay(start);
}

function emptyMessage(plot: Plot): string {
  const attrs = {
    class: 'click-chart__empty',
    x: (plot.left + plot.right) / 2,
    y: (plot.top + plot.bottom) / 2,
    dy: '0.35em',
    fill: COLOUR.label,
    'font-size': 13,
    'text-anchor': 'middle',
  };
  return element('text', attrs, escapeXml('No clicks in this range'));
}

/** Transparent full-height columns on top of everything: the tooltip shows anywhere above a bucket, even an empty one. */
function hoverTargets(buckets: Bucket[], interval: ClickChartOptions['interval'], plot: Plot): string {
  const slot = slotWidth(buckets.length, plot);
  const columns = buckets.map((b, i) =>
    element('rect', { x: plot.left + slot * i, y: plot.top, width: slot, height: plot.bottom - plot.top }, element('title', {}, escapeXml(tooltip(b, interval)))),
  );
  return element('g', { class: 'click-chart__hits', fill: COLOUR.hit }, columns.join(''));
}

function tooltip(b: Bucket, interval: ClickChartOptions['interval']): string {
  const when = interval === 'day' ? isoDate(b.start) : `${isoDate(b.start)} ${hourMinute(b.start)} UTC`;
  return `${when}: ${plural(b.total, 'click')} (${wholeNumber.format(b.human)} human, ${plural(b.bots, 'bot')}, ${wholeNumber.format(b.qr)} QR)`;
}

/** The `<desc>`: what a sighted reader takes in at a glance: totals, the range and the busiest bucket. */
function summary(buckets: Bucket[], interval: ClickChartOptions['interval']): string {
  const first = buckets[0];
  const last = buckets.at(-1);
  if (!first || !last) return 'No clicks in this range.';
  const range = dateRange(first.start, last.start, interval);
  const sum = (pick: (b: Bucket) => number) => buckets.reduce((total, b) => total + pick(b), 0);
  const total = sum((b) => b.total);
  if (total === 0) return `No clicks in this range, ${range}.`;
  const peak = buckets.reduce((best, b) => (b.total > best.total ? b : best));
  const peakWhen = interval === 'day' ? `${monthDay(peak.start)}, ${peak.start.getUTCFullYear()}` : `${monthDay(peak.start)}, ${hourMinute(peak.start)} UTC`;
  return (
    `${plural(total, 'click')}, ${wholeNumber.format(sum((b) => b.human))} human, ${plural(sum((b) => b.bots), 'bot')}, ` +
    `${wholeNumber.format(sum((b) => b.qr))} from QR codes, ${range}. Busiest ${interval}: ${peakWhen} with ${plural(peak.total, 'click')}.`
  );
}

/** "Nov 3 – Dec 2, 2026"; for hours the range ends where the last bucket ends: "Nov 3, 2026, 14:00 – 18:00 UTC". */
function dateRange(first: Date, last: Date, interval: ClickChartOptions['interval']): string {
  const withYear = (d: Date) => `${monthDay(d)}, ${d.getUTCFullYear()}`;
  if (interval === 'hour') {
    const end = new Date(last.getTime() + HOUR_MS);
    const sameDay = isoDate(first) === isoDate(end);
    return `${withYear(first)}, ${hourMinute(first)} – ${sameDay ? '' : `${withYear(end)}, `}${hourMinute(end)} UTC`;
  }
  if (isoDate(first) === isoDate(last)) return withYear(first);
  if (first.getUTCFullYear() === last.getUTCFullYear()) return `${monthDay(first)} – ${withYear(last)}`;
  return `${withYear(first)} – ${withYear(last)}`;
}

function slotWidth(count: number, plot: Plot): number {
  return (plot.right - plot.left) / Math.max(1, count);
}

function centerX(index: number, slot: number, plot: Plot): number {
  return plot.left + slot * (index + 0.5);
}

function scaleY(value: number, yMax: number, plot: Plot): number {
  return plot.bottom - (value / yMax) * (plot.bottom - plot.top);
}

function textWidth(text: string): number {
  return text.length * CHAR_WIDTH;
}

function plural(n: number, noun: string): string {
  return `${wholeNumber.format(n)} ${noun}${n === 1 ? '' : 's'}`;
}

function isoDate(d: Date): string {
  return d.toISOString().slice(0, 10);
}

function hourMinute(d: Date): string {
  return d.toISOString().slice(11, 16);
}

function monthDay(d: Date): string {
  return `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}`;
}

/** Two decimals keep the markup small; the chart is never drawn at a scale where that shows. */
function round(n: number): number {
  return Math.round(n * 100) / 100;
}

function num(n: number): string {
  return String(round(n));
}

type Attrs = Record<string, string | number>;

function openTag(name: string, attrs: Attrs): string {
  const rendered = Object.entries(attrs).map(([key, value]) => ` ${key}="${typeof value === 'number' ? num(value) : escapeXml(value)}"`);
  return `<${name}${rendered.join('')}>`;
}

/** `content` is markup: callers escape any text they put in it. */
function element(name: string, attrs: Attrs, content?: string): string {
  return content === undefined ? `${openTag(name, attrs).slice(0, -1)}/>` : `${openTag(name, attrs)}${content}</${name}>`;
}

const XML_ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/** Escapes markup characters and drops what XML 1.0 cannot hold at all (control characters, lone surrogates). */
function escapeXml(text: string): string {
  return text.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uD800-\uDFFF\uFFFE\uFFFF]/gu, '').replace(/[&<>"']/g, (c) => XML_ENTITIES[c]!);
}
