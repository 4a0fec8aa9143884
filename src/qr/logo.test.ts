import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { crc32, deflateSync } from 'node:zlib';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import jsQR from 'jsqr';
import { PNG } from 'pngjs';
import QRCode from 'qrcode';
import { diskAssets } from '../lib/assets.js';
import { AppError } from '../lib/errors.js';
import { type Logo, MAX_LOGO_BYTES, parseLogo, type PngLogo } from './logo.js';
import { MAX_PLATE_SHARE, planPlate, plateDamage } from './logo-plate.js';
import { MAX_EXPANDED_ELEMENTS } from './logo-svg.js';
import { QrRenderer, qrEtag, type QrOptions, renderQr, sizeProblem } from './qr.js';
import { resvgRasterizer } from './svg-rasterizer.js';

const SHORT_URL = 'https://lnk.example/abc1234?qr=1';
/** The longest tracked URL a slug makes (64 characters) under a long base URL, as in qr.test.ts. */
const LONG_URL = `https://links.example-company.com/${'x'.repeat(64)}?qr=1`;
/** Near the most a code at level H holds (1,273 bytes, version 40): far beyond any short link. */
const HUGE_URL = `https://lnk.example/${'y'.repeat(1_200)}`;

const rasterizer = resvgRasterizer(diskAssets());

const options = (o: Partial<QrOptions> = {}): QrOptions => ({ format: 'png', size: 512, margin: 4, ecc: 'M', fg: '000000', bg: 'ffffff', ...o });

type Rgba = [number, number, number, number];

/** A PNG drawn by `paint`, written by pngjs. */
function makePng(width: number, height: number, paint: (x: number, y: number) => Rgba, pngOptions: Partial<{ colorType: 0 | 2 | 4 | 6; bitDepth: 8 | 16 }> = {}): Buffer {
  const png = new PNG({ width, height, ...pngOptions });
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) png.data.set(paint(x, y), (y * width + x) * 4);
  return PNG.sync.write(png, pngOptions);
}

/** A logo people upload: a coloured disc (two halves) on transparency, in a w × h canvas. */
const discPng = (width: number, height: number) =>
  makePng(width, height, (x, y) => {
    const r = Math.min(width, height) / 2;
    if (Math.hypot(x + 0.5 - width / 2, y + 0.5 - height / 2) > r) return [0, 0, 0, 0];
    return x < width / 2 ? [220, 30, 40, 255] : [30, 60, 200, 255];
  });

const LOGO_SVG = `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 120 60" width="120" height="60">
  <defs><linearGradient id="g"><stop offset="0" stop-color="#e33"/><stop offset="1" stop-color="#33e"/></linearGradient></defs>
  <rect x="2" y="2" width="116" height="56" rx="12" fill="url(#g)"/>
  <path d="M20 30h80" stroke="#fff" stroke-width="8"/>
</svg>`;

/** Splits a PNG into its chunks, for tests that damage or extend one. */
function chunksOf(png: Buffer): { type: string; data: Buffer }[] {
  const chunks: { type: string; data: Buffer }[] = [];
  for (let at = 8; at < png.length; ) {
    const length = png.readUInt32BE(at);
    chunks.push({ type: png.toString('latin1', at + 4, at + 8), data: png.subarray(at + 8, at + 8 + length) });
    at += 12 + length;
  }
  return chunks;
}

function pngOf(chunks: { type: string; data: Buffer }[]): Buffer {
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    ...chunks.map(({ type, data }) => {
      const typeAndData = Buffer.concat([Buffer.from(type, 'latin1'), data]);
      const chunk = Buffer.alloc(12 + data.length);
      chunk.writeUInt32BE(data.length, 0);
      typeAndData.copy(chunk, 4);
      chunk.writeUInt32BE(crc32(typeAndData), 8 + data.length);
      return chunk;
    }),
  ]);
}

/** A PNG written byte by byte, for what pngjs does not write: palettes, sub-byte and 16-bit depths, interlacing. */
function rawPng(p: { width: number; height: number; bitDepth: number; colorType: number; rows: Buffer[]; plte?: number[]; trns?: number[]; interlace?: number }): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(p.width, 0);
  header.writeUInt32BE(p.height, 4);
  header.set([p.bitDepth, p.colorType, 0, 0, p.interlace ?? 0], 8);
  return pngOf([
    { type: 'IHDR', data: header },
    ...(p.plte ? [{ type: 'PLTE', data: Buffer.from(p.plte) }] : []),
    ...(p.trns ? [{ type: 'tRNS', data: Buffer.from(p.trns) }] : []),
    { type: 'IDAT', data: deflateSync(Buffer.concat(p.rows.map((row) => Buffer.concat([Buffer.from([0]), row])))) },
    { type: 'IEND', data: Buffer.alloc(0) },
  ]);
}

function decodePixels(data: Uint8Array, width: number, height: number): string | undefined {
  // dontInvert: a code that only scans as light-on-dark would fail real scanners too.
  return jsQR(new Uint8ClampedArray(data.buffer, data.byteOffset, data.length), width, height, { inversionAttempts: 'dontInvert' })?.data;
}

function decodePng(body: Buffer): { png: PNG; text: string | undefined } {
  const png = PNG.sync.read(body);
  return { png, text: decodePixels(png.data, png.width, png.height) };
}

/** Our SVG output drawn by resvg (which draws the embedded logo too) and decoded. */
async function decodeSvg(body: Buffer, size: number): Promise<string | undefined> {
  const image = await rasterizer.rasterize(body, size, size);
  assert.deepEqual([image.width, image.height], [size, size]);
  return decodePixels(image.data, image.width, image.height); // opaque background: premultiplied is plain RGBA
}

const rgbAt = (png: PNG, x: number, y: number) => [...png.data.subarray((y * png.width + x) * 4, (y * png.width + x) * 4 + 3)];

/** Where the modules of a code with a logo land: level H, every module the same whole number of pixels. */
function layoutOf(text: string, { size, margin }: QrOptions) {
  const symbol = QRCode.create(text, { errorCorrectionLevel: 'H' });
  const count = symbol.modules.size + 2 * margin;
  const px = Math.floor(size / count);
  return { symbol, count, px, offset: Math.floor((size - px * count) / 2) };
}

