// The keyword-spotting network of the emulated MCU firmware (agent/firmware/), defined once here:
// its shape, its seeded weights, the int8 quantization of the same weights, and reference forward
// passes that compute exactly what the firmware computes (float32 emulated with Math.fround in the
// firmware's operation order; int8 bit-exact, 64-bit products in BigInt). gen-weights.ts renders
// the C header from this; the tests compare the firmware's results against these references.
//
// Network (NHWC, H = 49 frames, W = 10 MFCC-like coefficients, int8 input as on the kws01 wire):
//   conv 10x4 stride 2x2 'same' → ReLU → [depthwise 3x3 → ReLU → pointwise 1x1 → ReLU] x 2
//   → average pool over 25x5 → fully connected → softmax (12 classes)
// int8: per-output-channel symmetric weights, per-tensor asymmetric activations, int32 bias and
// accumulators, Q31 fixed-point requantization; the pool is requantized to its own scale.
import { heUniform, seededRng, uniform, type Rng } from '../../../protocol/random.js';

export const KWS_SEED = 20250601;
export const KWS_CALIBRATION_SEED = 31337;
export const KWS_CALIBRATION_SAMPLES = 64;

export const KWS = {
  frames: 49,
  coeffs: 10,
  conv1: { channels: 24, kh: 10, kw: 4, sh: 2, sw: 2 },
  dsBlocks: 2,
  classes: 12,
  /** Quantization of the int8 input tensor (the bytes sent with `db`). */
  inputScale: 1 / 32,
  inputZeroPoint: -16,
} as const;

/** Output size of a 'same' convolution and the padding before the first row/column (TensorFlow convention). */
export function samePadding(inSize: number, kernel: number, stride: number): { out: number; before: number } {
  const out = Math.ceil(inSize / stride);
  const total = Math.max((out - 1) * stride + kernel - inSize, 0);
  return { out, before: Math.floor(total / 2) };
}

export const KWS_DIMS = (() => {
  const h = samePadding(KWS.frames, KWS.conv1.kh, KWS.conv1.sh);
  const w = samePadding(KWS.coeffs, KWS.conv1.kw, KWS.conv1.sw);
  return { oh: h.out, ow: w.out, padTop: h.before, padLeft: w.before, inputBytes: KWS.frames * KWS.coeffs };
})();

export interface KwsFloatModel {
  conv1W: Float32Array; conv1B: Float32Array; // [oc][kh][kw] (one input channel)
  dwW: Float32Array[]; dwB: Float32Array[]; // [ky][kx][c]
  pwW: Float32Array[]; pwB: Float32Array[]; // [oc][ic]
  fcW: Float32Array; fcB: Float32Array; // [class][c]
}

const f = Math.fround;
function smallBiases(rng: Rng, count: number, bound: number): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = uniform(rng, bound);
  return out;
}

/** An MFCC-like 49x10 int8 input: per-coefficient offsets, a "word" segment with its own spectral pattern, noise. */
export function kwsInput(seed: number): Int8Array {
  const rng = seededRng(seed);
  const { frames, coeffs, inputScale, inputZeroPoint } = KWS;
  const base = Array.from({ length: coeffs }, () => uniform(rng, 0.6));
  const pattern = Array.from({ length: coeffs }, () => uniform(rng, 1.6));
  const drift = Array.from({ length: coeffs }, () => uniform(rng, 0.04));
  const start = Math.floor(rng() * (frames / 2));
  const length = 8 + Math.floor(rng() * (frames / 2));
  const out = new Int8Array(frames * coeffs);
  for (let t = 0; t < frames; t++) {
    const inWord = t >= start && t < start + length;
    for (let j = 0; j < coeffs; j++) {
      const noise = (rng() + rng() + rng() - 1.5) * 0.25;
      const x = base[j]! + (inWord ? pattern[j]! + drift[j]! * (t - start) : 0.15 * pattern[j]!) + noise;
      out[t * coeffs + j] = Math.max(-128, Math.min(127, Math.round(x / inputScale) + inputZeroPoint));
    }
  }
  return out;
}

// ---- float32 forward pass (the fp32 firmware's arithmetic, operation by operation) -----------

export interface FloatActivations {
  layers: Float32Array[]; // conv1, dw1, pw1, dw2, pw2 (after ReLU)
  pooled: Float32Array;
  logits: Float32Array;
  scores: Float32Array;
}

