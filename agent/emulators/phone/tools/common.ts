// Shared by the emulated phone's runner tools (programs a user would download and push: TFLite's
// benchmark_model, ONNX Runtime's onnxruntime_perf_test, llama.cpp's llama-bench). They run on the
// emulated phone as real processes, do real work whose cost follows the model and the settings,
// time it with the monotonic clock and print what the real tools print.
import fs from 'node:fs';

/** C++ ostream default formatting (`%g`, 6 significant digits): 56283.9, 1.24027e+06, 1.5e-05. */
export function g6(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const exp = Math.floor(Math.log10(Math.abs(x)));
  const p = Number(x.toPrecision(6));
  const e = Math.floor(Math.log10(Math.abs(p)));
  if (e < -4 || e >= 6 || exp < -4) {
    const [m, ex] = p.toExponential(5).split('e');
    const mant = m!.includes('.') ? m!.replace(/0+$/, '').replace(/\.$/, '') : m!;
    const n = Number(ex);
    return `${mant}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
  }
  return String(p);
}

/** Peak resident set size of this process, kB (getrusage's ru_maxrss, what the real tools read). */
export function maxRssKb(): number {
  return process.resourceUsage().maxRSS;
}

/** The model's bytes as signed 8-bit weights. */
export function weightsOf(file: string): Int8Array {
  const bytes = fs.readFileSync(file);
  return new Int8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}

/** A deterministic activation vector (256 values, like a small input row). */
export function activations(seed: number): Int8Array {
  const x = new Int8Array(256);
  let s = (seed >>> 0) || 1;
  for (let i = 0; i < x.length; i++) {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    x[i] = (s & 0xff) - 128;
  }
  return x;
}

/**
 * One matrix-vector pass over every weight (int8 multiply-accumulate, as a quantized layer stack
 * does): the cost is proportional to the model's size. `lanes` activations share each loaded
 * weight (a batch of tokens in a prompt).
 */
export function macPass(w: Int8Array, x: Int8Array, lanes = 1): number {
  let acc = 0;
  const n = w.length;
  for (let l = 0; l < lanes; l++) {
    const off = (l * 31) & 255;
    for (let i = 0; i < n; i++) acc = (acc + w[i]! * x[(i + off) & 255]!) | 0;
  }
  return acc;
}

export const nowNs = (): bigint => process.hrtime.bigint();
