import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { crc32, deflate } from 'node:zlib';
import { LRUCache } from 'lru-cache';
import QRCode from 'qrcode';
import * as z from 'zod';
import { errors } from '../lib/errors.js';
import { integerParam } from '../lib/request-schemas.js';

/**
 * Part of every ETag. Bump it when a change here or a qrcode upgrade changes the bytes drawn
 * for the same text and options, so browsers and proxies stop treating old images as current.
 */
const RENDER_VERSION = 'qr-2';

/**
 * WCAG contrast ratio fg must reach against bg. Not WCAG's 3:1 for graphics: ZXing-style
 * decoders (jsQR in the tests) read a flat block as light unless it is darker than about half
 * its light neighbours, and most pairs below ~4:1 on a light background did not scan.
 */
const MIN_CONTRAST_RATIO = 4.5;

const DEFAULT_CACHE_BYTES = 8 * 1024 * 1024;

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

/** The ETag of an image, computable without rendering it: also the key of QrRenderer's cache. */
export function qrEtag(text: string, options: QrOptions): string {
  const { format, size, margin, ecc, fg, bg } = options;
  const input = JSON.stringify([RENDER_VERSION, text, format, size, margin, ecc, fg, bg]);
  return `"${createHash('sha256').update(input).digest('base64url')}"`;
}

/** The symbol with its quiet zone: `count` × `count` modules. */
interface ModuleGrid {
  count: number;
  isDark(row: number, col: number): boolean;
}

function moduleGrid(text: string, options: QrOptions): ModuleGrid {
  const { modules } = QRCode.create(text, { errorCorrectionLevel: options.ecc });
  const { margin } = options;
  const inSymbol = (i: number) => i >= margin && i < margin + modules.size;
  return {
    count: modules.size + 2 * margin,
    isDark: (row, col) => inSymbol(row) && inSymbol(col) && modules.get(row - margin, col - margin) === 1,
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
export function sizeProblem(text: string, options: QrOptions): string | undefined {
  return sizeProblemOf(moduleGrid(text, options), options);
}

function sizeProblemOf(grid: ModuleGrid, { size, margin, ecc }: QrOptions): string | undefined {
  const perModule = margin === 0 ? MIN_PX_PER_MODULE_WITHOUT_QUIET_ZONE : MIN_PX_PER_MODULE;
  const smallest = grid.count * perModule;
  if (size >= smallest) return undefined;
  const modules = margin === 0 ? `${grid.count} modules and no quiet zone` : `${grid.count} modules with its quiet zone`;
  return `must be at least ${smallest} for this link with margin ${margin} and error correction ${ecc}: the code has ${modules}, and scanners need ${perModule} px per module`;
}

/**
 * Renders `text` (a short URL) as a QR code. Throws a validation error on `size` when scanners
 * could not read the image (sizeProblem); qrcode's own errors (empty text, text beyond what a QR
 * code holds) are left to surface as internal errors, since short URLs never hit them.
 */
export async function renderQr(text: string, options: QrOptions): Promise<QrImage> {
  const grid = moduleGrid(text, options);
  const problem = sizeProblemOf(grid, options);
  if (problem) throw errors.validation([{ field: 'size', message: problem }], 'The request query has invalid fields: size.');
  const etag = qrEtag(text, options);
  if (options.format === 'svg') return { body: renderSvg(text, grid, options), contentType: 'image/svg+xml', etag };
  return { body: await renderPng(grid, options), contentType: 'image/png', etag };
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
function renderSvg(text: string, grid: ModuleGrid, { size, fg, bg }: QrOptions): Buffer {
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
    `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 ${size} ${size}" shape-rendering="crispEdges">` +
    `<title>${xmlText(text)}</title>` +
    `<rect width="${size}" height="${size}" fill="#${bg}"/>` +
    `<path fill="#${fg}" d="${d}"/>` +
    '</svg>\n';
  return Buffer.from(svg, 'utf8');
}

const deflateAsync = promisify(deflate);

/**
 * A 1-bit palette PNG of exactly size × size pixels. Drawn here rather than by qrcode's PNG
 * renderer because that one comes out a pixel short for many size/module-count pairs (it floors
 * a floating-point product) and falls back to 4 px per module when the size is too small.
 * Each pixel takes the module under it on the whole-pixel layout (pixelLayout); outside the grid, -1 (light).
 */
async function renderPng(grid: ModuleGrid, { size, fg, bg }: QrOptions): Promise<Buffer> {
  const { px, offset } = pixelLayout(grid, size);
  const moduleAt = (pixel: number) => {
    const m = Math.floor((pixel - offset) / px);
    return pixel < offset || m >= grid.count ? -1 : m;
  };
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
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header.set([1, 3, 0, 0, 0], 8); // bit depth 1, colour type 3 (palette), deflate, no filter, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', header),
    pngChunk('PLTE', Buffer.from(bg + fg, 'hex')), // index 0 light, index 1 dark
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
 * integrations ask for the same few codes again and again. One per app, passed in as a dependency.
 */
export class QrRenderer {
  private readonly images: LRUCache<string, QrImage>;

  constructor(maxBytes = DEFAULT_CACHE_BYTES) {
    this.images = new LRUCache({ maxSize: maxBytes, sizeCalculation: (image) => image.body.length });
  }

  async render(text: string, options: QrOptions): Promise<QrImage> {
    const cached = this.images.get(qrEtag(text, options));
    if (cached) return cached;
    const image = await renderQr(text, options);
    this.images.set(image.etag, image);
    return image;
  }
}
