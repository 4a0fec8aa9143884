import type { QRCode } from 'qrcode';
import { getBlocksCount, getTotalCodewordsCount } from 'qrcode/lib/core/error-correction-code.js';

/**
 * How large the light plate under a logo may be: the one rule of how much of a code a logo may
 * cover. Sized from the symbol's layout alone, never its content, so every code of one version gets
 * the same plate for the same logo shape (a printed batch of codes has logos of one size).
 *
 * Why not a fixed share of the area (the usual "up to 20–30% at level H"): errors are counted per
 * Reed-Solomon block, and which blocks the centre of a symbol holds depends on the version. A
 * centred square of 20% of the modules touches more codewords of some block than level H corrects
 * in versions 1–3, 13, 15, 18, 20, 21 and 39 (v2: 157% of a block's correction, v13: 145%), and
 * exactly as many, leaving nothing for wear, in 5–7, 9 and 16. The count is what decoders see:
 * clearing ever larger squares in versions 2, 4, 6, 10, 13 and 18, jsQR failed as soon as it passed
 * what the block corrects, or one size later (a touched codeword whose modules were all light is no
 * error): v13 fails from 25×25, 13% of the area.
 *
 * So the plate is the largest centred rectangle (for the logo's aspect) that touches, in every
 * block, at most PLATE_ERROR_BUDGET of the codewords the block can correct, counting every codeword
 * with one module under the plate as wrong (the worst case, whatever the data). Half: at level H a
 * block corrects about 30% of its codewords, so half leaves about 15% for smudges, glare and blur,
 * what level M (our default) gives a code without a logo. Measured with random damage to 1–4% of
 * the data modules, codes with a logo decoded about as often as plain codes at M (jsQR, 40 trials
 * each). MAX_PLATE_SHARE bounds the plate besides; the budget is tighter in every version (its
 * plates are 2–13% of the area; the usual short link, version 4–5 at H, gets 7×7 or 9×9 modules,
 * a logo about a sixth of the symbol wide).
 *
 * Known limit: ZBar (zbarimg, pyzbar) looks for every alignment pattern, and where the plate covers
 * one (at the very centre in versions 7–13, 21–27 and 35–40; several in large versions) it can lock
 * onto the logo instead and misread the middle of the code. It read 381 of 414 renders of six logos
 * (jsQR and zxing-cpp read all 414); the 15 misses of versions 10–12 all read once the centre
 * alignment pattern was drawn again over the logo. ZXing and jsQR look only for the bottom-right
 * alignment pattern, which the plate never touches; drawing alignment patterns over every logo to
 * serve ZBar would spoil the logos.
 */
const PLATE_ERROR_BUDGET = 0.5;

/** The plate's largest share of the symbol's modules (quiet zone not counted). */
export const MAX_PLATE_SHARE = 0.2;

/**
 * The cleared area, in modules of the symbol (0 is its first module, after the quiet zone). Its
 * sides are odd so that it is centred on whole modules (a symbol has 17 + 4·version, odd).
 */
export interface Plate {
  top: number;
  left: number;
  width: number;
  height: number;
}

export interface PixelRect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * The plate for a logo of `aspect` (width / height) on `symbol` (as QRCode.create made it). The
 * logo itself goes one module inside it (logoRect): the light margin keeps the modules around it
 * readable as modules.
 */
export function planPlate(symbol: QRCode, aspect: number): Plate {
  const size = symbol.modules.size;
  const fits = plateSizes(symbol);
  let best = { width: 3, height: 3, logoArea: 0 };
  for (let i = 0; i < fits.length; i++) {
    const width = 3 + 2 * i;
    const tallest = fits[i]!;
    if (tallest < 3) break;
    // No taller than the logo needs at this width: a taller plate only destroys more codewords.
    const needed = oddAtLeast((width - 2) / aspect + 2);
    const height = Math.max(3, Math.min(tallest, needed, oddAtMost((MAX_PLATE_SHARE * size * size) / width)));
    if (height < 3 || width * height > MAX_PLATE_SHARE * size * size) continue;
    const boxW = width - 2;
    const boxH = height - 2;
    const logoArea = aspect >= boxW / boxH ? (boxW * boxW) / aspect : boxH * boxH * aspect;
    const better = logoArea > best.logoArea + 1e-9 || (Math.abs(logoArea - best.logoArea) <= 1e-9 && width * height < best.width * best.height);
    if (better) best = { width, height, logoArea };
  }
  return { top: (size - best.height) / 2, left: (size - best.width) / 2, width: best.width, height: best.height };
}

/**
 * Where the logo is drawn, in pixels: the plate less one module all round, the logo as large as its
 * aspect allows inside that, centred, in whole pixels. `origin` is the pixel where the symbol's first
 * module starts (after the border and quiet zone), `px` the pixels per module.
 */
export function logoRect(plate: Plate, origin: number, px: number, aspect: number): PixelRect {
  const box = { x: origin + (plate.left + 1) * px, y: origin + (plate.top + 1) * px, width: (plate.width - 2) * px, height: (plate.height - 2) * px };
  const width = aspect >= box.width / box.height ? box.width : Math.max(1, Math.round(box.height * aspect));
  const height = aspect >= box.width / box.height ? Math.max(1, Math.round(box.width / aspect)) : box.height;
  return { x: box.x + Math.floor((box.width - width) / 2), y: box.y + Math.floor((box.height - height) / 2), width, height };
}