function dequantizeInput(input: Int8Array): Float32Array {
  const x = new Float32Array(input.length);
  for (let i = 0; i < input.length; i++) x[i] = f((input[i]! - KWS.inputZeroPoint) * f(KWS.inputScale));
  return x;
}

export function forwardFloat(m: KwsFloatModel, input: Int8Array): FloatActivations {
  const { frames: ih, coeffs: iw, conv1, classes } = KWS;
  const { oh, ow, padTop, padLeft } = KWS_DIMS;
  const c = conv1.channels;
  const x = dequantizeInput(input);
  const layers: Float32Array[] = [];
  let act = new Float32Array(oh * ow * c);
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      for (let oc = 0; oc < c; oc++) {
        let acc = m.conv1B[oc]!;
        for (let ky = 0; ky < conv1.kh; ky++) {
          const iy = oy * conv1.sh + ky - padTop;
          if (iy < 0 || iy >= ih) continue;
          for (let kx = 0; kx < conv1.kw; kx++) {
            const ix = ox * conv1.sw + kx - padLeft;
            if (ix < 0 || ix >= iw) continue;
            acc = f(acc + f(x[iy * iw + ix]! * m.conv1W[(oc * conv1.kh + ky) * conv1.kw + kx]!));
          }
        }
        act[(oy * ow + ox) * c + oc] = acc > 0 ? acc : 0;
      }
    }
  }
  layers.push(act);
  for (let b = 0; b < KWS.dsBlocks; b++) {
    const dw = new Float32Array(oh * ow * c);
    const w = m.dwW[b]!, bias = m.dwB[b]!;
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        for (let ch = 0; ch < c; ch++) {
          let acc = bias[ch]!;
          for (let ky = 0; ky < 3; ky++) {
            const iy = oy + ky - 1;
            if (iy < 0 || iy >= oh) continue;
            for (let kx = 0; kx < 3; kx++) {
              const ix = ox + kx - 1;
              if (ix < 0 || ix >= ow) continue;
              acc = f(acc + f(act[(iy * ow + ix) * c + ch]! * w[(ky * 3 + kx) * c + ch]!));
            }
          }
          dw[(oy * ow + ox) * c + ch] = acc > 0 ? acc : 0;
        }
      }
    }
    layers.push(dw);
    const pw = new Float32Array(oh * ow * c);
    const pwW = m.pwW[b]!, pwB = m.pwB[b]!;
    for (let p = 0; p < oh * ow; p++) {
      for (let oc = 0; oc < c; oc++) {
        let acc = pwB[oc]!;
        for (let ic = 0; ic < c; ic++) acc = f(acc + f(dw[p * c + ic]! * pwW[oc * c + ic]!));
        pw[p * c + oc] = acc > 0 ? acc : 0;
      }
    }
    layers.push(pw);
    act = pw;
  }
  const area = oh * ow;
  const pooled = new Float32Array(c);
  for (let ch = 0; ch < c; ch++) {
    let s = 0;
    for (let p = 0; p < area; p++) s = f(s + act[p * c + ch]!);
    pooled[ch] = f(s / area);
  }
  const logits = new Float32Array(classes);
  for (let k = 0; k < classes; k++) {
    let acc = m.fcB[k]!;
    for (let ch = 0; ch < c; ch++) acc = f(acc + f(pooled[ch]! * m.fcW[k * c + ch]!));
    logits[k] = acc;
  }
  return { layers, pooled, logits, scores: softmaxFloat(logits) };
}

function softmaxFloat(logits: Float32Array): Float32Array {
  let max = logits[0]!;
  for (const v of logits) if (v > max) max = v;
  const e = logits.map((v) => f(Math.exp(f(v - max))));
  let sum = 0;
  for (const v of e) sum = f(sum + v);
  return e.map((v) => f(v / sum));
}

/** Scores as the fp32 firmware prints them, in thousandths: (int)(p * 1000.0f + 0.5f). */
export function floatMilli(scores: Float32Array): number[] {
  return Array.from(scores, (p) => Math.trunc(f(f(p * 1000) + 0.5)));
}

// ---- weights ---------------------------------------------------------------------------------

/** Standard deviation of the logits over the calibration inputs (sets how peaked the scores are). */
const LOGIT_SPREAD = 2;

/**
 * Seeded He-uniform weights. The classifier is then normalised on calibration inputs (bias
 * centres each logit, one gain sets the logits' spread) so different inputs win different classes.
 */