function refusal(pattern: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof AppError, `expected an AppError, got ${String(e)}`);
    assert.equal(e.code, 'validation_failed');
    assert.equal(e.status, 400);
    assert.deepEqual(e.errors?.map((f) => f.field), ['logo']);
    assert.match(e.errors?.[0]?.message ?? '', pattern);
    return true;
  };
}

const svgLogo = (body: string, attributes = 'viewBox="0 0 10 10"') => Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" ${attributes}>${body}</svg>`);

describe('parseLogo: what it accepts', () => {
  test('a PNG: decoded, its aspect and a hash of what is embedded', () => {
    const bytes = discPng(300, 200);
    const logo = parseLogo(bytes, 'image/png');
    assert.equal(logo.type, 'png');
    assert.equal(logo.contentType, 'image/png');
    const png = logo as PngLogo;
    assert.deepEqual([png.width, png.height, png.aspect], [300, 200, 1.5]);
    assert.equal(png.rgba.length, 300 * 200 * 4);
    assert.deepEqual(png.bytes, bytes, 'pngjs writes no ancillary chunk: nothing to strip');
    assert.equal(logo.sha256, createHash('sha256').update(bytes).digest('base64url'));
  });

  test('the content type may carry parameters, be missing or be application/octet-stream (curl -F): the bytes decide', () => {
    const bytes = discPng(40, 40);
    for (const type of ['image/png; charset=binary', 'IMAGE/PNG', undefined, '', 'application/octet-stream']) assert.equal(parseLogo(bytes, type).type, 'png', String(type));
    for (const type of [undefined, 'application/octet-stream', 'image/svg+xml; charset=utf-8']) assert.equal(parseLogo(Buffer.from(LOGO_SVG), type).type, 'svg', String(type));
  });

  test('PNG metadata (EXIF, text, colour profiles) and bytes after IEND are dropped from what is embedded; the pixels stay', () => {
    const plain = discPng(64, 32);
    const chunks = chunksOf(plain);
    const withMetadata = Buffer.concat([
      pngOf([chunks[0]!, { type: 'tEXt', data: Buffer.from('Comment\0made at 51.5N 0.1W') }, { type: 'eXIf', data: Buffer.from('MM\0*') }, ...chunks.slice(1)]),
      Buffer.from('<html>trailing bytes</html>'),
    ]);
    const logo = parseLogo(withMetadata) as PngLogo;
    assert.deepEqual(logo.bytes, plain);
    assert.deepEqual(logo.rgba, (parseLogo(plain) as PngLogo).rgba);
  });

  test('PNGs of every colour type decode to RGBA: grey, RGB, grey+alpha, RGBA, and palette with transparency (pngquant)', () => {
    for (const colorType of [0, 2, 4, 6] as const) {
      const logo = parseLogo(makePng(8, 8, (x) => (x < 4 ? [0, 0, 0, 255] : [255, 255, 255, 255]), { colorType })) as PngLogo;
      assert.deepEqual([...logo.rgba.subarray(0, 4)], [0, 0, 0, 255], `colour type ${colorType}`);
      assert.deepEqual([...logo.rgba.subarray(28, 32)], [255, 255, 255, 255]);
    }
    // 2×1, 2 bits per pixel: palette red, half-transparent blue.
    const palette = rawPng({ width: 2, height: 1, bitDepth: 2, colorType: 3, rows: [Buffer.from([0b0001_0000])], plte: [255, 0, 0, 0, 0, 255], trns: [255, 128] });
    assert.deepEqual([...(parseLogo(palette) as PngLogo).rgba], [255, 0, 0, 255, 0, 0, 255, 128]);
  });

  test('16-bit and interlaced (Adam7) PNGs decode too', () => {
    const sixteen = rawPng({ width: 1, height: 1, bitDepth: 16, colorType: 2, rows: [Buffer.from([0xff, 0xff, 0x80, 0x00, 0x00, 0x00])] });
    assert.deepEqual([...(parseLogo(sixteen) as PngLogo).rgba], [255, 128, 0, 255]);
    // A 1×1 interlaced image has its one pixel in the first pass.
    const interlaced = rawPng({ width: 1, height: 1, bitDepth: 8, colorType: 0, rows: [Buffer.from([0x40])], interlace: 1 });
    assert.deepEqual([...(parseLogo(interlaced) as PngLogo).rgba], [0x40, 0x40, 0x40, 255]);
  });

  test('the largest PNG accepted: 1024×1024 within 64 KB', () => {
    const logo = parseLogo(makePng(1024, 1024, () => [10, 20, 30, 255]));
    assert.equal(logo.aspect, 1);
  });

  const accepted: [string, string, number][] = [
    ['a gradient and a path, width and height in px', LOGO_SVG, 2],
    ['viewBox only', '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 30 10"><circle cx="5" cy="5" r="4"/></svg>', 3],
    ['width and height in mm (Inkscape)', '<svg xmlns="http://www.w3.org/2000/svg" width="50mm" height="25mm" viewBox="0 0 10 10"><rect width="10" height="10"/></svg>', 2],
    ['width 100% (the viewBox decides)', '<svg xmlns="http://www.w3.org/2000/svg" width="100%" height="100%" viewBox="0 0 4 2"><rect width="4" height="2"/></svg>', 2],
    [
      'an Illustrator export: XML declaration, comment, the SVG 1.1 DOCTYPE, a style sheet with classes and a gradient, xml:space',
      `<?xml version="1.0" encoding="utf-8"?>
<!-- Generator: Adobe Illustrator 27.0.0, SVG Export Plug-In . SVG Version: 6.00 Build 0)  -->
<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">
<svg version="1.1" id="Layer_1" xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" x="0px" y="0px"
\t viewBox="0 0 200 100" style="enable-background:new 0 0 200 100;" xml:space="preserve">
<style type="text/css">
\t.st0{fill:url(#SVGID_1_);}
\t.st1{fill:#FFFFFF;}
</style>
<linearGradient id="SVGID_1_" gradientUnits="userSpaceOnUse" x1="0" y1="50" x2="200" y2="50">
\t<stop  offset="0" style="stop-color:#E30613"/>
\t<stop  offset="1" style="stop-color:#312783"/>
</linearGradient>
<rect class="st0" width="200" height="100"/>
<circle class="st1" cx="100" cy="50" r="30"/>
</svg>`,
      2,
    ],
    [
      'an Inkscape export: its namespaces, metadata and a <use> of a symbol',
      `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape" xmlns:sodipodi="http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd" xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:cc="http://creativecommons.org/ns#" viewBox="0 0 20 20" sodipodi:docname="logo.svg">
  <sodipodi:namedview id="nv" inkscape:zoom="4"/>
  <metadata><rdf:RDF><cc:Work rdf:about=""><cc:license rdf:resource="http://creativecommons.org/licenses/by/4.0/"/></cc:Work></rdf:RDF></metadata>
  <defs><g id="dot"><circle r="3" fill="#0a7"/></g><clipPath id="c"><rect width="20" height="20"/></clipPath></defs>
  <g inkscape:label="Layer 1" clip-path="url(#c)"><use xlink:href="#dot" x="5" y="5"/><use href="#dot" x="15" y="15"/></g>
</svg>`,
      1,
    ],
  ];
  for (const [name, svg, aspect] of accepted) {
    test(`an SVG: ${name}`, async () => {
      const logo = parseLogo(Buffer.from(svg), 'image/svg+xml');
      assert.equal(logo.type, 'svg');
      assert.equal(logo.aspect, aspect);
      assert.doesNotMatch(logo.bytes.toString('utf8'), /<!DOCTYPE/, 'the standard DOCTYPE is dropped, the rest kept');
      // What is accepted, resvg draws: a logo never fails at render time.
      const image = await rasterizer.rasterize(logo.bytes, 100, 100);
      assert.ok(image.width === 100 || image.height === 100);
      assert.ok(image.data.some((v, i) => i % 4 === 3 && v > 0), 'something is drawn');
    });
  }
});

