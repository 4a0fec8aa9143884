import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { crc32, deflate } from 'node:zlib';
import { LRUCache } from 'lru-cache';
import QRCode from 'qrcode';
import * as z from 'zod';
import { AppError, errors } from '../lib/errors.js';
import { integerParam } from '../lib/request-schemas.js';
import { type Logo, logoRefusal, parseLogo } from './logo.js';
import { logoRect, type PixelRect, type Plate, planPlate } from './logo-plate.js';
import { drawOver, scalePng } from './logo-raster.js';
import type { PremultipliedImage, SvgRasterizer } from './svg-rasterizer.js';

/**
 * Part of every ETag. Bump it when a change here or a qrcode upgrade changes the bytes drawn
 * for the same text and options, so browsers and proxies stop treating old images as current.
 */
const RENDER_VERSION = 'qr-2';

/**
 * Part of the ETag of images with a logo only, beside RENDER_VERSION: bump it when the way logos
 * are placed or drawn changes, without making every browser fetch every plain code again.
 */
const LOGO_RENDER_VERSION = 'logo-1';

/**
 * WCAG contrast ratio fg must reach against bg. Not WCAG's 3:1 for graphics: ZXing-style
 * decoders (jsQR in the tests) read a flat block as light unless it is darker than about half
 * its light neighbours, and most pairs below ~4:1 on a light background did not scan.
 */
const MIN_CONTRAST_RATIO = 4.5;

const DEFAULT_CACHE_BYTES = 8 * 1024 * 1024;
/** Parsed logos kept in memory: a 1024×1024 PNG logo is 4 MB of pixels, most are a few KB. */
const DEFAULT_LOGO_CACHE_BYTES = 16 * 1024 * 1024;

