import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import jsQR from 'jsqr';
import { PNG } from 'pngjs';
import QRCode from 'qrcode';
import { AppError } from '../lib/errors.js';
import { parseInput } from '../http/middleware/validate.js';
import { QrRenderer, qrEtag, type QrOptions, qrOptionsSchema, renderQr } from './qr.js';

const URL_IN_CODE = 'https://lnk.example/abc1234?qr=1';

/** Options as the route gets them: a query string through the API's own parser. */
const options = (query: Record<string, string> = {}): QrOptions => parseInput(qrOptionsSchema, query, 'query');

/** The fields a query is refused for, as the API would list them in problem+json. */
function refusedFields(query: Record<string, string>): string[] {
  try {
    options(query);
  } catch (e) {
    assert.ok(e instanceof AppError, `expected an AppError, got ${String(e)}`);
    assert.equal(e.code, 'validation_failed');
    return (e.errors ?? []).map((f) => f.field);
  }
  assert.fail(`expected ${JSON.stringify(query)} to be refused`);
}

function decodePng(body: Buffer) {
  const png = PNG.sync.read(body);
  const pixels = new Uint8ClampedArray(png.data.buffer, png.data.byteOffset, png.data.length);
  // dontInvert: a code that only scans as light-on-dark would fail real scanners too.
  const code = jsQR(pixels, png.width, png.height, { inversionAttempts: 'dontInvert' });
  return { png, text: code?.data };
}

function rgbAt(png: PNG, x: number, y: number): string {
  const i = (y * png.width + x) * 4;
  return [...png.data.subarray(i, i + 3)].map((c) => c.toString(16).padStart(2, '0')).join('');
}

const parseSvg = (body: Buffer) =>
  new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(body.toString('utf8')) as {
    svg: { width: string; height: string; viewBox: string; 'shape-rendering': string; title: string; rect: { fill: string }; path: { fill: string; d: string } };
  };

/**
 * Where a code's modules land in an image of `size` pixels: every module the same whole number
 * of pixels, the grid (quiet zone included) centred, the pixels left over in the border.
 */
function layoutOf(text: string, { size, margin, ecc }: Pick<QrOptions, 'size' | 'margin' | 'ecc'>) {
  const count = QRCode.create(text, { errorCorrectionLevel: ecc }).modules.size + 2 * margin;
  const px = Math.floor(size / count);
  return { count, px, offset: Math.floor((size - px * count) / 2) };
}

/** The dark modules an SVG draws, as "row,col", read back from its path of horizontal runs in pixels. */
function svgDarkModules(d: string, { px, offset }: { px: number; offset: number }): Set<string> {
  const dark = new Set<string>();
  const run = new RegExp(`M(\\d+) (\\d+)h(\\d+)v${px}h-\\3z`, 'g');
  for (const [, x, y, width] of d.matchAll(run)) {
    const [col, row, length] = [(Number(x) - offset) / px, (Number(y) - offset) / px, Number(width) / px];
    assert.ok(Number.isInteger(col) && Number.isInteger(row) && Number.isInteger(length), `a run off the module grid: ${x} ${y} ${width}`);
    for (let c = col; c < col + length; c++) dark.add(`${row},${c}`);
  }
  assert.equal(d.replace(run, ''), '', 'the path holds only module runs');
  return dark;
}

