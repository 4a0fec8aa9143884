import { initWasm, Resvg } from '@resvg/resvg-wasm';
import type { Assets } from '../lib/assets.js';

/**
 * resvg's WebAssembly build, as an asset path: read straight from the npm package through the
 * asset reader, so the single executable carries it like any other shipped file (scripts/
 * build-binary.mjs must embed this path) and package-lock.json says which version ships.
 */
export const RESVG_WASM = 'node_modules/@resvg/resvg-wasm/index_bg.wasm';

/** Pixels with premultiplied alpha (what resvg draws, and what compositing wants), row after row. */
export interface PremultipliedImage {
  width: number;
  height: number;
  /** RGBA, 8 bits each, colour already multiplied by alpha. */
  data: Uint8Array;
}

/** Draws SVG logos for PNG output. */
export interface SvgRasterizer {
  /**
   * `svg` as large as fits in width × height, its aspect kept (one side exactly, the other at most);
   * 0 × 0 when its short side would be under a pixel.
   */
  rasterize(svg: Buffer, width: number, height: number): Promise<PremultipliedImage>;
}

// initWasm may run once per process: every rasterizer shares the module, whoever asked first.
let ready: Promise<void> | undefined;

/**
 * resvg (Rust, compiled to WebAssembly: no native addon to ship, memory-safe parsing of the
 * uploaded SVG). The 2.5 MB module is compiled on the first SVG logo drawn to PNG, not at startup:
 * most servers never draw one. It has no fonts and loads nothing (an href outside the file is only
 * listed, never fetched); logo-svg.ts refuses text for that reason.
 */
export function resvgRasterizer(assets: Pick<Assets, 'read'>): SvgRasterizer {
  return {
    async rasterize(svg, width, height) {
      ready ??= initWasm(assets.read(RESVG_WASM)).catch((err: unknown) => {
        ready = undefined; // a missing or broken asset may be fixed without a restart
        throw err;
      });
      await ready;
      // Fitted by resvg's own reading of the SVG's size, so the aspect is the one it draws.
      const probe = new Resvg(svg, { font: { loadSystemFonts: false } });
      let wide: boolean;
      let shortSide: number;
      try {
        wide = probe.width / probe.height >= width / height;
        shortSide = wide ? (width * probe.height) / probe.width : (height * probe.width) / probe.height;
      } finally {
        probe.free();
      }
      // A logo thinner than a pixel at this size (a very wide or tall one in a small code) shows
      // nothing; resvg would refuse it ("Target size is zero") and the image request would fail.
      if (shortSide < 1) return { width: 0, height: 0, data: new Uint8Array(0) };
      const resvg = new Resvg(svg, {
        fitTo: wide ? { mode: 'width', value: width } : { mode: 'height', value: height },
        font: { loadSystemFonts: false },
      });
      try {
        const image = resvg.render();
        try {
          return { width: image.width, height: image.height, data: image.pixels };
        } finally {
          image.free();
        }
      } finally {
        resvg.free();
      }
    },
  };
}
