import { createHash } from 'node:crypto';
import { crc32, inflateSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { errors } from '../lib/errors.js';
import { checkSvgLogo, SvgRefusal } from './logo-svg.js';

/**
 * A logo to draw in the middle of QR codes, as parseLogo accepted it. Pure data: the caller keeps
 * `bytes` (and `contentType`) and parses them again when it needs the Logo, or keeps the Logo.
 */
export type Logo = PngLogo | SvgLogo;

interface LogoCommon {
  contentType: 'image/png' | 'image/svg+xml';
  /**
   * What is embedded in SVG output and hashed into ETags: a PNG without its ancillary chunks
   * (metadata such as EXIF places and editor comments do not belong in public images, and colour
   * profiles would only make the SVG and PNG outputs differ), or the SVG's UTF-8 text.
   */
  bytes: Buffer;
  /** Width / height, which the logo keeps whatever its size in the code. */
  aspect: number;
  /** SHA-256 of `bytes`, base64url: part of the ETag of every image drawn with this logo. */
  sha256: string;
}

export interface PngLogo extends LogoCommon {
  type: 'png';
  width: number;
  height: number;
  /** Decoded pixels, RGBA 8-bit, not premultiplied, row after row. */
  rgba: Buffer;
}

export interface SvgLogo extends LogoCommon {
  type: 'svg';
}

/** Logos are small: a mark drawn at a few hundred pixels at most. */
export const MAX_LOGO_BYTES = 64 * 1024;
export const MAX_LOGO_PNG_SIDE = 1024;

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** The chunks kept from an uploaded PNG: all that decoding it needs. */
const KEPT_CHUNKS = new Set(['IHDR', 'PLTE', 'tRNS', 'IDAT', 'IEND']);

/**
 * Checks an uploaded logo and makes it ready to draw: a PNG of at most 1024×1024 pixels or an SVG
 * that logo-svg.ts accepts, at most 64 KB either way. `contentType` is the upload's, when there is
 * one (parameters such as charset are ignored; application/octet-stream counts as none): it must
 * agree with the bytes. Anything else is refused with a validation error on the field `logo`,
 * which the API answers as problem+json.
 */
export function parseLogo(bytes: Buffer, contentType?: string): Logo {
  if (bytes.length === 0) throw refusal('must not be empty');
  if (bytes.length > MAX_LOGO_BYTES) throw refusal(`must be at most ${MAX_LOGO_BYTES / 1024} KB (it is ${(bytes.length / 1024).toFixed(1)} KB)`);
  const declared = contentType?.split(';')[0]?.trim().toLowerCase();
  const looksPng = bytes.subarray(0, 8).equals(PNG_SIGNATURE);
  if (declared === 'image/png' || (looksPng && (declared === undefined || declared === '' || declared === 'application/octet-stream'))) {
    if (!looksPng) throw refusal('is labelled image/png but is not a PNG file');
    return parsePng(bytes);
  }
  if (declared === 'image/svg+xml' || declared === undefined || declared === '' || declared === 'application/octet-stream') {
    if (looksPng) throw refusal('is labelled image/svg+xml but is a PNG file');
    return parseSvg(bytes, declared === 'image/svg+xml');
  }
  throw refusal(`must be a PNG or an SVG image (it is ${declared})`);
}

/** An uploaded logo refused: 400 validation_failed on the field `logo`, `message` worded to follow "it". */
export const logoRefusal = (message: string) => errors.validation([{ field: 'logo', message }], `The logo was refused: it ${message}.`);
const refusal = logoRefusal;

function parsePng(bytes: Buffer): PngLogo {
  const { kept, width, height, idat } = readChunks(bytes);
  // pngjs bounds what it inflates for plain PNGs but not for interlaced ones: a deflate stream
  // expands about a thousandfold, so bound it here by what the pixels need (with room for
  // Adam7's extra filter bytes), before pngjs allocates anything.
  const rowBytesAtMost = width * 8 + 1; // 16-bit RGBA
  try {
    inflateSync(idat, { maxOutputLength: 2 * rowBytesAtMost * height + 1024 });
  } catch {
    throw refusal('is not a readable PNG: its image data does not decompress to what its size needs');
  }
  let png: PNG;
  try {
    png = PNG.sync.read(kept);
  } catch (e) {
    throw refusal(`is not a readable PNG (${e instanceof Error ? e.message : String(e)})`);
  }
  return { type: 'png', contentType: 'image/png', bytes: kept, aspect: width / height, sha256: sha256(kept), width, height, rgba: png.data };
}

/**
 * Walks the chunks, checking each one's length and CRC, and keeps those decoding needs. Refuses an
 * unknown critical chunk (Apple's CgBI "PNGs" among them), a missing IHDR/IDAT/IEND, and sizes
 * beyond MAX_LOGO_PNG_SIDE before any pixel is decoded. Bytes after IEND are dropped.
 */
function readChunks(bytes: Buffer): { kept: Buffer; width: number; height: number; idat: Buffer } {
  const kept: Buffer[] = [PNG_SIGNATURE];
  const idat: Buffer[] = [];
  let width = 0;
  let height = 0;
  for (let at = 8; ; ) {
    if (at + 12 > bytes.length) throw refusal('is not a complete PNG: it ends before its IEND chunk (truncated?)');
    const length = bytes.readUInt32BE(at);
    const type = bytes.toString('latin1', at + 4, at + 8);
    const end = at + 12 + length;
    if (!/^[A-Za-z]{4}$/.test(type)) throw refusal('is not a readable PNG: a chunk has an invalid type');
    if (end > bytes.length) throw refusal(`is not a complete PNG: its ${type} chunk is cut short (truncated?)`);
    if (crc32(bytes.subarray(at + 4, at + 8 + length)) !== bytes.readUInt32BE(at + 8 + length)) throw refusal(`is not a readable PNG: its ${type} chunk is damaged (CRC mismatch)`);
    const data = bytes.subarray(at + 8, at + 8 + length);
    if (kept.length === 1) {
      if (type === 'CgBI') throw refusal('is an Apple-optimised PNG (CgBI), which only Apple software reads: export it again as a standard PNG');
      if (type !== 'IHDR' || length !== 13) throw refusal('is not a readable PNG: it does not start with an IHDR chunk');
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      if (width === 0 || height === 0) throw refusal('is not a readable PNG: it has no pixels');
      if (width > MAX_LOGO_PNG_SIDE || height > MAX_LOGO_PNG_SIDE) throw refusal(`must be at most ${MAX_LOGO_PNG_SIDE}×${MAX_LOGO_PNG_SIDE} pixels (it is ${width}×${height})`);
    } else if (type === 'IHDR') {
      throw refusal('is not a readable PNG: it has two IHDR chunks');
    }
    const critical = type[0] === type[0]!.toUpperCase();
    if (critical && !KEPT_CHUNKS.has(type)) throw refusal(`is not a standard PNG: it has a ${type} chunk no PNG decoder knows`);
    if (KEPT_CHUNKS.has(type)) kept.push(bytes.subarray(at, end));
    if (type === 'IDAT') idat.push(data);
    at = end;
    if (type === 'IEND') break;
  }
  if (idat.length === 0) throw refusal('is not a readable PNG: it has no image data (IDAT)');
  return { kept: Buffer.concat(kept), width, height, idat: Buffer.concat(idat) };
}

function parseSvg(bytes: Buffer, labelled: boolean): SvgLogo {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw refusal(labelled ? 'must be an SVG file encoded as UTF-8' : 'must be a PNG or an SVG image');
  }
  // Not an SVG at all (a JPEG, a PDF, a text file): the type-level message, not an XML complaint.
  if (!labelled && !/<svg[\s>]/.test(text)) throw refusal('must be a PNG or an SVG image');
  let checked;
  try {
    checked = checkSvgLogo(text);
  } catch (e) {
    if (e instanceof SvgRefusal) throw refusal(e.message);
    throw e;
  }
  const embedded = Buffer.from(checked.text, 'utf8');
  return { type: 'svg', contentType: 'image/svg+xml', bytes: embedded, aspect: checked.aspect, sha256: sha256(embedded) };
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('base64url');
