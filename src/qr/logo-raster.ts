import type { PngLogo } from './logo.js';
import type { PremultipliedImage } from './svg-rasterizer.js';

/**
 * A PNG logo at width × height. A triangle filter as wide as the scale: bilinear when the logo is
 * enlarged, an average over every source pixel under the target pixel when it is reduced (plain
 * bilinear would skip most of a 1024-pixel logo drawn at 60 and alias its edges). Done on
 * premultiplied colour, so transparent pixels (whose colour is often black) do not darken edges.
 */
export function scalePng(logo: PngLogo, width: number, height: number): PremultipliedImage {
  const { rgba } = logo;
  // Along rows first, premultiplying as the pixels are read (colour × alpha, so 0 … 255²).
  const across = filterTaps(logo.width, width);
  const rows = new Float32Array(logo.height * width * 4);
  for (let y = 0; y < logo.height; y++) {
    const rowIn = y * logo.width * 4;
    const rowOut = y * width * 4;
    for (let t = 0; t < width; t++) {
      let r = 0;
      let g = 0;
      let b = 0;
      let a = 0;
      for (let k = 0, n = across.count[t]!; k < n; k++) {
        const w = across.weight[t * across.taps + k]!;
        const i = rowIn + (across.first[t]! + k) * 4;
        const alpha = rgba[i + 3]!;
        r += w * rgba[i]! * alpha;
        g += w * rgba[i + 1]! * alpha;
        b += w * rgba[i + 2]! * alpha;
        a += w * alpha;
      }
      const o = rowOut + t * 4;
      rows[o] = r;
      rows[o + 1] = g;
      rows[o + 2] = b;
      rows[o + 3] = a * 255;
    }
  }
  // Then down columns, a whole row at a time: memory is read in order.
  const down = filterTaps(logo.height, height);
  const rowLength = width * 4;
  const sums = new Float32Array(height * rowLength);
  for (let t = 0; t < height; t++) {
    const out = t * rowLength;
    for (let k = 0, n = down.count[t]!; k < n; k++) {
      const w = down.weight[t * down.taps + k]!;
      const row = (down.first[t]! + k) * rowLength;
      for (let i = 0; i < rowLength; i++) sums[out + i]! += w * rows[row + i]!;
    }
  }
  const data = new Uint8Array(sums.length);
  for (let i = 0; i < data.length; i++) data[i] = Math.round(sums[i]! / 255);
  return { width, height, data };
}

/**
 * The source pixels each of `to` target pixels is made of, and their weights (summing to 1): a
 * triangle as wide as the scale (at least one source pixel each side), centred where the target
 * pixel's centre falls in the source.
 */
function filterTaps(from: number, to: number): { first: Int32Array; count: Int32Array; weight: Float32Array; taps: number } {
  const scale = from / to;
  const support = Math.max(1, scale);
  const taps = Math.ceil(2 * support) + 1;
  const first = new Int32Array(to);
  const count = new Int32Array(to);
  const weight = new Float32Array(to * taps);
  for (let t = 0; t < to; t++) {
    const centre = (t + 0.5) * scale - 0.5;
    const lo = Math.max(0, Math.ceil(centre - support));
    const hi = Math.min(from - 1, Math.floor(centre + support));
    let total = 0;
    for (let s = lo; s <= hi; s++) total += Math.max(0, 1 - Math.abs(s - centre) / support);
    first[t] = lo;
    count[t] = hi - lo + 1;
    for (let s = lo; s <= hi; s++) weight[t * taps + s - lo] = Math.max(0, 1 - Math.abs(s - centre) / support) / total;
  }
  return { first, count, weight, taps };
}

/**
 * Draws `image` centred in `box` onto RGB scanlines (`stride` bytes a row, `skip` bytes before a
 * row's first pixel: PNG's filter byte): premultiplied source over what is there, the plate's
 * background colour, so a transparent logo shows the background and never a black fringe.
 */
export function drawOver(target: Buffer, stride: number, skip: number, image: PremultipliedImage, box: { x: number; y: number; width: number; height: number }): void {
  const x0 = box.x + Math.floor((box.width - image.width) / 2);
  const y0 = box.y + Math.floor((box.height - image.height) / 2);
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      const s = (y * image.width + x) * 4;
      const alpha = image.data[s + 3]!;
      if (alpha === 0) continue;
      const d = (y0 + y) * stride + skip + (x0 + x) * 3;
      const keep = 1 - alpha / 255;
      for (let c = 0; c < 3; c++) target[d + c] = Math.min(255, Math.round(image.data[s + c]! + target[d + c]! * keep));
    }
  }
}