export function buildFloatModel(seed = KWS_SEED): KwsFloatModel {
  const rng = seededRng(seed);
  const { conv1, classes } = KWS;
  const c = conv1.channels;
  const m: KwsFloatModel = {
    conv1W: heUniform(rng, c * conv1.kh * conv1.kw, conv1.kh * conv1.kw),
    conv1B: smallBiases(rng, c, 0.05),
    dwW: [], dwB: [], pwW: [], pwB: [],
    fcW: heUniform(rng, classes * c, c),
    fcB: new Float32Array(classes),
  };
  for (let b = 0; b < KWS.dsBlocks; b++) {
    m.dwW.push(heUniform(rng, 9 * c, 9));
    m.dwB.push(smallBiases(rng, c, 0.05));
    m.pwW.push(heUniform(rng, c * c, c));
    m.pwB.push(smallBiases(rng, c, 0.05));
  }
  const calib = calibrationInputs().map((x) => forwardFloat(m, x).logits);
  const mean = new Float64Array(classes);
  for (const l of calib) for (let k = 0; k < classes; k++) mean[k]! += l[k]! / calib.length;
  let variance = 0;
  for (const l of calib) for (let k = 0; k < classes; k++) variance += (l[k]! - mean[k]!) ** 2 / (calib.length * classes);
  const gain = LOGIT_SPREAD / Math.sqrt(variance || 1);
  m.fcW = m.fcW.map((w) => w * gain);
  m.fcB = Float32Array.from(mean, (v) => -v * gain + uniform(rng, 0.2));
  return m;
}

export function calibrationInputs(): Int8Array[] {
  return Array.from({ length: KWS_CALIBRATION_SAMPLES }, (_, i) => kwsInput(KWS_CALIBRATION_SEED + i));
}

// ---- int8 quantization -------------------------------------------------------------------------

export interface QuantParams { scale: number; zeroPoint: number }

export interface QLayer {
  w: Int8Array;
  bias: Int32Array;
  /** Requantization per output channel: out = zp + round(acc * mult / 2^31 / 2^shift). */
  mult: Int32Array;
  shift: Int32Array;
  input: QuantParams;
  output: QuantParams;
  /** Clamp of the int8 output (ReLU fused: [output zero point, 127]). */
  actMin: number;
  actMax: number;
}

/** Average pool: out = zp + requantize(sum over the area of (x - input zp)), clamped to int8. */
export interface QPool { mult: number; shift: number; input: QuantParams; output: QuantParams }

export interface KwsInt8Model {
  conv1: QLayer;
  dw: QLayer[];
  pw: QLayer[];
  pool: QPool;
  fc: QLayer;
  /** exp(-logitScale * d) in Q16 for d = 0..255 (softmax on the int8 logits). */
  expTable: Uint32Array;
}

/** Margin over the calibrated range of the pooled features and the logits, so unseen inputs rarely clip. */
const LOGIT_HEADROOM = 1.6;

/** Asymmetric int8 parameters covering [lo, hi] (always including 0). */
function activationParams(lo: number, hi: number): QuantParams {
  const min = Math.min(lo, 0), max = Math.max(hi, 0);
  const scale = f(max > min ? (max - min) / 255 : 1);
  return { scale, zeroPoint: Math.max(-128, Math.min(127, Math.round(-128 - min / scale))) };
}

/** A positive real multiplier as a Q31 mantissa in [2^30, 2^31) and a right shift (negative: left). */
export function quantizeMultiplier(real: number): { mult: number; shift: number } {
  if (!(real > 0)) throw new Error(`requantization multiplier must be positive, got ${real}`);
  let shift = 0;
  let r = real;
  while (r < 0.5) { r *= 2; shift++; }
  while (r >= 1) { r /= 2; shift--; }
  let mult = Math.round(r * 2 ** 31);
  if (mult === 2 ** 31) { mult /= 2; shift--; }
  if (shift > 31 || shift < -8) throw new Error(`requantization multiplier out of range: ${real}`);
  return { mult, shift };
}