describe('qrOptionsSchema', () => {
  test('an empty query gets the defaults', () => {
    assert.deepEqual(options(), { format: 'svg', size: 512, margin: 4, ecc: 'M', fg: '000000', bg: 'ffffff' });
  });

  test('query strings are coerced and colours normalised', () => {
    assert.deepEqual(options({ format: 'png', size: '64', margin: '0', ecc: 'H', fg: '#1F3A93', bg: 'FDF6E3' }), {
      format: 'png',
      size: 64,
      margin: 0,
      ecc: 'H',
      fg: '1f3a93',
      bg: 'fdf6e3',
    });
    assert.equal(options({ size: '2048', margin: '16' }).size, 2048);
  });

  const refused: [string, Record<string, string>, string][] = [
    ['size below 64', { size: '10' }, 'size'],
    ['size above 2048', { size: '5000' }, 'size'],
    ['size not a number', { size: 'abc' }, 'size'],
    ['size not an integer', { size: '100.5' }, 'size'],
    ['size empty', { size: '' }, 'size'],
    ['margin above 16', { margin: '17' }, 'margin'],
    ['negative margin', { margin: '-1' }, 'margin'],
    ['unknown ecc level', { ecc: 'Z' }, 'ecc'],
    ['format gif', { format: 'gif' }, 'format'],
    ['named colour', { fg: 'red' }, 'fg'],
    ['3-digit hex', { bg: 'fff' }, 'bg'],
    ['fg the same as bg', { fg: '336699', bg: '336699' }, 'fg'],
    ['fg lighter than bg (inverted code)', { fg: 'ffffff', bg: '000000' }, 'fg'],
    ['light fg on the default white', { fg: 'eeeeee' }, 'fg'],
    ['contrast just under 4.5:1', { fg: '777777' }, 'fg'],
    ['unknown parameter', { colour: 'red' }, 'colour'],
  ];
  for (const [name, query, field] of refused) {
    test(`refuses ${name}, naming ${field}`, () => assert.deepEqual(refusedFields(query), [field]));
  }

  test('explains why a light or low-contrast fg is refused', () => {
    for (const query of [{ fg: 'ffffff', bg: '000000' }, { fg: '777777' }] as Record<string, string>[]) {
      try {
        options(query);
        assert.fail('expected a refusal');
      } catch (e) {
        assert.ok(e instanceof AppError);
        assert.match(e.errors?.[0]?.message ?? '', /dark modules on a light background/);
      }
    }
  });

  test('a malformed colour is reported once, without a contrast complaint on top', () => {
    assert.deepEqual(refusedFields({ fg: 'red', bg: 'blue' }), ['fg', 'bg']);
  });
});

describe('renderQr PNG', () => {
  const cases: Record<string, string>[] = [
    ...['L', 'M', 'Q', 'H'].map((ecc) => ({ ecc })),
    { size: '200', margin: '2' }, // a fractional number of pixels per module
    { size: '333', margin: '16', ecc: 'H' },
    { size: '1024', margin: '0' },
    { fg: '1f3a93', bg: 'fdf6e3' },
    // The least contrast the schema lets through (4.54:1 and 4.50:1) still scans.
    { fg: '767676' },
    { fg: '2c7cb6', margin: '1' },
  ];
  for (const query of cases) {
    test(`decodes to exactly the URL and is size × size: ${JSON.stringify(query)}`, async () => {
      const opts = options({ ...query, format: 'png' });
      const image = await renderQr(URL_IN_CODE, opts);
      assert.equal(image.contentType, 'image/png');
      const { png, text } = decodePng(image.body);
      assert.equal(png.width, opts.size);
      assert.equal(png.height, opts.size);
      assert.equal(text, URL_IN_CODE);
      const { offset } = layoutOf(URL_IN_CODE, opts);
      assert.equal(rgbAt(png, 0, 0), opts.margin > 0 || offset > 0 ? opts.bg : opts.fg, 'corner: border, or the finder pattern without one');
      assert.equal(rgbAt(png, offset + opts.margin * layoutOf(URL_IN_CODE, opts).px, offset + opts.margin * layoutOf(URL_IN_CODE, opts).px), opts.fg, 'the finder pattern starts after the border');
    });
  }

  test('every size has exactly size × size pixels', async () => {
    for (const size of [74, 97, 101, 173, 255, 256, 511, 1023, 2047]) {
      const { png } = decodePng((await renderQr(URL_IN_CODE, options({ format: 'png', size: String(size) }))).body);
      assert.deepEqual([png.width, png.height], [size, size], `size ${size}`);
    }
  });

});