/** `1f2937`, `#1F2937` or `%231f2937` in a query string; kept lower-case without '#'. */
const hexColour = (fallback: string) =>
  z
    .string()
    .regex(/^#?[0-9A-Fa-f]{6}$/, 'must be a 6-digit hex colour such as 1f2937')
    .transform((s) => s.replace('#', '').toLowerCase())
    .default(fallback);

/** WCAG 2 relative luminance of a 6-digit hex colour. */
function luminance(hex: string): number {
  const [r = 0, g = 0, b = 0] = [0, 2, 4].map((i) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

function contrastProblem(fg: string, bg: string): string | undefined {
  const dark = luminance(fg);
  const light = luminance(bg);
  if (dark >= light) return 'must be darker than bg: scanners need dark modules on a light background';
  const ratio = (light + 0.05) / (dark + 0.05);
  if (ratio < MIN_CONTRAST_RATIO) {
    return `has too little contrast with bg (${ratio.toFixed(2)}:1, at least ${MIN_CONTRAST_RATIO}:1 is needed): scanners need dark modules on a light background`;
  }
  return undefined;
}

/**
 * Query string of the QR image routes (`?format=png&size=256&fg=1f2937`). Unknown parameters
 * are refused like everywhere else in the API, so a misspelt option never silently falls back.
 */
export const qrOptionsSchema = z
  .strictObject({
    format: z.enum(['svg', 'png'], { message: 'must be "svg" or "png"' }).default('svg').meta({ description: 'svg (default) or png' }),
    size: integerParam(64, 2048, 512).meta({
      description: 'Pixels, 64–2048 (default 512); for SVG its width and height. At least 2 px per module (3 with margin 0): a smaller size is refused naming the smallest that works for this link',
    }),
    margin: integerParam(0, 16, 4).meta({ description: 'Quiet zone in modules, 0–16 (default 4, what the QR specification asks for)' }),
    ecc: z.enum(['L', 'M', 'Q', 'H'], { message: 'must be L, M, Q or H' }).default('M').meta({ description: 'Error correction (default M); H survives a logo or wear' }),
    fg: hexColour('000000').meta({ description: 'Module colour, hex (default 000000); contrast with bg at least 4.5:1, darker than bg' }),
    bg: hexColour('ffffff').meta({ description: 'Background colour, hex (default ffffff)' }),
    logo: z
      .enum(['none'], { message: 'must be "none" (or left out: the logo, if there is one)' })
      .optional()
      .meta({ description: "none: without the logo. Left out: the link's logo, else the workspace's, if either is set (then ecc is H, whatever was asked)" }),
  })
  .superRefine((options, ctx) => {
    const problem = contrastProblem(options.fg, options.bg);
    if (problem) ctx.addIssue({ code: 'custom', path: ['fg'], message: problem });
  });
export type QrOptions = z.output<typeof qrOptionsSchema>;

export interface QrImage {
  body: Buffer;
  contentType: 'image/svg+xml' | 'image/png';
  /** Strong ETag, quoted, ready for the ETag header. */
  etag: string;
}

/**
 * A code with a logo is always drawn at error correction H, whatever was asked: the plate under the
 * logo destroys codewords, and only H has room for that and for wear besides (see logo-plate.ts).
 */
const LOGO_ECC = 'H';
const drawnOptions = (options: QrOptions, logo: Logo | undefined): QrOptions => (logo ? { ...options, ecc: LOGO_ECC } : options);

/**
 * The ETag of an image, computable without rendering it: also the key of QrRenderer's cache. With
 * a logo it covers the logo's bytes (its hash) and not the requested ecc, which a logo overrides.
 * Without one it is what it always was, so plain codes keep their ETags.
 */
export function qrEtag(text: string, options: QrOptions, logo?: Logo): string {
  const { format, size, margin, ecc, fg, bg } = options;
  const input = JSON.stringify(
    logo
      ? [RENDER_VERSION, text, format, size, margin, LOGO_ECC, fg, bg, LOGO_RENDER_VERSION, logo.sha256]
      : [RENDER_VERSION, text, format, size, margin, ecc, fg, bg],
  );
  return `"${createHash('sha256').update(input).digest('base64url')}"`;
}

/** The symbol with its quiet zone: `count` × `count` modules. */
interface ModuleGrid {
  count: number;
  isDark(row: number, col: number): boolean;
  /** With a logo: the modules cleared for it, in modules of the symbol (the quiet zone not counted). */
  plate?: Plate;
}

function moduleGrid(text: string, options: QrOptions, logo?: Logo): ModuleGrid {
  const symbol = QRCode.create(text, { errorCorrectionLevel: options.ecc });
  const { modules } = symbol;
  const { margin } = options;
  const inSymbol = (i: number) => i >= margin && i < margin + modules.size;
  if (!logo) {
    return {
      count: modules.size + 2 * margin,
      isDark: (row, col) => inSymbol(row) && inSymbol(col) && modules.get(row - margin, col - margin) === 1,
    };
  }
  const plate = planPlate(symbol, logo.aspect);
  const inPlate = (row: number, col: number) =>
    row >= plate.top && row < plate.top + plate.height && col >= plate.left && col < plate.left + plate.width;
  return {
    count: modules.size + 2 * margin,
    isDark: (row, col) => inSymbol(row) && inSymbol(col) && !inPlate(row - margin, col - margin) && modules.get(row - margin, col - margin) === 1,
    plate,
  };
}

/**
 * The fewest pixels per module a code may have. At 1.9 px per module or less none of zxing,
 * zbar and OpenCV decoded our codes (70 of 640 requests in the issue-12 review). Without a
 * quiet zone decoders have no light border to find the finder patterns against: 3 there.
 */
const MIN_PX_PER_MODULE = 2;
const MIN_PX_PER_MODULE_WITHOUT_QUIET_ZONE = 3;

/**
 * Why `options.size` is too small for the code of `text`, as the message beside the size field
 * (API and admin form alike), or undefined when scanners read it. The default size is judged
 * like any other: 512 fits every code a short URL makes (with margin 0 it is short only beyond
 * 170 modules: over 1,100 characters at ecc H), and were it ever too small the caller gets
 * this message rather than an image no scanner reads.
 */
export function sizeProblem(text: string, options: QrOptions, logo?: Logo): string | undefined {
  const drawn = drawnOptions(options, logo);
  return sizeProblemOf(moduleGrid(text, drawn, logo), drawn);
}

function sizeProblemOf(grid: ModuleGrid, { size, margin, ecc }: QrOptions): string | undefined {
  const perModule = margin === 0 ? MIN_PX_PER_MODULE_WITHOUT_QUIET_ZONE : MIN_PX_PER_MODULE;
  const smallest = grid.count * perModule;
  if (size >= smallest) return undefined;
  const modules = margin === 0 ? `${grid.count} modules and no quiet zone` : `${grid.count} modules with its quiet zone`;
  const level = grid.plate ? `${ecc} (a logo needs ${LOGO_ECC})` : ecc;
  return `must be at least ${smallest} for this link with margin ${margin} and error correction ${level}: the code has ${modules}, and scanners need ${perModule} px per module`;
}

/**
 * Renders `text` (a short URL) as a QR code. Throws a validation error on `size` when scanners
 * could not read the image (sizeProblem); qrcode's own errors (empty text, text beyond what a QR
 * code holds) are left to surface as internal errors, since short URLs never hit them.
 *
 * With a logo (parseLogo), the code is drawn at error correction H, the modules of a centred plate
 * are cleared (logo-plate.ts says how large) and the logo is drawn inside it, its aspect kept: in
 * SVG as an `<image>` holding the logo's bytes, in PNG composited onto the pixels. An SVG logo in a
 * PNG is drawn by `svgRasterizer` (resvgRasterizer), which only that case needs.
 */
export async function renderQr(text: string, options: QrOptions, logo?: Logo, svgRasterizer?: SvgRasterizer): Promise<QrImage> {
  const drawn = drawnOptions(options, logo);
  const grid = moduleGrid(text, drawn, logo);
  const problem = sizeProblemOf(grid, drawn);
  if (problem) throw errors.validation([{ field: 'size', message: problem }], 'The request query has invalid fields: size.');
  const etag = qrEtag(text, options, logo);
  const placed = logo && grid.plate ? { logo, rect: logoPixels(grid, grid.plate, drawn, logo) } : undefined;
  if (drawn.format === 'svg') return { body: renderSvg(text, grid, drawn, placed), contentType: 'image/svg+xml', etag };
  if (!placed) return { body: await renderPng(grid, drawn), contentType: 'image/png', etag };
  return { body: await renderPngWithLogo(grid, drawn, await logoImage(placed.logo, placed.rect, svgRasterizer), placed.rect), contentType: 'image/png', etag };
}

/** Where the logo goes in an image of `options.size` pixels: on the same whole-pixel layout as the modules. */
function logoPixels(grid: ModuleGrid, plate: Plate, { size, margin }: QrOptions, logo: Logo): PixelRect {
  const { px, offset } = pixelLayout(grid, size);
  return logoRect(plate, offset + margin * px, px, logo.aspect);
}

/** The logo's pixels at the size of `rect`, its aspect kept. */
async function logoImage(logo: Logo, rect: PixelRect, svgRasterizer: SvgRasterizer | undefined): Promise<PremultipliedImage> {
  if (logo.type === 'png') return scalePng(logo, rect.width, rect.height);
  if (!svgRasterizer) throw new Error('renderQr: drawing an SVG logo into a PNG needs an SvgRasterizer');
  return svgRasterizer.rasterize(logo.bytes, rect.width, rect.height);
}

/** Characters XML 1.0 cannot hold at all (C0 controls but tab/LF/CR, lone surrogates, U+FFFE/FFFF). */
const NOT_XML_CHAR = /[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]/gu;
const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;' };
const xmlText = (s: string) => s.replace(NOT_XML_CHAR, '\ufffd').replace(/[&<>]/g, (c) => XML_ESCAPES[c] ?? c);

/**
 * Whole pixels per module, and where the grid starts. At fractional scales modules came out
 * unevenly (some 2 px, some 3), which threw decoders' module-size estimate off (jsQR missed 215 of
 * 24,040 sizes above the 2 px minimum, all fractional); so every module gets the same whole number
 * of pixels and the pixels a size leaves over widen the light border, split evenly.
 */
function pixelLayout(grid: ModuleGrid, size: number): { px: number; offset: number } {
  const px = Math.floor(size / grid.count);
  return { px, offset: Math.floor((size - px * grid.count) / 2) };
}

/**
 * One path of horizontal runs on the same whole-pixel layout as the PNG, so the SVG at its own
 * size is the PNG. No style attributes: the admin pages' CSP (style-src 'self') would block them,
 * presentation attributes are fine.
 */
function renderSvg(text: string, grid: ModuleGrid, { size, fg, bg }: QrOptions, placed?: { logo: Logo; rect: PixelRect }): Buffer {
  const n = grid.count;
  const { px, offset } = pixelLayout(grid, size);
  let d = '';
  for (let row = 0; row < n; row++) {
    for (let col = 0; col < n; ) {
      if (!grid.isDark(row, col)) {
        col++;
        continue;
      }
      let end = col + 1;
      while (end < n && grid.isDark(row, end)) end++;
      const width = (end - col) * px;
      d += `M${offset + col * px} ${offset + row * px}h${width}v${px}h-${width}z`;
      col = end;
    }
  }
  const svg =
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<svg xmlns="http://www.w3.org/2000/svg"${placed ? ' xmlns:xlink="http://www.w3.org/1999/xlink"' : ''} width="${size}" height="${size}" viewBox="0 0 ${size} ${size}" shape-rendering="crispEdges">` +
    `<title>${xmlText(text)}</title>` +
    `<rect width="${size}" height="${size}" fill="#${bg}"/>` +
    `<path fill="#${fg}" d="${d}"/>` +
    (placed ? logoElement(placed.logo, placed.rect) : '') +
    '</svg>\n';
  return Buffer.from(svg, 'utf8');
}

/**
 * The logo as an SVG image element. xlink:href rather than SVG 2's href: browsers read both, and
 * the print and design tools people open downloaded codes in often read only xlink:href. A data:
 * URL, so the file stands alone; browsers draw an SVG logo there without its scripts or loads
 * (logo-svg.ts), and the plate around it is the background, light by construction.
 */
function logoElement(logo: Logo, { x, y, width, height }: PixelRect): string {
  return `<image x="${x}" y="${y}" width="${width}" height="${height}" xlink:href="data:${logo.contentType};base64,${logo.bytes.toString('base64')}"/>`;
}

const deflateAsync = promisify(deflate);

/**
 * A 1-bit palette PNG of exactly size × size pixels. Drawn here rather than by qrcode's PNG
 * renderer because that one comes out a pixel short for many size/module-count pairs (it floors
 * a floating-point product) and falls back to 4 px per module when the size is too small.
 * Each pixel takes the module under it on the whole-pixel layout (pixelLayout); outside the grid, -1 (light).
 */
async function renderPng(grid: ModuleGrid, { size, fg, bg }: QrOptions): Promise<Buffer> {
  const moduleAt = moduleAtPixel(grid, size);
  const rowBytes = 1 + Math.ceil(size / 8); // filter-type byte (0: none), then 8 pixels a byte
  const raw = Buffer.alloc(rowBytes * size);
  for (let y = 0; y < size; y++) {
    const start = y * rowBytes;
    if (y > 0 && moduleAt(y) === moduleAt(y - 1)) {
      raw.copy(raw, start, start - rowBytes, start);
      continue;
    }
    const row = moduleAt(y);
    for (let x = 0; x < size; x++) {
      if (grid.isDark(row, moduleAt(x))) raw[start + 1 + (x >> 3)]! |= 0x80 >> (x & 7);
    }
  }
  // Bit depth 1, colour type 3 (palette): index 0 light, index 1 dark.
  return pngFile(size, [1, 3], [pngChunk('PLTE', Buffer.from(bg + fg, 'hex'))], raw);
}

/** The module under each pixel on the whole-pixel layout (pixelLayout), or -1 outside the grid (light). */
function moduleAtPixel(grid: ModuleGrid, size: number): (pixel: number) => number {
  const { px, offset } = pixelLayout(grid, size);
  return (pixel) => {
    const m = Math.floor((pixel - offset) / px);
    return pixel < offset || m >= grid.count ? -1 : m;
  };
}

/**
 * A code with a logo: 8-bit RGB, since the logo brings its own colours and anti-aliased edges
 * (the 1-bit palette of renderPng cannot hold them), on the same layout as renderPng; the logo is
 * blended over the plate's background colour.
 */
async function renderPngWithLogo(grid: ModuleGrid, { size, fg, bg }: QrOptions, logo: PremultipliedImage, rect: PixelRect): Promise<Buffer> {
  const moduleAt = moduleAtPixel(grid, size);
  const [dark, light] = [Buffer.from(fg, 'hex'), Buffer.from(bg, 'hex')];
  const rowBytes = 1 + size * 3; // filter-type byte, then RGB
  const raw = Buffer.alloc(rowBytes * size);
  for (let y = 0; y < size; y++) {
    const start = y * rowBytes;
    if (y > 0 && moduleAt(y) === moduleAt(y - 1)) {
      raw.copy(raw, start, start - rowBytes, start);
      continue;
    }
    const row = moduleAt(y);
    for (let x = 0, i = start + 1; x < size; x++, i += 3) {
      const colour = grid.isDark(row, moduleAt(x)) ? dark : light;
      raw[i] = colour[0]!;
      raw[i + 1] = colour[1]!;
      raw[i + 2] = colour[2]!;
    }
  }
  drawOver(raw, rowBytes, 1, logo, rect);
  // A row the same as the one above becomes PNG's "Up" filter (type 2) of zeros: most rows repeat
  // (a module is many pixels tall), and zeros deflate fast and small (a 2048 px code with a logo:
  // 239 → 99 ms to render, 103 → 42 kB). Bottom up, so each row is compared with the row above as
  // it was drawn.
  for (let y = size - 1; y > 0; y--) {
    const start = y * rowBytes;
    if (raw.compare(raw, start - rowBytes + 1, start, start + 1, start + rowBytes) !== 0) continue;
    raw[start] = 2;
    raw.fill(0, start + 1, start + rowBytes);
  }
  return pngFile(size, [8, 2], [], raw); // bit depth 8, colour type 2 (RGB)
}

/**
 * A square PNG of `size` pixels from its filtered scanlines: signature, IHDR (deflate, adaptive
 * filtering, no interlace), the chunks given (a palette), the deflated rows, IEND.
 */
async function pngFile(size: number, [bitDepth, colourType]: [number, number], before: Buffer[], raw: Buffer): Promise<Buffer> {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header.set([bitDepth, colourType, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', header),
    ...before,
    pngChunk('IDAT', await deflateAsync(raw)),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

function pngChunk(type: string, data: Buffer): Buffer {
  const typeAndData = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const chunk = Buffer.alloc(8 + data.length + 4);
  chunk.writeUInt32BE(data.length, 0);
  typeAndData.copy(chunk, 4);
  chunk.writeUInt32BE(crc32(typeAndData), 8 + data.length);
  return chunk;
}

/**
 * renderQr behind an LRU of recent images, bounded by their total bytes: admin pages and
 * integrations ask for the same few codes again and again. Also keeps the stored logos parsed
 * (storedLogo) and tries new ones (tryLogo). One per app, passed in as a dependency.
 */
export class QrRenderer {
  private readonly images: LRUCache<string, QrImage>;
  private readonly svgRasterizer: SvgRasterizer | undefined;
  private readonly logos: LRUCache<string, Logo>;

  /**
   * `svgRasterizer` draws SVG logos into PNGs (resvgRasterizer(assets)); without it that case throws.
   * `logoCacheBytes` bounds the parsed logos kept (their bytes and decoded pixels).
   */
  constructor(maxBytes = DEFAULT_CACHE_BYTES, deps: { svgRasterizer?: SvgRasterizer; logoCacheBytes?: number } = {}) {
    this.images = new LRUCache({ maxSize: maxBytes, sizeCalculation: (image) => image.body.length });
    this.svgRasterizer = deps.svgRasterizer;
    this.logos = new LRUCache({
      maxSize: deps.logoCacheBytes ?? DEFAULT_LOGO_CACHE_BYTES,
      sizeCalculation: (logo) => logo.bytes.length + (logo.type === 'png' ? logo.rgba.length : 0),
    });
  }

  async render(text: string, options: QrOptions, logo?: Logo): Promise<QrImage> {
    const cached = this.images.get(qrEtag(text, options, logo));
    if (cached) return cached;
    const image = await renderQr(text, options, logo, this.svgRasterizer);
    this.images.set(image.etag, image);
    return image;
  }

  /**
   * A stored logo, parsed once per process: decoding a PNG logo for every image asked for would
   * cost more than drawing the code. Keyed by the hash of its bytes, so a replaced logo is another
   * entry and nothing needs invalidating, on this instance or any other. `read` fetches the bytes
   * on a miss (undefined: the logo was removed meanwhile).
   */
  async storedLogo(sha256: string, read: () => Promise<{ bytes: Buffer; contentType: string } | undefined>): Promise<Logo | undefined> {
    const cached = this.logos.get(sha256);
    if (cached) return cached;
    const stored = await read();
    if (!stored) return undefined;
    const logo = parseLogo(stored.bytes, stored.contentType);
    this.logos.set(sha256, logo);
    return logo;
  }

  /**
   * Draws a code with `logo` once, so that an SVG that parseLogo accepts but resvg cannot draw is
   * refused when it is uploaded (400 on `logo`) rather than failing every PNG of the code later.
   * PNG logos need no trial: parseLogo decoded their pixels already, and drawing them is this
   * module's own arithmetic.
   */
  async tryLogo(logo: Logo): Promise<void> {
    if (logo.type !== 'svg') return;
    try {
      await renderQr(TRIAL_TEXT, TRIAL_OPTIONS, logo, this.svgRasterizer);
    } catch (e) {
      if (e instanceof AppError) throw e;
      // This logo, or the rasterizer itself (its WebAssembly missing)? A logo known to draw tells.
      const rasterizerWorks = await this.svgRasterizer?.rasterize(TRIAL_SVG, 8, 8).then(() => true, () => false);
      if (!rasterizerWorks) throw e;
      // resvg's own words name its internals ("unsafe aliasing in rust"), not the file: not for users.
      throw logoRefusal('could not be drawn into PNG codes (resvg refused it): simplify it, or upload a PNG');
    }
  }
}

/** What tryLogo draws: a short link's code at the default size. */
const TRIAL_TEXT = 'https://lnk.example/abc1234?qr=1';
const TRIAL_OPTIONS: QrOptions = { format: 'png', size: 512, margin: 4, ecc: 'H', fg: '000000', bg: 'ffffff' };
const TRIAL_SVG = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 8 8"><rect width="8" height="8"/></svg>');