function quantizeLayer(w: Float32Array, b: Float32Array, channels: number, channelOf: (i: number) => number,
  input: QuantParams, output: QuantParams, relu: boolean): QLayer {
  const maxAbs = new Float64Array(channels);
  for (let i = 0; i < w.length; i++) maxAbs[channelOf(i)] = Math.max(maxAbs[channelOf(i)]!, Math.abs(w[i]!));
  const wScale = Array.from(maxAbs, (v) => f(v > 0 ? v / 127 : 1));
  const q = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) q[i] = Math.max(-127, Math.min(127, Math.round(w[i]! / wScale[channelOf(i)]!)));
  const bias = new Int32Array(channels);
  const mult = new Int32Array(channels);
  const shift = new Int32Array(channels);
  for (let ch = 0; ch < channels; ch++) {
    const accScale = input.scale * wScale[ch]!;
    bias[ch] = Math.round(b[ch]! / accScale);
    const qm = quantizeMultiplier(accScale / output.scale);
    // The firmware's requantization handles right shifts only (multipliers below 1).
    if (qm.shift < 0) throw new Error(`requantization multiplier ${accScale / output.scale} >= 1 is not supported`);
    mult[ch] = qm.mult;
    shift[ch] = qm.shift;
  }
  return { w: q, bias, mult, shift, input, output, actMin: relu ? output.zeroPoint : -128, actMax: 127 };
}

export function quantizeModel(m: KwsFloatModel): KwsInt8Model {
  const c = KWS.conv1.channels;
  const nLayers = 1 + 2 * KWS.dsBlocks;
  const hi = new Float64Array(nLayers);
  let logitLo = 0, logitHi = 0, pooledHi = 0;
  for (const x of calibrationInputs()) {
    const a = forwardFloat(m, x);
    a.layers.forEach((layer, i) => { for (const v of layer) if (v > hi[i]!) hi[i] = v; });
    for (const v of a.pooled) pooledHi = Math.max(pooledHi, v);
    for (const v of a.logits) { logitLo = Math.min(logitLo, v); logitHi = Math.max(logitHi, v); }
  }
  const input: QuantParams = { scale: f(KWS.inputScale), zeroPoint: KWS.inputZeroPoint };
  const acts = Array.from(hi, (h) => activationParams(0, h));
  const logits = activationParams(logitLo * LOGIT_HEADROOM, logitHi * LOGIT_HEADROOM);
  const area = KWS_DIMS.oh * KWS_DIMS.ow;
  const pooledParams = activationParams(0, pooledHi * LOGIT_HEADROOM);
  const poolMult = quantizeMultiplier(acts[nLayers - 1]!.scale / (pooledParams.scale * area));
  const pool: QPool = { ...poolMult, input: acts[nLayers - 1]!, output: pooledParams };
  const kernel = KWS.conv1.kh * KWS.conv1.kw;
  const conv1 = quantizeLayer(m.conv1W, m.conv1B, c, (i) => Math.floor(i / kernel), input, acts[0]!, true);
  const dw: QLayer[] = [], pw: QLayer[] = [];
  for (let b = 0; b < KWS.dsBlocks; b++) {
    dw.push(quantizeLayer(m.dwW[b]!, m.dwB[b]!, c, (i) => i % c, acts[2 * b]!, acts[2 * b + 1]!, true));
    pw.push(quantizeLayer(m.pwW[b]!, m.pwB[b]!, c, (i) => Math.floor(i / c), acts[2 * b + 1]!, acts[2 * b + 2]!, true));
  }
  const fc = quantizeLayer(m.fcW, m.fcB, KWS.classes, (i) => Math.floor(i / c), pooledParams, logits, false);
  const expTable = new Uint32Array(256);
  for (let d = 0; d < 256; d++) expTable[d] = Math.round(Math.exp(-logits.scale * d) * 65536);
  return { conv1, dw, pw, pool, fc, expTable };
}

// ---- int8 forward pass (bit-exact with the int8 firmware) ---------------------------------------

/** round(acc * mult / 2^31) half up, then a rounding (half up) right shift; a negative shift shifts left first. */
export function requantize(acc: number, mult: number, shift: number): number {
  let a = BigInt(acc);
  if (shift < 0) a <<= BigInt(-shift);
  const high = (a * BigInt(mult) + (1n << 30n)) >> 31n;
  if (shift <= 0) return Number(BigInt.asIntN(32, high));
  return Number(BigInt.asIntN(32, high + (1n << BigInt(shift - 1))) >> BigInt(shift));
}

function requantOut(l: QLayer, ch: number, acc: number): number {
  const v = l.output.zeroPoint + requantize(acc, l.mult[ch]!, l.shift[ch]!);
  return Math.max(l.actMin, Math.min(l.actMax, v));
}

