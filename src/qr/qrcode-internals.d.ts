// The part of qrcode's internals that src/qr/logo-plate.ts reads: how its symbols are split into
// Reed-Solomon blocks. Not in @types/qrcode; these are the functions qrcode itself builds symbols with.
declare module 'qrcode/lib/core/error-correction-code.js' {
  import type { ErrorCorrectionLevel } from 'qrcode';
  /** Reed-Solomon blocks of a symbol of `version` at `level` (the level object qrcode returns). */
  export function getBlocksCount(version: number, level: ErrorCorrectionLevel): number | undefined;
  /** Error correction codewords of the whole symbol, all blocks together. */
  export function getTotalCodewordsCount(version: number, level: ErrorCorrectionLevel): number | undefined;
}