describe('renderQr: the smallest size scanners read', () => {
  /** The longest tracked URL a slug makes (64 characters) under a long base URL. */
  const LONG_URL = `https://links.example-company.com/${'x'.repeat(64)}?qr=1`;
  /** 2 px per module, quiet zone included; 3 without a quiet zone (what the review's decoders needed). */
  const smallestSize = (text: string, margin: number, ecc: 'L' | 'M' | 'Q' | 'H') =>
    (QRCode.create(text, { errorCorrectionLevel: ecc }).modules.size + 2 * margin) * (margin === 0 ? 3 : 2);

  const refusal = (smallest: number, margin: number, ecc: string) => (e: unknown) => {
    assert.ok(e instanceof AppError, String(e));
    assert.equal(e.code, 'validation_failed');
    assert.equal(e.errors?.length, 1);
    assert.equal(e.errors?.[0]?.field, 'size');
    assert.match(e.errors?.[0]?.message ?? '', new RegExp(`^must be at least ${smallest} for this link with margin ${margin} and error correction ${ecc}:`));
    return true;
  };

  for (const [name, text] of [['a short URL', URL_IN_CODE], ['a long URL', LONG_URL]] as const) {
    for (const { margin, ecc } of [{ margin: 4, ecc: 'M' }, { margin: 0, ecc: 'M' }, { margin: 1, ecc: 'H' }, { margin: 16, ecc: 'L' }] as const) {
      test(`${name}, margin ${margin}, ecc ${ecc}: refused one pixel below the smallest size, which decodes`, async () => {
        const smallest = smallestSize(text, margin, ecc);
        const at = (size: number, format: 'png' | 'svg') => options({ format, size: String(size), margin: String(margin), ecc });
        if (smallest - 1 >= 64) {
          await assert.rejects(renderQr(text, at(smallest - 1, 'png')), refusal(smallest, margin, ecc));
          await assert.rejects(renderQr(text, at(smallest - 1, 'svg')), refusal(smallest, margin, ecc), 'SVG too');
        }
        const { png, text: decoded } = decodePng((await renderQr(text, at(smallest, 'png'))).body);
        assert.deepEqual([png.width, png.height], [smallest, smallest]);
        assert.equal(decoded, text, `the smallest size (${smallest}) decodes`);
      });
    }
  }

  test('the default size is judged like any other: it fits these codes, and a code it cannot hold is refused, not drawn', async () => {
    for (const text of [URL_IN_CODE, LONG_URL]) {
      for (const query of [{}, { margin: '0', ecc: 'H' }] as Record<string, string>[]) {
        const { png, text: decoded } = decodePng((await renderQr(text, options({ ...query, format: 'png' }))).body);
        assert.equal(png.width, 512);
        assert.equal(decoded, text, JSON.stringify(query));
      }
    }
    // 173 modules (version 39): no short URL comes near, but 512 px would give it 2.96 px per module.
    const huge = `https://lnk.example/${'x'.repeat(1_150)}`;
    assert.equal(smallestSize(huge, 0, 'H'), 519);
    await assert.rejects(renderQr(huge, options({ margin: '0', ecc: 'H' })), refusal(519, 0, 'H'));
  });
});