describe('parseLogo: what it refuses, and why', () => {
  const png = discPng(60, 60);
  const chunks = chunksOf(png);
  const idat = chunks.find((c) => c.type === 'IDAT')!;
  const refused: [string, Buffer, string | undefined, RegExp][] = [
    ['nothing', Buffer.alloc(0), 'image/png', /^must not be empty$/],
    ['over 64 KB', Buffer.concat([svgLogo(''), Buffer.alloc(MAX_LOGO_BYTES, ' ')]), 'image/svg+xml', /^must be at most 64 KB \(it is 64\.\d KB\)$/],
    ['a PNG wider than 1024 pixels', makePng(1025, 4, () => [0, 0, 0, 255]), 'image/png', /^must be at most 1024×1024 pixels \(it is 1025×4\)$/],
    ['a JPEG', Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46, 0, 1]), undefined, /^must be a PNG or an SVG image$/],
    ['a JPEG labelled as one', Buffer.from([0xff, 0xd8, 0xff, 0xe0]), 'image/jpeg', /^must be a PNG or an SVG image \(it is image\/jpeg\)$/],
    ['a GIF', Buffer.from('GIF89a\x01\0\x01\0', 'latin1'), 'image/gif', /\(it is image\/gif\)/],
    ['plain text', Buffer.from('hello, logo'), 'text/plain', /\(it is text\/plain\)/],
    ['an SVG labelled image/png', svgLogo(''), 'image/png', /^is labelled image\/png but is not a PNG file$/],
    ['a PNG labelled image/svg+xml', png, 'image/svg+xml', /^is labelled image\/svg\+xml but is a PNG file$/],
    ['a truncated PNG (cut in its image data)', png.subarray(0, Math.floor(png.length / 2)), 'image/png', /^is not a complete PNG: its IDAT chunk is cut short \(truncated\?\)$/],
    ['a PNG cut before IEND', png.subarray(0, png.length - 12), 'image/png', /^is not a complete PNG: it ends before its IEND chunk/],
    ['a PNG with a damaged byte', (() => { const b = Buffer.from(png); b[b.indexOf('IDAT', 0, 'latin1') + 10]! ^= 0xff; return b; })(), 'image/png', /CRC mismatch/],
    ['a PNG whose image data does not inflate', pngOf(chunks.map((c) => (c.type === 'IDAT' ? { type: 'IDAT', data: Buffer.from('not deflate') } : c))), 'image/png', /^is not a readable PNG/],
    ['a PNG whose image data is short of its size', pngOf(chunks.map((c) => (c.type === 'IDAT' ? { type: 'IDAT', data: idat.data.subarray(0, 20) } : c))), 'image/png', /^is not a readable PNG/],
    ['a PNG with no image data', pngOf(chunks.filter((c) => c.type !== 'IDAT')), 'image/png', /no image data \(IDAT\)/],
    ["Apple's CgBI PNG", pngOf([{ type: 'CgBI', data: Buffer.from([0x50, 0, 0x20, 2]) }, ...chunks]), 'image/png', /^is an Apple-optimised PNG \(CgBI\)/],
    ['a PNG with an unknown critical chunk', pngOf([chunks[0]!, { type: 'ABCD', data: Buffer.alloc(4) }, ...chunks.slice(1)]), 'image/png', /a ABCD chunk no PNG decoder knows/],
    ['a PNG with no pixels', pngOf([{ type: 'IHDR', data: Buffer.from([0, 0, 0, 0, 0, 0, 0, 1, 8, 6, 0, 0, 0]) }, ...chunks.slice(1)]), 'image/png', /no pixels/],
    [
      'a decompression bomb (a deflate stream far larger than its pixels)',
      pngOf(chunks.map((c) => (c.type === 'IDAT' ? { type: 'IDAT', data: deflateSync(Buffer.alloc(16 * 1024 * 1024)) } : c))),
      'image/png',
      /does not decompress to what its size needs/,
    ],
    // SVG: scripts and what they hide behind.
    ['SVG with <script>', svgLogo('<script>alert(1)</script>'), 'image/svg+xml', /^must not contain <script>/],
    ['SVG with a prefixed script (svg:script)', svgLogo('<svg:script xmlns:svg="http://www.w3.org/2000/svg">alert(1)</svg:script>'), 'image/svg+xml', /^must not contain <script>/],
    ['SVG with an onload handler', svgLogo('', 'viewBox="0 0 10 10" onload="alert(1)"'), 'image/svg+xml', /^must not have event handler attributes \(onload\)/],
    ['SVG with onclick deep inside', svgLogo('<g><g><rect width="1" height="1" onclick="alert(1)"/></g></g>'), 'image/svg+xml', /\(onclick\)/],
    ['SVG with <foreignObject>', svgLogo('<foreignObject width="10" height="10"><div>hi</div></foreignObject>'), 'image/svg+xml', /^must not contain <foreignObject>/],
    ['SVG with HTML in the XHTML namespace', svgLogo('<foreignObject><div xmlns="http://www.w3.org/1999/xhtml">hi</div></foreignObject>'), 'image/svg+xml', /XHTML namespace/],
    ['SVG linking a javascript: URL', svgLogo('<a href="javascript:alert(1)"><rect width="1" height="1"/></a>'), 'image/svg+xml', /^must not refer to anything outside the file \(href="javascript:alert\(1\)"\)/],
    ['SVG using an external file', svgLogo('<use xlink:href="https://evil.example/sprite.svg#x" xmlns:xlink="http://www.w3.org/1999/xlink"/>'), 'image/svg+xml', /outside the file \(xlink:href="https:\/\/evil/],
    ['SVG hiding an external href behind character references', svgLogo('<use href="&#104;ttps://evil.example/x.svg#a"/>'), 'image/svg+xml', /outside the file \(href="https:\/\/evil/],
    ['SVG filling with an external paint', svgLogo('<rect width="1" height="1" fill="url(https://evil.example/p.svg#p)"/>'), 'image/svg+xml', /outside the file \(url\(https:\/\/evil/],
    ['SVG with an external url() in a style attribute', svgLogo('<rect width="1" height="1" style="fill: url(\'//evil.example/p\')"/>'), 'image/svg+xml', /outside the file \(url\(\/\/evil/],
    ['SVG importing a style sheet', svgLogo('<style>@import "https://evil.example/x.css";</style>'), 'image/svg+xml', /^must not import style sheets/],
    ['SVG with a CSS escape', svgLogo('<style>rect { fill: u\\72l(https://evil.example/p) }</style>'), 'image/svg+xml', /^must not use escapes/],
    ['SVG with a CSS image-set()', svgLogo('<style>rect { fill: image-set("https://evil.example/a.png" 1x) }</style>'), 'image/svg+xml', /image functions/],
    ['SVG with an xml-stylesheet instruction', Buffer.from('<?xml version="1.0"?><?xml-stylesheet href="https://evil.example/x.css"?><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"/>'), 'image/svg+xml', /^must not contain processing instructions/],
    [
      'SVG with entity declarations (billion laughs)',
      Buffer.from('<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><desc>&b;</desc></svg>'),
      'image/svg+xml',
      /^must not contain a DOCTYPE or entity declarations/,
    ],
    ['SVG with an external entity (XXE)', Buffer.from('<!DOCTYPE svg SYSTEM "file:///etc/passwd"><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"/>'), 'image/svg+xml', /DOCTYPE/],
    ['SVG using an undeclared entity', svgLogo('<desc>&nbsp;</desc>'), 'image/svg+xml', /undeclared entity/],
    // What browsers and resvg would draw differently, or resvg not at all.
    ['SVG with text', svgLogo('<text x="0" y="8">ACME</text>'), 'image/svg+xml', /^must not contain text \(<text>\): convert it to outlines/],
    ['SVG embedding a PNG', svgLogo('<image href="data:image/png;base64,iVBORw0KGgo=" width="1" height="1"/>'), 'image/svg+xml', /^must not embed images \(<image>\)/],
    ['SVG with SMIL animation', svgLogo('<rect width="1" height="1"><animate attributeName="x" to="5" dur="1s"/></rect>'), 'image/svg+xml', /^must not be animated \(<animate>\)/],
    ['SVG with <set> (animating an href)', svgLogo('<a><set attributeName="href" to="javascript:alert(1)"/></a>'), 'image/svg+xml', /^must not be animated \(<set>\)/],
    ['SVG with CSS animation', svgLogo('<style>@keyframes spin { to { transform: rotate(1turn) } }</style>'), 'image/svg+xml', /CSS animation/],
    // What would take a browser or resvg minutes to draw.
    [
      'SVG whose <use>s multiply (ten of ten of ten …)',
      svgLogo(
        '<defs><path id="l0" d="M0 0h1"/>' +
          Array.from({ length: 6 }, (_, i) => `<g id="l${i + 1}">${Array.from({ length: 10 }, () => `<use href="#l${i}"/>`).join('')}</g>`).join('') +
          '</defs><use href="#l6"/>',
      ),
      'image/svg+xml',
      new RegExp(`^must not draw more than ${MAX_EXPANDED_ELEMENTS.toLocaleString('en-US')} elements`),
    ],
    ['SVG that uses itself', svgLogo('<g id="a"><use href="#a"/></g>'), 'image/svg+xml', /^must not refer to itself \(#a\)/],
    ['SVG whose style sheet refers to a mask', svgLogo('<mask id="m"><rect width="1" height="1"/></mask><style>rect { mask: url(#m) }</style>'), 'image/svg+xml', /refer to <mask> from a <style> sheet/],
    ['SVG with markers', svgLogo('<marker id="m"><circle r="1"/></marker><path d="M0 0L1 1" marker-mid="url(#m)"/>'), 'image/svg+xml', /^must not contain markers/],
    ['SVG with two elements of one id', svgLogo('<linearGradient id="a"/><mask id="a"/>'), 'image/svg+xml', /same id \(a\)/],
    ['SVG nested past 64 elements', svgLogo(`${'<g>'.repeat(70)}${'</g>'.repeat(70)}`), 'image/svg+xml', /^must not nest elements more than 64 deep/],
    // Not an SVG we can size, or not one at all.
    ['SVG without a viewBox', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>'), 'image/svg+xml', /^must have a viewBox/],
    ['SVG without the SVG namespace', Buffer.from('<svg viewBox="0 0 1 1"/>'), 'image/svg+xml', /^must declare the SVG namespace/],
    ['SVG using an undeclared prefix', svgLogo('<rect inkscape:label="x" width="1" height="1"/>'), 'image/svg+xml', /namespace prefix "inkscape"/],
    ['SVG in em', svgLogo('', 'viewBox="0 0 1 1" width="2em" height="1em"'), 'image/svg+xml', /^must give width as a positive length/],
    ['SVG with an unclosed element', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><g>'), 'image/svg+xml', /<g> is never closed/],
    ['SVG with mismatched tags', svgLogo('<g></rect>'), 'image/svg+xml', /<\/rect> closes <g>/],
    ['SVG with an unquoted attribute', svgLogo('<rect width=1 height="1"/>'), 'image/svg+xml', /well-formed SVG file: unexpected markup/],
    ['SVG with a root that is not <svg>', Buffer.from('<html xmlns="http://www.w3.org/2000/svg"><svg viewBox="0 0 1 1"/></html>'), 'image/svg+xml', /root element must be <svg>/],
    ['SVG in UTF-16', Buffer.from(`\ufeff${svgLogo('').toString()}`, 'utf16le'), 'image/svg+xml', /^must be an SVG file encoded as UTF-8$/],
    ['SVG declaring another encoding', Buffer.from('<?xml version="1.0" encoding="ISO-8859-1"?><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"/>'), 'image/svg+xml', /^must be encoded as UTF-8 \(it declares ISO-8859-1\)$/],
  ];
  for (const [name, bytes, contentType, message] of refused) {
    test(`${name}`, () => assert.throws(() => parseLogo(bytes, contentType), refusal(message)));
  }

  test('the refusal reads as a whole sentence in problem+json detail', () => {
    assert.throws(
      () => parseLogo(svgLogo('<script/>')),
      (e: unknown) => e instanceof AppError && e.detail === 'The logo was refused: it must not contain <script>: logos cannot run scripts.',
    );
  });

  test('a crafted SVG of 64 KB is checked quickly (no regular expression backtracking)', () => {
    const nasty = [
      Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><rect ${'a="1" '.repeat(9_000)}`),
      Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><!--${'-'.repeat(60_000)}`),
      Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><rect fill="${'url('.repeat(15_000)}"/></svg>`),
    ];
    for (const bytes of nasty) {
      const started = performance.now();
      assert.throws(() => parseLogo(bytes, 'image/svg+xml'), AppError);
      assert.ok(performance.now() - started < 500, `${(performance.now() - started).toFixed(0)} ms`);
    }
  });
});

describe('the plate: how much of the code a logo may cover', () => {
  test('in every version, every block keeps at least half its correction, and the plate stays within 20% of the symbol', () => {
    for (let version = 1; version <= 40; version++) {
      const symbol = QRCode.create('x', { version, errorCorrectionLevel: 'H' });
      const size = symbol.modules.size;
      for (const aspect of [0.25, 1, 1.5, 4]) {
        const plate = planPlate(symbol, aspect);
        const { worstBlock, correctable } = plateDamage(symbol, plate);
        assert.ok(worstBlock <= correctable / 2, `v${version} aspect ${aspect}: ${worstBlock} of ${correctable}`);
        assert.ok(plate.width * plate.height <= MAX_PLATE_SHARE * size * size, `v${version} aspect ${aspect}`);
        assert.ok(plate.width % 2 === 1 && plate.height % 2 === 1 && plate.width >= 3 && plate.height >= 3);
        assert.equal(plate.left * 2 + plate.width, size, 'centred');
        assert.equal(plate.top * 2 + plate.height, size, 'centred');
        assert.ok(plate.left >= 9 && plate.top >= 9, 'clear of finder patterns, timing and format information');
      }
    }
  });

  test('the plate follows the logo: wide for a wide logo, tall for a tall one', () => {
    const symbol = QRCode.create(LONG_URL, { errorCorrectionLevel: 'H' });
    const wide = planPlate(symbol, 4);
    const tall = planPlate(symbol, 0.25);
    assert.ok(wide.width > wide.height, JSON.stringify(wide));
    assert.ok(tall.height > tall.width, JSON.stringify(tall));
  });

  test('why not a fixed 20% of the area: at version 13 a centred 29×29 plate (17.7%) is past what level H corrects, and jsQR reads nothing', () => {
    const symbol = QRCode.create('x', { version: 13, errorCorrectionLevel: 'H' });
    const text = `https://lnk.example/${'z'.repeat(150)}`;
    const real = QRCode.create(text, { errorCorrectionLevel: 'H' });
    assert.equal(real.version, 13);
    const decodesWith = (side: number) => {
      const n = real.modules.size;
      const plate = { top: (n - side) / 2, left: (n - side) / 2, width: side, height: side };
      const px = 4;
      const image = new Uint8ClampedArray((n + 8) * px * (n + 8) * px * 4).fill(255);
      for (let r = 0; r < n; r++) {
        for (let c = 0; c < n; c++) {
          const cleared = r >= plate.top && r < plate.top + side && c >= plate.left && c < plate.left + side;
          if (cleared || !real.modules.get(r, c)) continue;
          for (let dy = 0; dy < px; dy++) for (let dx = 0; dx < px; dx++) image.fill(0, (((4 + r) * px + dy) * (n + 8) * px + (4 + c) * px + dx) * 4, (((4 + r) * px + dy) * (n + 8) * px + (4 + c) * px + dx) * 4 + 3);
        }
      }
      return { damage: plateDamage(symbol, plate), decoded: jsQR(image, (n + 8) * px, (n + 8) * px)?.data === text };
    };
    const fixedShare = decodesWith(29);
    assert.ok(fixedShare.damage.worstBlock > fixedShare.damage.correctable);
    assert.equal(fixedShare.decoded, false);
    const planned = planPlate(real, 1);
    const ours = decodesWith(planned.width);
    assert.ok(ours.damage.worstBlock <= ours.damage.correctable / 2);
    assert.equal(ours.decoded, true);
  });
});

describe('renderQr with a PNG logo, as PNG', () => {
  const square = parseLogo(discPng(200, 200));
  const wide = parseLogo(discPng(400, 100));
  const tall = parseLogo(discPng(60, 180));

  const cases: [string, string, Logo, Partial<QrOptions>][] = [];
  for (const [urlName, url] of [['short URL', SHORT_URL], ['long URL', LONG_URL]] as const) {
    for (const size of [160, 256, 512, 1024, 2048]) cases.push([urlName, url, square, { size }]);
    cases.push([urlName, url, wide, { size: 512 }], [urlName, url, tall, { size: 512 }]);
    cases.push([urlName, url, square, { size: 300, margin: 1, fg: '1f3a93', bg: 'fdf6e3' }], [urlName, url, wide, { size: 400, margin: 0 }]);
  }
  for (const [urlName, url, logo, query] of cases) {
    test(`decodes: ${urlName}, logo ${logo.aspect}:1, ${JSON.stringify(query)}`, async () => {
      const opts = options(query);
      const { png, text } = decodePng((await renderQr(url, opts, logo)).body);
      assert.deepEqual([png.width, png.height], [opts.size, opts.size]);
      assert.equal(text, url);
    });
  }

  test(`decodes near the most a code holds at level H (${HUGE_URL.length} characters, version 40) at 2048 px`, async () => {
    assert.equal(QRCode.create(HUGE_URL, { errorCorrectionLevel: 'H' }).version, 40);
    const { text } = decodePng((await renderQr(HUGE_URL, options({ size: 2048 }), square)).body);
    assert.equal(text, HUGE_URL);
  });

  test('decodes at the smallest size allowed, 2 px per module', async () => {
    for (const url of [SHORT_URL, LONG_URL]) {
      const smallest = layoutOf(url, options()).count * 2;
      await assert.rejects(renderQr(url, options({ size: smallest - 1 }), square), (e: unknown) => e instanceof AppError && /error correction H \(a logo needs H\)/.test(e.errors?.[0]?.message ?? ''));
      const { text } = decodePng((await renderQr(url, options({ size: smallest }), square)).body);
      assert.equal(text, url, `${url.length} characters at ${smallest} px`);
    }
  });

  test('is drawn at level H whatever was asked, the modules under the plate cleared, the logo centred with its aspect', async () => {
    const opts = options({ size: 533, fg: '1f2937', bg: 'fafafa' });
    const image = await renderQr(LONG_URL, { ...opts, ecc: 'L' }, wide);
    assert.deepEqual(image.body, (await renderQr(LONG_URL, { ...opts, ecc: 'Q' }, wide)).body, 'the same image for any ecc');
    const { png } = decodePng(image.body);
    const { symbol, px, offset } = layoutOf(LONG_URL, opts);
    const plate = planPlate(symbol, wide.aspect);
    const origin = offset + opts.margin * px;
    const inner = { x: origin + (plate.left + 1) * px, y: origin + (plate.top + 1) * px, width: (plate.width - 2) * px, height: (plate.height - 2) * px };
    const dark: string[] = [];
    const logoPixels: [number, number][] = [];
    for (let y = origin + plate.top * px; y < origin + (plate.top + plate.height) * px; y++) {
      for (let x = origin + plate.left * px; x < origin + (plate.left + plate.width) * px; x++) {
        const colour = rgbAt(png, x, y).map((c) => c.toString(16).padStart(2, '0')).join('');
        const insideBox = x >= inner.x && x < inner.x + inner.width && y >= inner.y && y < inner.y + inner.height;
        if (colour !== 'fafafa' && !insideBox) dark.push(`${x},${y}`);
        if (colour !== 'fafafa') logoPixels.push([x, y]);
      }
    }
    assert.deepEqual(dark, [], 'the plate margin is background only: no module, no logo');
    const xs = logoPixels.map(([x]) => x);
    const ys = logoPixels.map(([, y]) => y);
    const [w, h] = [Math.max(...xs) - Math.min(...xs) + 1, Math.max(...ys) - Math.min(...ys) + 1];
    // The disc of a 4:1 canvas is as tall as the canvas: a logo 4:1 drawn box-wide is box-wide / 4 tall.
    assert.ok(Math.abs(h - inner.width / 4) <= 2, `logo drawn ${w}×${h} in a ${inner.width}×${inner.height} box`);
    assert.ok(Math.abs((Math.min(...xs) + Math.max(...xs)) / 2 - (inner.x + inner.width / 2 - 0.5)) <= 1, 'centred across');
    assert.ok(Math.abs((Math.min(...ys) + Math.max(...ys)) / 2 - (inner.y + inner.height / 2 - 0.5)) <= 1, 'centred down');
  });

  test('transparency shows the background colour, half transparency blends with it, colours stay', async () => {
    const logo = parseLogo(makePng(40, 40, (x) => (x < 10 ? [0, 0, 0, 0] : x < 20 ? [255, 0, 0, 128] : [0, 0, 255, 255])));
    const opts = options({ size: 1024, bg: 'ffff00' });
    const { png } = decodePng((await renderQr(SHORT_URL, opts, logo)).body);
    const { symbol, px, offset } = layoutOf(SHORT_URL, opts);
    const plate = planPlate(symbol, 1);
    const origin = offset + opts.margin * px;
    const box = { x: origin + (plate.left + 1) * px, y: origin + (plate.top + 1) * px, size: (plate.width - 2) * px };
    const at = (fraction: number) => rgbAt(png, Math.floor(box.x + fraction * box.size), box.y + Math.floor(box.size / 2));
    assert.deepEqual(at(0.1), [255, 255, 0], 'transparent: the background');
    const blend = at(0.375);
    assert.ok(blend[0] === 255 && Math.abs(blend[1]! - 127) <= 2 && blend[2] === 0, `half-transparent red over yellow: ${blend.join(',')}`);
    assert.deepEqual(at(0.8), [0, 0, 255], 'opaque: the logo');
  });
});

describe('renderQr with a logo, as SVG', () => {
  const pngLogo = parseLogo(discPng(120, 120));
  const svgLogoParsed = parseLogo(Buffer.from(LOGO_SVG));

  for (const [name, logo] of [['PNG', pngLogo], ['SVG', svgLogoParsed]] as const) {
    test(`${name} logo: level H, the plate's modules absent, one <image> holding the logo's bytes inside the plate`, async () => {
      const opts = options({ format: 'svg', size: 512 });
      const image = await renderQr(LONG_URL, opts, logo);
      const source = image.body.toString('utf8');
      assert.equal(XMLValidator.validate(source), true);
      assert.doesNotMatch(source, /style\s*=|<style/i, 'the admin CSP (style-src self) stays happy');
      const { svg } = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(source) as {
        svg: { 'xmlns:xlink': string; path: { d: string }; image: Record<string, string> };
      };
      assert.equal(svg['xmlns:xlink'], 'http://www.w3.org/1999/xlink');
      assert.equal(svg.image['xlink:href'], `data:${logo.contentType};base64,${logo.bytes.toString('base64')}`);
      const { symbol, count, px, offset } = layoutOf(LONG_URL, opts);
      assert.equal((count - 8 - 17) / 4, symbol.version, 'the module count of level H');
      const plate = planPlate(symbol, logo.aspect);
      const origin = offset + 4 * px;
      const [x, y, w, h] = ['x', 'y', 'width', 'height'].map((k) => Number(svg.image[k]));
      assert.ok(x! >= origin + (plate.left + 1) * px && x! + w! <= origin + (plate.left + plate.width - 1) * px, 'inside the plate, a module in');
      assert.ok(y! >= origin + (plate.top + 1) * px && y! + h! <= origin + (plate.top + plate.height - 1) * px);
      assert.ok(Math.abs(w! / h! - logo.aspect) < 0.05, 'aspect kept');
      for (const [, mx, my, mw] of svg.path.d.matchAll(/M(\d+) (\d+)h(\d+)/g)) {
        const [col, row, cols] = [(Number(mx) - offset) / px - 4, (Number(my) - offset) / px - 4, Number(mw) / px];
        const crosses = row >= plate.top && row < plate.top + plate.height && col < plate.left + plate.width && col + cols > plate.left;
        assert.ok(!crosses, `a module run at row ${row}, columns ${col}–${col + cols - 1}, crosses the plate`);
      }
    });

    test(`${name} logo: the SVG decodes once drawn (resvg), and so does the PNG of the same code, the logo in the same place`, async () => {
      for (const [url, size] of [[SHORT_URL, 256], [LONG_URL, 512], [LONG_URL, 1000]] as const) {
        const svg = await renderQr(url, options({ format: 'svg', size }), logo);
        assert.equal(await decodeSvg(svg.body, size), url, `SVG, ${url.length} characters, ${size} px`);
        const png = await renderQr(url, options({ size }), logo, rasterizer);
        assert.equal(decodePng(png.body).text, url, `PNG, ${url.length} characters, ${size} px`);
      }
      // Same pixels where it matters: the logo's middle has the logo's colour in both.
      const svgDrawn = await rasterizer.rasterize((await renderQr(LONG_URL, options({ format: 'svg' }), logo)).body, 512, 512);
      const { png } = decodePng((await renderQr(LONG_URL, options(), logo, rasterizer)).body);
      const middle = (256 * 512 + 256) * 4;
      assert.deepEqual([...svgDrawn.data.subarray(middle, middle + 3)].map((c) => Math.round(c / 16)), rgbAt(png, 256, 256).map((c) => Math.round(c / 16)));
    });
  }

  test('an SVG logo in a PNG is drawn by the rasterizer, and without one renderQr says so', async () => {
    const { png, text } = decodePng((await renderQr(SHORT_URL, options({ size: 512 }), svgLogoParsed, rasterizer)).body);
    assert.equal(text, SHORT_URL);
    const middle = rgbAt(png, 256, 256);
    assert.ok(middle[0]! > 100 && middle[2]! > 100, `the gradient's middle, purple: ${middle.join(',')}`);
    await assert.rejects(renderQr(SHORT_URL, options(), svgLogoParsed), /needs an SvgRasterizer/);
  });
});

describe('a logo never changes codes without one', () => {
  // The images the renderer drew before logos existed (RENDER_VERSION qr-2). If a qrcode or Node
  // upgrade changes them, RENDER_VERSION must be bumped with the new values.
  const before: [string, QrOptions, string, string][] = [
    [SHORT_URL, options({ format: 'svg' }), '8ee049be0e2a8d31a4de7ed606aad8ad53a116cf244d69931869b318164bb205', '"MiwIyJnMJSW2SaDJLGVoIrgk2bEsujsKXgxUKEXU380"'],
    [SHORT_URL, options(), '79e211878f5f2dad9b1c8f163eb7d5bcedc9ec3d6a5eafabbba2f0f2551440b4', '"YwLek8jhspuaSWAyn9-5QeHVuDrXVGH6uJ98Y1eD6ss"'],
    [SHORT_URL, options({ size: 333, margin: 1, ecc: 'H', fg: '1f3a93', bg: 'fdf6e3' }), 'bfccd19c12a2339265c4cc1fe62c55d3e19b3a7632e1fe97203f7e39622e044d', '"aWFFq45xRVd2-Gp58b-Xzd-KKAvdOXLr35FCFIg8bcg"'],
    [LONG_URL, options({ format: 'svg', size: 1024, margin: 0, ecc: 'Q', fg: '1f2937' }), '6a2292222e5e42c5bed4969dd0a5f8a5412d4eeb625c414a6bbc3a5109cd8e73', '"Yi6nvmw1lmtJLNOwMFySQRUhNlOJzS9Gq0nbUnBOA10"'],
  ];
  for (const [text, opts, sha256, etag] of before) {
    test(`the same bytes and ETag as before: ${opts.format} ${opts.size} ${opts.ecc}`, async () => {
      const image = await renderQr(text, opts);
      assert.equal(createHash('sha256').update(image.body).digest('hex'), sha256);
      assert.equal(image.etag, etag);
      assert.equal(qrEtag(text, opts), etag);
      assert.deepEqual((await renderQr(text, opts, undefined, rasterizer)).body, image.body);
    });
  }

  test('the ETag changes with the logo, and with which logo; not with the ecc a logo overrides', () => {
    const a = parseLogo(discPng(100, 100));
    const b = parseLogo(discPng(100, 101));
    const opts = options();
    const plain = qrEtag(SHORT_URL, opts);
    const withA = qrEtag(SHORT_URL, opts, a);
    assert.notEqual(withA, plain);
    assert.notEqual(qrEtag(SHORT_URL, opts, b), withA);
    assert.notEqual(qrEtag(SHORT_URL, { ...opts, ecc: 'H' }, undefined), withA, 'a plain code at H is not the code with a logo');
    assert.equal(qrEtag(SHORT_URL, { ...opts, ecc: 'L' }, a), withA);
    assert.equal(qrEtag(SHORT_URL, opts, parseLogo(discPng(100, 100))), withA, 'the same logo uploaded again');
    assert.notEqual(qrEtag(SHORT_URL, { ...opts, format: 'svg' }, a), withA);
  });

  test('sizeProblem with a logo judges the code at level H', () => {
    const logo = parseLogo(discPng(10, 10));
    const atM = QRCode.create(LONG_URL, { errorCorrectionLevel: 'M' }).modules.size + 8;
    assert.equal(sizeProblem(LONG_URL, options({ size: atM * 2 })), undefined);
    assert.match(sizeProblem(LONG_URL, options({ size: atM * 2 }), logo) ?? '', /^must be at least \d+ for this link with margin 4 and error correction H \(a logo needs H\)/);
  });

  test('QrRenderer keeps one image per logo', async () => {
    const renderer = new QrRenderer(undefined, { svgRasterizer: rasterizer });
    const a = parseLogo(discPng(100, 100));
    const b = parseLogo(Buffer.from(LOGO_SVG));
    const plain = await renderer.render(SHORT_URL, options());
    const withA = await renderer.render(SHORT_URL, options(), a);
    const withB = await renderer.render(SHORT_URL, options(), b);
    assert.notEqual(withA.etag, plain.etag);
    assert.notEqual(withB.etag, withA.etag);
    assert.equal(await renderer.render(SHORT_URL, options({ ecc: 'Q' }), a), withA, 'from the cache, whatever ecc was asked');
    assert.equal(await renderer.render(SHORT_URL, options()), plain);
    assert.equal(decodePng(withB.body).text, SHORT_URL);
  });
});

describe('QrRenderer and stored logos', () => {
  test('a very wide or tall SVG logo is drawn as nothing where it would be under a pixel thin, not as a failure (resvg refuses a zero size)', async () => {
    for (const viewBox of ['0 0 1000 10', '0 0 10 1000', '0 0 1e30 10']) {
      const logo = parseLogo(svgLogo('<rect width="1e30" height="1e30" fill="#c00"/>', `viewBox="${viewBox}"`));
      for (const size of [100, 512]) {
        const { text } = decodePng((await renderQr(SHORT_URL, options({ size }), logo, rasterizer)).body);
        assert.equal(text, SHORT_URL, `${viewBox} at ${size}`);
      }
    }
    assert.deepEqual(await rasterizer.rasterize(svgLogo('<rect width="10" height="1"/>', 'viewBox="0 0 100 1"'), 40, 40), { width: 0, height: 0, data: new Uint8Array(0) });
    assert.deepEqual(
      [await rasterizer.rasterize(svgLogo('<rect width="10" height="1"/>', 'viewBox="0 0 20 1"'), 40, 40)].map((i) => [i.width, i.height]),
      [[40, 2]],
      'two pixels thin is drawn',
    );
  });

  test('storedLogo parses a stored logo once per hash, reading its bytes only then; a logo removed meanwhile is none', async () => {
    const renderer = new QrRenderer();
    const bytes = discPng(100, 100);
    let reads = 0;
    const read = async () => {
      reads++;
      return { bytes, contentType: 'image/png' };
    };
    const first = await renderer.storedLogo('hash-a', read);
    assert.equal(first?.type, 'png');
    assert.equal(await renderer.storedLogo('hash-a', read), first, 'the same object, from memory');
    assert.equal(reads, 1);
    assert.equal(await renderer.storedLogo('hash-b', async () => undefined), undefined);
    // Bounded by bytes and pixels: a cache too small for one logo keeps none, and parses every time.
    const tiny = new QrRenderer(undefined, { logoCacheBytes: 1_000 });
    await tiny.storedLogo('hash-a', read);
    await tiny.storedLogo('hash-a', read);
    assert.equal(reads, 3);
  });

  test('tryLogo refuses on `logo` an SVG that parses but resvg cannot draw; a rasterizer that draws nothing is the server’s fault', async () => {
    // A viewBox of 1e-39: positive to parseLogo (a double), zero to resvg (a float).
    const undrawable = parseLogo(svgLogo('<rect width="5" height="5"/>', 'viewBox="0 0 1e-39 1e-39"'));
    const renderer = new QrRenderer(undefined, { svgRasterizer: rasterizer });
    await assert.rejects(renderer.tryLogo(undrawable), refusal(/^could not be drawn into PNG codes/));
    await renderer.tryLogo(parseLogo(Buffer.from(LOGO_SVG)));
    await renderer.tryLogo(parseLogo(discPng(30, 10)));

    const broken = new QrRenderer(undefined, { svgRasterizer: { rasterize: () => Promise.reject(new Error('no WebAssembly')) } });
    await assert.rejects(broken.tryLogo(parseLogo(Buffer.from(LOGO_SVG))), (e: unknown) => !(e instanceof AppError) && /no WebAssembly/.test(String(e)));
    await broken.tryLogo(parseLogo(discPng(30, 10)));
  });
});
