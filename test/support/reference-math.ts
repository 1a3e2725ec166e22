// Helpers for statistical tests that must not share code with what they test: an independent
// PRNG (xorshift32, not the implementation's mulberry32) and a tolerance assertion.
import assert from 'node:assert/strict';

/** xorshift32: a data generator independent of the implementation's mulberry32. */
export function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}

export const close = (actual: number, expected: number, tol: number, what = ''): void => {
  assert.ok(Math.abs(actual - expected) <= tol, `${what} expected ${expected} ± ${tol}, got ${actual}`);
};