describe('renderQr SVG', () => {
  test('is valid standalone XML with size, viewBox, crisp edges and the URL as title', async () => {
    const image = await renderQr(URL_IN_CODE, options({ size: '300', margin: '4' }));
    assert.equal(image.contentType, 'image/svg+xml');
    const source = image.body.toString('utf8');
    assert.equal(XMLValidator.validate(source), true);
    assert.match(source, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<svg xmlns="http:\/\/www.w3.org\/2000\/svg" /);
    const { svg } = parseSvg(image.body);
    assert.equal(svg.width, '300');
    assert.equal(svg.height, '300');
    assert.equal(svg.viewBox, '0 0 300 300', 'drawn in pixels, on the same whole-pixel grid as the PNG');
    const layout = layoutOf(URL_IN_CODE, { size: 300, margin: 4, ecc: 'M' });
    assert.equal((layout.count - 2 * 4 - 17) % 4, 0, 'a QR symbol is 17 + 4·version modules, plus the quiet zone');
    assert.ok(svgDarkModules(svg.path.d, layout).size > 100);
    assert.equal(svg['shape-rendering'], 'crispEdges');
    assert.equal(svg.title, URL_IN_CODE);
    assert.equal(svg.rect.fill, '#ffffff');
    assert.equal(svg.path.fill, '#000000');
  });

  test('has no style attribute (the admin CSP is style-src self)', async () => {
    for (const query of [{}, { fg: '1f3a93', bg: 'fdf6e3', margin: '0' }] as Record<string, string>[]) {
      const source = (await renderQr(URL_IN_CODE, options(query))).body.toString('utf8');
      assert.doesNotMatch(source, /style\s*=/i);
      assert.doesNotMatch(source, /<style/i);
    }
  });

  test('escapes the title and keeps the XML valid whatever the text', async () => {
    const text = 'https://lnk.example/a?x=1&y=<b>"\'\u0001';
    const source = (await renderQr(text, options())).body.toString('utf8');
    assert.equal(XMLValidator.validate(source), true);
    assert.match(source, /<title>https:\/\/lnk\.example\/a\?x=1&amp;y=&lt;b&gt;"'\ufffd<\/title>/);
  });

  test('draws the same module grid as the PNG, in the chosen colours', async () => {
    const query = { size: '450', margin: '3', ecc: 'Q', fg: '1f3a93', bg: 'fdf6e3' };
    const { svg } = parseSvg((await renderQr(URL_IN_CODE, options(query))).body);
    const { png } = decodePng((await renderQr(URL_IN_CODE, options({ ...query, format: 'png' }))).body);
    const layout = layoutOf(URL_IN_CODE, { size: 450, margin: 3, ecc: 'Q' });
    const dark = svgDarkModules(svg.path.d, layout);
    assert.ok(dark.size > 100, 'a real symbol has many dark modules');
    // Every pixel of every module, not just its centre: modules are whole pixels.
    for (let row = 0; row < layout.count; row++) {
      for (let col = 0; col < layout.count; col++) {
        const expected = dark.has(`${row},${col}`) ? '1f3a93' : 'fdf6e3';
        for (let dy = 0; dy < layout.px; dy++) {
          for (let dx = 0; dx < layout.px; dx++) {
            const [x, y] = [layout.offset + col * layout.px + dx, layout.offset + row * layout.px + dy];
            if (rgbAt(png, x, y) !== expected) assert.fail(`module ${row},${col} pixel ${x},${y}`);
          }
        }
      }
    }
  });
});

describe('renderQr: whole pixels per module', () => {
  // Fractional scales drew some modules a pixel wider than others; decoders estimate one module
  // size, and jsQR missed 215 of 24,040 sizes above the minimum, every one of them fractional.
  const LONG_URL = `https://links.example-company.com/${'x'.repeat(64)}?qr=1`;
  test('every size from the smallest upwards decodes, for short and long URLs, with and without a quiet zone', async () => {
    const missed: string[] = [];
    let tried = 0;
    for (const text of [URL_IN_CODE, LONG_URL]) {
      for (const margin of [4, 1, 0]) {
        for (const ecc of ['L', 'M', 'H'] as const) {
          const { count } = layoutOf(text, { size: 512, margin, ecc });
          const smallest = Math.max(64, count * (margin === 0 ? 3 : 2));
          for (let size = smallest; size < smallest + 2 * count; size += 3) {
            tried++;
            const { text: decoded } = decodePng((await renderQr(text, options({ format: 'png', size: String(size), margin: String(margin), ecc }))).body);
            if (decoded !== text) missed.push(`${text.length} chars, margin ${margin}, ecc ${ecc}, size ${size}`);
          }
        }
      }
    }
    assert.ok(tried > 300, `tried ${tried}`);
    assert.deepEqual(missed, []);
  });

  test('the pixels a size leaves over widen the border evenly, the symbol stays centred', async () => {
    const layout = layoutOf(URL_IN_CODE, { size: 101, margin: 4, ecc: 'M' });
    const { png } = decodePng((await renderQr(URL_IN_CODE, options({ format: 'png', size: '101', margin: '4', ecc: 'M' }))).body);
    const first = layout.offset + 4 * layout.px;
    // The top-left finder pattern starts with a dark module at the symbol's corner, after light border only.
    for (let x = 0; x < first; x++) assert.equal(rgbAt(png, x, first), 'ffffff', `border pixel ${x}`);
    assert.equal(rgbAt(png, first, first), '000000');
    const last = 101 - 1 - (101 - layout.px * layout.count - layout.offset) - 4 * layout.px;
    assert.equal(rgbAt(png, last, first), '000000', 'the top-right finder ends where the grid says');
    assert.equal(rgbAt(png, last + 1, first), 'ffffff');
  });
});

describe('ETag', () => {
  test('is a strong quoted ETag, the same for the same input', async () => {
    const a = await renderQr(URL_IN_CODE, options({ format: 'png' }));
    const b = await renderQr(URL_IN_CODE, options({ format: 'png' }));
    assert.match(a.etag, /^"[A-Za-z0-9_-]+"$/);
    assert.equal(a.etag, b.etag);
    assert.deepEqual(a.body, b.body, 'rendering is deterministic, as a strong ETag promises');
    assert.equal(a.etag, qrEtag(URL_IN_CODE, options({ format: 'png' })));
    assert.equal(qrEtag(URL_IN_CODE, options({ fg: '#1F3A93' })), qrEtag(URL_IN_CODE, options({ fg: '1f3a93' })), 'normalised colours');
  });

  test('changes with the text and with every option', () => {
    const base = options();
    const variants: [string, string][] = [
      ['text', qrEtag(`${URL_IN_CODE}x`, base)],
      ['format', qrEtag(URL_IN_CODE, { ...base, format: 'png' })],
      ['size', qrEtag(URL_IN_CODE, { ...base, size: 513 })],
      ['margin', qrEtag(URL_IN_CODE, { ...base, margin: 5 })],
      ['ecc', qrEtag(URL_IN_CODE, { ...base, ecc: 'H' })],
      ['fg', qrEtag(URL_IN_CODE, { ...base, fg: '000001' })],
      ['bg', qrEtag(URL_IN_CODE, { ...base, bg: 'fffffe' })],
    ];
    const baseEtag = qrEtag(URL_IN_CODE, base);
    for (const [name, etag] of variants) assert.notEqual(etag, baseEtag, name);
    assert.equal(new Set(variants.map(([, etag]) => etag)).size, variants.length, 'all distinct');
  });
});

describe('QrRenderer', () => {
  test('serves a repeat request from its cache', async () => {
    const renderer = new QrRenderer();
    const first = await renderer.render(URL_IN_CODE, options());
    assert.equal(await renderer.render(URL_IN_CODE, options()), first, 'the cached image itself');
    const png = await renderer.render(URL_IN_CODE, options({ format: 'png' }));
    assert.notEqual(png, first);
    assert.equal(png.contentType, 'image/png');
  });

  test('keeps no more bytes than it is given, dropping the least recently used', async () => {
    const a = options({ size: '128' });
    const b = options({ size: '256' });
    const bytes = (await renderQr(URL_IN_CODE, a)).body.length + (await renderQr(URL_IN_CODE, b)).body.length;
    const renderer = new QrRenderer(bytes - 1);
    const firstA = await renderer.render(URL_IN_CODE, a);
    await renderer.render(URL_IN_CODE, b);
    const secondA = await renderer.render(URL_IN_CODE, a);
    assert.notEqual(secondA, firstA, 'A was evicted to make room for B');
    assert.deepEqual(secondA.body, firstA.body);
    assert.equal(await renderer.render(URL_IN_CODE, a), secondA, 'and is cached again');
  });
});