export interface Int8Activations { layers: Int8Array[]; pooled: Int8Array; logits: Int8Array; scores: Int8Array }

export function forwardInt8(q: KwsInt8Model, input: Int8Array): Int8Activations {
  const { frames: ih, coeffs: iw, conv1, classes } = KWS;
  const { oh, ow, padTop, padLeft } = KWS_DIMS;
  const c = conv1.channels;
  const layers: Int8Array[] = [];
  let act = new Int8Array(oh * ow * c);
  const zin = q.conv1.input.zeroPoint;
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      for (let oc = 0; oc < c; oc++) {
        let acc = q.conv1.bias[oc]!;
        for (let ky = 0; ky < conv1.kh; ky++) {
          const iy = oy * conv1.sh + ky - padTop;
          if (iy < 0 || iy >= ih) continue;
          for (let kx = 0; kx < conv1.kw; kx++) {
            const ix = ox * conv1.sw + kx - padLeft;
            if (ix < 0 || ix >= iw) continue;
            acc += (input[iy * iw + ix]! - zin) * q.conv1.w[(oc * conv1.kh + ky) * conv1.kw + kx]!;
          }
        }
        act[(oy * ow + ox) * c + oc] = requantOut(q.conv1, oc, acc);
      }
    }
  }
  layers.push(act);
  for (let b = 0; b < KWS.dsBlocks; b++) {
    const dwl = q.dw[b]!, pwl = q.pw[b]!;
    const dw = new Int8Array(oh * ow * c);
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        for (let ch = 0; ch < c; ch++) {
          let acc = dwl.bias[ch]!;
          for (let ky = 0; ky < 3; ky++) {
            const iy = oy + ky - 1;
            if (iy < 0 || iy >= oh) continue;
            for (let kx = 0; kx < 3; kx++) {
              const ix = ox + kx - 1;
              if (ix < 0 || ix >= ow) continue;
              acc += (act[(iy * ow + ix) * c + ch]! - dwl.input.zeroPoint) * dwl.w[(ky * 3 + kx) * c + ch]!;
            }
          }
          dw[(oy * ow + ox) * c + ch] = requantOut(dwl, ch, acc);
        }
      }
    }
    layers.push(dw);
    const pw = new Int8Array(oh * ow * c);
    for (let p = 0; p < oh * ow; p++) {
      for (let oc = 0; oc < c; oc++) {
        let acc = pwl.bias[oc]!;
        for (let ic = 0; ic < c; ic++) acc += (dw[p * c + ic]! - pwl.input.zeroPoint) * pwl.w[oc * c + ic]!;
        pw[p * c + oc] = requantOut(pwl, oc, acc);
      }
    }
    layers.push(pw);
    act = pw;
  }
  const area = oh * ow;
  const pooled = new Int8Array(c);
  for (let ch = 0; ch < c; ch++) {
    let s = 0;
    for (let p = 0; p < area; p++) s += act[p * c + ch]! - q.pool.input.zeroPoint;
    pooled[ch] = Math.max(-128, Math.min(127, q.pool.output.zeroPoint + requantize(s, q.pool.mult, q.pool.shift)));
  }
  const logits = new Int8Array(classes);
  for (let k = 0; k < classes; k++) {
    let acc = q.fc.bias[k]!;
    for (let ch = 0; ch < c; ch++) acc += (pooled[ch]! - q.fc.input.zeroPoint) * q.fc.w[k * c + ch]!;
    logits[k] = requantOut(q.fc, k, acc);
  }
  return { layers, pooled, logits, scores: softmaxInt8(q.expTable, logits) };
}

/** Softmax on int8 logits with a Q16 exp table; output int8 with scale 1/256 and zero point -128. */
function softmaxInt8(table: Uint32Array, logits: Int8Array): Int8Array {
  let max = -128;
  for (const v of logits) if (v > max) max = v;
  let sum = 0;
  for (const v of logits) sum += table[max - v]!;
  return logits.map((v) => Math.min(Math.floor((table[max - v]! * 256 + Math.floor(sum / 2)) / sum), 255) - 128);
}

/** Scores as the int8 firmware prints them, in thousandths of the dequantized value (q + 128) / 256. */
export function int8Milli(scores: Int8Array): number[] {
  return Array.from(scores, (q) => ((q + 128) * 1000 + 128) >> 8);
}

export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}