/**
 * How many codewords of the worst block a plate touches, against how many the block can correct:
 * the measure the plate is sized by, exposed for the tests' own check of every version.
 */
export function plateDamage(symbol: QRCode, plate: Plate): { worstBlock: number; correctable: number } {
  const map = codewordMap(symbol);
  const perBlock = touchedPerBlock(map, plate);
  return { worstBlock: Math.max(...perBlock), correctable: map.correctable };
}

const oddAtLeast = (x: number) => {
  const n = Math.ceil(x - 1e-9);
  return n % 2 === 1 ? n : n + 1;
};
const oddAtMost = (x: number) => {
  const n = Math.floor(x + 1e-9);
  return n % 2 === 1 ? n : n - 1;
};

/** Per version (a symbol's layout depends on nothing else at one level): index w is the tallest plate of width 3 + 2w. */
const plateSizesByVersion = new Map<string, Int32Array>();

/**
 * For each odd plate width, the tallest odd height within the budget: centred rectangles nest, so
 * the heights fall as widths grow and one walk finds them all. The plate stays inside rows and
 * columns 9 … size-10: clear of the finder patterns, their separators, the format and version
 * information, the timing patterns and the bottom-right alignment pattern decoders look for.
 */
function plateSizes(symbol: QRCode): Int32Array {
  const key = `${symbol.version}/${symbol.errorCorrectionLevel.bit}`;
  const known = plateSizesByVersion.get(key);
  if (known) return known;
  const map = codewordMap(symbol);
  const largest = map.size - 18;
  const limit = Math.floor(map.correctable * PLATE_ERROR_BUDGET);
  const heights = new Int32Array(Math.max(0, (largest - 1) / 2));
  let height = largest;
  for (let i = 0; i < heights.length; i++) {
    const width = 3 + 2 * i;
    const centred = (h: number): Plate => ({ top: (map.size - h) / 2, left: (map.size - width) / 2, width, height: h });
    while (height >= 3 && Math.max(...touchedPerBlock(map, centred(height))) > limit) height -= 2;
    heights[i] = height;
  }
  plateSizesByVersion.set(key, heights);
  return heights;
}

interface CodewordMap {
  size: number;
  /** The codeword each module carries a bit of (in the order they are placed), or -1 (function pattern, remainder bit). */
  codewordAt: Int32Array;
  /** The Reed-Solomon block of each placed codeword. */
  blockOf: Int32Array;
  blocks: number;
  /** Codewords each block corrects: half its error correction codewords. */
  correctable: number;
}

/**
 * Which block each module belongs to, following ISO/IEC 18004 as qrcode implements it: codewords
 * are placed in two-module columns from the bottom right, zig-zagging, skipping function modules
 * (the symbol's reserved bits) and the vertical timing column; data codewords are interleaved
 * across blocks, then error correction codewords. Blocks of the second group hold one data
 * codeword more; every block has the same number of error correction codewords.
 */
function codewordMap(symbol: QRCode): CodewordMap {
  const { modules, version, errorCorrectionLevel } = symbol;
  const size = modules.size;
  const codewordAt = new Int32Array(size * size).fill(-1);
  let bit = 0;
  let row = size - 1;
  let step = -1;
  for (let col = size - 1; col > 0; col -= 2) {
    if (col === 6) col--;
    for (;;) {
      for (const c of [col, col - 1]) {
        if (!modules.isReserved(row, c)) codewordAt[row * size + c] = bit++ >> 3;
      }
      row += step;
      if (row < 0 || row >= size) {
        row -= step;
        step = -step;
        break;
      }
    }
  }
  const total = bit >> 3;
  for (let i = 0; i < codewordAt.length; i++) if (codewordAt[i]! >= total) codewordAt[i] = -1; // remainder bits
  const blocks = getBlocksCount(version, errorCorrectionLevel);
  const ecTotal = getTotalCodewordsCount(version, errorCorrectionLevel);
  if (!blocks || !ecTotal) throw new Error(`no error correction table for version ${version}`);
  const ecPerBlock = ecTotal / blocks;
  const shortData = Math.floor((total - ecTotal) / blocks);
  const longBlocks = (total - ecTotal) % blocks;
  const dataIn = (b: number) => shortData + (b >= blocks - longBlocks ? 1 : 0);
  const blockOf = new Int32Array(total);
  let k = 0;
  for (let i = 0; i <= shortData; i++) for (let b = 0; b < blocks; b++) if (i < dataIn(b)) blockOf[k++] = b;
  for (let i = 0; i < ecPerBlock; i++) for (let b = 0; b < blocks; b++) blockOf[k++] = b;
  if (k !== total) throw new Error(`version ${version}: ${k} codewords interleaved, ${total} placed`);
  return { size, codewordAt, blockOf, blocks, correctable: Math.floor(ecPerBlock / 2) };
}

function touchedPerBlock(map: CodewordMap, plate: Plate): number[] {
  const seen = new Set<number>();
  const perBlock = new Array<number>(map.blocks).fill(0);
  for (let r = plate.top; r < plate.top + plate.height; r++) {
    for (let c = plate.left; c < plate.left + plate.width; c++) {
      const k = map.codewordAt[r * map.size + c]!;
      if (k < 0 || seen.has(k)) continue;
      seen.add(k);
      perBlock[map.blockOf[k]!]!++;
    }
  }
  return perBlock;
}
