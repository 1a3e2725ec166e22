// Reproducible generator for the example ONNX models in examples/models/: a keyword-spotting
// CNN in fp32, the same network quantized to int8 in QDQ form, and a small MLP with a dynamic
// batch dimension. Weights come from a fixed-seed PRNG (He-uniform); int8 activation ranges are
// calibrated by evaluating the fp32 network in plain JS (float64 arithmetic with +, *, / and
// sqrt only, so results are bit-identical on every platform). Output is byte-for-byte
// deterministic. Usage: node dist/examples/models/generate.js [outDir]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  attr, DataType, encodeModel, floatTensor, int32Tensor, int8Tensor,
  type NodeSpec, type TensorSpec, type ValueInfoSpec,
} from './onnx-writer.js';

export const SEED = 20240917;
export const CALIBRATION_SEED = 7;
export const CALIBRATION_SAMPLES = 16;

/** Network shape: input [1,1,frames,coeffs] → conv1 (3x3, pad 1) → conv2 (3x3, stride 2) → GAP → Gemm. */
export const KWS = { frames: 49, coeffs: 10, c1: 128, c2: 256, classes: 12, conv2Stride: 2, conv2Pad: 1 } as const;
export const MLP = { features: 64, hidden: 32, classes: 10 } as const;
const PRODUCER = { producerName: 'benchfleet-examples', producerVersion: '1' };

export { seededRng as mulberry32, type Rng } from '../../protocol/random.js';
import { heUniform, seededRng as mulberry32, uniform, type Rng } from '../../protocol/random.js';

// He-uniform weights (protocol/random.ts heUniform) rounded to float32, plus small uniform biases.
function biases(rng: Rng, count: number): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = uniform(rng, 0.1);
  return out;
}

export interface KwsWeights { w1: Float32Array; b1: Float32Array; w2: Float32Array; b2: Float32Array; w3: Float32Array; b3: Float32Array }

export function kwsWeights(seed = SEED): KwsWeights {
  const rng = mulberry32(seed);
  const { c1, c2, classes } = KWS;
  return {
    w1: heUniform(rng, c1 * 9, 9), b1: biases(rng, c1),
    w2: heUniform(rng, c2 * c1 * 9, c1 * 9), b2: biases(rng, c2),
    w3: heUniform(rng, classes * c2, c2), b3: biases(rng, classes),
  };
}

/** An MFCC-like [1,1,49,10] input: per-coefficient offsets, a "word" segment with its own pattern, noise. */
export function sampleInput(rng: Rng): Float32Array {
  const { frames, coeffs } = KWS;
  const base = Array.from({ length: coeffs }, () => uniform(rng, 0.5));
  const pattern = Array.from({ length: coeffs }, () => uniform(rng, 1.5));
  const start = Math.floor(rng() * (frames / 2));
  const length = 10 + Math.floor(rng() * (frames / 2));
  const out = new Float32Array(frames * coeffs);
  for (let t = 0; t < frames; t++) {
    const env = t >= start && t < start + length ? 1 : 0.2;
    for (let j = 0; j < coeffs; j++) {
      const noise = (rng() + rng() + rng() - 1.5) * 0.3;
      out[t * coeffs + j] = (base[j] as number) + env * (pattern[j] as number) + noise;
    }
  }
  return out;
}

interface Feature { data: Float64Array; c: number; h: number; w: number }

function conv2d(x: Feature, w: Float32Array, b: Float32Array, outC: number, stride: number, pad: number): Feature {
  const h = Math.floor((x.h + 2 * pad - 3) / stride) + 1;
  const wd = Math.floor((x.w + 2 * pad - 3) / stride) + 1;
  const out = new Float64Array(outC * h * wd);
  for (let o = 0; o < outC; o++) {
    for (let y = 0; y < h; y++) {
      for (let xx = 0; xx < wd; xx++) {
        let acc = b[o] as number;
        for (let c = 0; c < x.c; c++) {
          for (let ky = 0; ky < 3; ky++) {
            const iy = y * stride + ky - pad;
            if (iy < 0 || iy >= x.h) continue;
            for (let kx = 0; kx < 3; kx++) {
              const ix = xx * stride + kx - pad;
              if (ix < 0 || ix >= x.w) continue;
              acc += (x.data[(c * x.h + iy) * x.w + ix] as number) * (w[((o * x.c + c) * 3 + ky) * 3 + kx] as number);
            }
          }
        }
        out[(o * h + y) * wd + xx] = acc;
      }
    }
  }
  return { data: out, c: outC, h, w: wd };
}

const relu = (f: Feature): Feature => ({ ...f, data: f.data.map((v) => (v > 0 ? v : 0)) });

export interface Activations { input: Float64Array; relu1: Float64Array; relu2: Float64Array; pooled: Float64Array; logits: Float64Array }

/** Reference fp32-network forward pass in float64 (used for calibration and for checking ORT). */
export function referenceForward(wts: KwsWeights, input: Float32Array): Activations {
  const { frames, coeffs, c1, c2, classes, conv2Stride, conv2Pad } = KWS;
  const x: Feature = { data: Float64Array.from(input), c: 1, h: frames, w: coeffs };
  const a1 = relu(conv2d(x, wts.w1, wts.b1, c1, 1, 1));
  const a2 = relu(conv2d(a1, wts.w2, wts.b2, c2, conv2Stride, conv2Pad));
  const area = a2.h * a2.w;
  const pooled = new Float64Array(c2);
  for (let c = 0; c < c2; c++) {
    let s = 0;
    for (let i = 0; i < area; i++) s += a2.data[c * area + i] as number;
    pooled[c] = s / area;
  }
  const logits = new Float64Array(classes);
  for (let k = 0; k < classes; k++) {
    let s = wts.b3[k] as number;
    for (let c = 0; c < c2; c++) s += (pooled[c] as number) * (wts.w3[k * c2 + c] as number);
    logits[k] = s;
  }
  return { input: x.data, relu1: a1.data, relu2: a2.data, pooled, logits };
}

// ---- quantization -------------------------------------------------------------------------

interface Range { lo: number; hi: number }
interface ActQuant { scale: number; zeroPoint: number }

function widen(r: Range, values: ArrayLike<number>): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (v < r.lo) r.lo = v;
    if (v > r.hi) r.hi = v;
  }
}

/** Asymmetric int8 parameters covering [lo, hi] (always including 0). */
function actQuant({ lo, hi }: Range): ActQuant {
  const min = Math.min(lo, 0), max = Math.max(hi, 0);
  const scale = Math.fround(max > min ? (max - min) / 255 : 1);
  const zeroPoint = Math.max(-128, Math.min(127, Math.round(-128 - min / scale)));
  return { scale, zeroPoint };
}

/** Symmetric per-output-channel int8 weights (zero point 0, values in [-127, 127]). */
function quantizeWeights(w: Float32Array, channels: number): { q: Int8Array; scales: Float32Array } {
  const per = w.length / channels;
  const q = new Int8Array(w.length);
  const scales = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    let maxAbs = 0;
    for (let i = 0; i < per; i++) maxAbs = Math.max(maxAbs, Math.abs(w[c * per + i] as number));
    const s = Math.fround(maxAbs > 0 ? maxAbs / 127 : 1);
    scales[c] = s;
    for (let i = 0; i < per; i++) q[c * per + i] = Math.max(-127, Math.min(127, Math.round((w[c * per + i] as number) / s)));
  }
  return { q, scales };
}

/** int32 bias with per-channel scale inputScale * weightScale[c], as QLinearConv expects. */
function quantizeBias(b: Float32Array, inputScale: number, wScales: Float32Array): { q: Int32Array; scales: Float32Array } {
  const scales = wScales.map((s) => Math.fround(inputScale * s));
  const q = new Int32Array(b.length);
  for (let c = 0; c < b.length; c++) q[c] = Math.round((b[c] as number) / (scales[c] as number));
  return { q, scales };
}

export interface Calibration { input: ActQuant; relu1: ActQuant; relu2: ActQuant; pooled: ActQuant; logits: ActQuant }

export function calibrate(wts: KwsWeights): Calibration {
  const rng = mulberry32(CALIBRATION_SEED);
  const ranges = { input: { lo: 0, hi: 0 }, relu1: { lo: 0, hi: 0 }, relu2: { lo: 0, hi: 0 }, pooled: { lo: 0, hi: 0 }, logits: { lo: 0, hi: 0 } };
  for (let i = 0; i < CALIBRATION_SAMPLES; i++) {
    const acts = referenceForward(wts, sampleInput(rng));
    for (const key of Object.keys(ranges) as (keyof typeof ranges)[]) widen(ranges[key], acts[key]);
  }
  // 10% headroom on the logits so unseen inputs rarely clip at the output.
  const logits = { lo: ranges.logits.lo * 1.1, hi: ranges.logits.hi * 1.1 };
  return {
    input: actQuant(ranges.input), relu1: actQuant(ranges.relu1), relu2: actQuant(ranges.relu2),
    pooled: actQuant(ranges.pooled), logits: actQuant(logits),
  };
}

// ---- graphs -------------------------------------------------------------------------------

const F = DataType.FLOAT;
const kwsInput: ValueInfoSpec = { name: 'input', elemType: F, shape: [1, 1, KWS.frames, KWS.coeffs] };
const kwsOutput: ValueInfoSpec = { name: 'logits', elemType: F, shape: [1, KWS.classes] };
const conv1Attrs = { kernel_shape: attr.ints([3, 3]), pads: attr.ints([1, 1, 1, 1]), strides: attr.ints([1, 1]) };
const conv2Attrs = { kernel_shape: attr.ints([3, 3]), pads: attr.ints([KWS.conv2Pad, KWS.conv2Pad, KWS.conv2Pad, KWS.conv2Pad]), strides: attr.ints([KWS.conv2Stride, KWS.conv2Stride]) };
const w1Dims = [KWS.c1, 1, 3, 3], w2Dims = [KWS.c2, KWS.c1, 3, 3], w3Dims = [KWS.classes, KWS.c2];

export function kwsFp32(wts: KwsWeights): Buffer {
  const nodes: NodeSpec[] = [
    { opType: 'Conv', name: 'conv1', inputs: ['input', 'conv1_w', 'conv1_b'], outputs: ['conv1_out'], attributes: conv1Attrs },
    { opType: 'Relu', name: 'relu1', inputs: ['conv1_out'], outputs: ['relu1_out'] },
    { opType: 'Conv', name: 'conv2', inputs: ['relu1_out', 'conv2_w', 'conv2_b'], outputs: ['conv2_out'], attributes: conv2Attrs },
    { opType: 'Relu', name: 'relu2', inputs: ['conv2_out'], outputs: ['relu2_out'] },
    { opType: 'GlobalAveragePool', name: 'pool', inputs: ['relu2_out'], outputs: ['pool_out'] },
    { opType: 'Flatten', name: 'flatten', inputs: ['pool_out'], outputs: ['flat'], attributes: { axis: attr.int(1) } },
    { opType: 'Gemm', name: 'fc', inputs: ['flat', 'fc_w', 'fc_b'], outputs: ['logits'], attributes: { transB: attr.int(1) } },
  ];
  const initializers = [
    floatTensor('conv1_w', w1Dims, wts.w1), floatTensor('conv1_b', [KWS.c1], wts.b1),
    floatTensor('conv2_w', w2Dims, wts.w2), floatTensor('conv2_b', [KWS.c2], wts.b2),
    floatTensor('fc_w', w3Dims, wts.w3), floatTensor('fc_b', [KWS.classes], wts.b3),
  ];
  return encodeModel({ ...PRODUCER, irVersion: 8, opsetVersion: 13, graph: { name: 'kws_cnn_fp32', nodes, initializers, inputs: [kwsInput], outputs: [kwsOutput] } });
}

/** Builder for the QDQ graph: quantized activations, int8 weights and int32 biases behind DequantizeLinear. */
class QdqGraph {
  readonly nodes: NodeSpec[] = [];
  readonly initializers: TensorSpec[] = [];

  /** input → QuantizeLinear → DequantizeLinear; returns the dequantized tensor name. */
  qdq(tensor: string, q: ActQuant): string {
    this.quantize(tensor, q);
    return this.dequantize(`${tensor}_q`);
  }

  quantize(tensor: string, q: ActQuant): string {
    this.initializers.push(floatTensor(`${tensor}_scale`, [], [q.scale]), int8Tensor(`${tensor}_zp`, [], [q.zeroPoint]));
    this.nodes.push({ opType: 'QuantizeLinear', name: `${tensor}_quant`, inputs: [tensor, `${tensor}_scale`, `${tensor}_zp`], outputs: [`${tensor}_q`] });
    return `${tensor}_q`;
  }

  /** DequantizeLinear of a quantized activation, reusing its scale/zero-point initializers. */
  dequantize(qTensor: string, paramsOf = qTensor.replace(/_q$/, '')): string {
    this.nodes.push({ opType: 'DequantizeLinear', name: `${qTensor}_dequant`, inputs: [qTensor, `${paramsOf}_scale`, `${paramsOf}_zp`], outputs: [`${qTensor}_dq`] });
    return `${qTensor}_dq`;
  }

  /** Per-channel (axis 0) quantized constant: int8 weights or int32 bias, zero points all 0. */
  constant(name: string, dims: number[], q: Int8Array | Int32Array, scales: Float32Array): string {
    const isBias = q instanceof Int32Array;
    this.initializers.push(
      isBias ? int32Tensor(`${name}_q`, dims, q) : int8Tensor(`${name}_q`, dims, q),
      floatTensor(`${name}_scale`, [scales.length], scales),
      isBias ? int32Tensor(`${name}_zp`, [scales.length], new Int32Array(scales.length)) : int8Tensor(`${name}_zp`, [scales.length], new Int8Array(scales.length)),
    );
    this.nodes.push({ opType: 'DequantizeLinear', name: `${name}_dequant`, inputs: [`${name}_q`, `${name}_scale`, `${name}_zp`], outputs: [name], attributes: { axis: attr.int(0) } });
    return name;
  }
}

export function kwsInt8(wts: KwsWeights, cal: Calibration): Buffer {
  const g = new QdqGraph();
  const w1 = quantizeWeights(wts.w1, KWS.c1), w2 = quantizeWeights(wts.w2, KWS.c2), w3 = quantizeWeights(wts.w3, KWS.classes);
  const b1 = quantizeBias(wts.b1, cal.input.scale, w1.scales);
  const b2 = quantizeBias(wts.b2, cal.relu1.scale, w2.scales);
  const b3 = quantizeBias(wts.b3, cal.pooled.scale, w3.scales);

  const x = g.qdq('input', cal.input);
  g.nodes.push({ opType: 'Conv', name: 'conv1', inputs: [x, g.constant('conv1_w', w1Dims, w1.q, w1.scales), g.constant('conv1_b', [KWS.c1], b1.q, b1.scales)], outputs: ['conv1_out'], attributes: conv1Attrs });
  g.nodes.push({ opType: 'Relu', name: 'relu1', inputs: ['conv1_out'], outputs: ['relu1_out'] });
  const a1 = g.qdq('relu1_out', cal.relu1);
  g.nodes.push({ opType: 'Conv', name: 'conv2', inputs: [a1, g.constant('conv2_w', w2Dims, w2.q, w2.scales), g.constant('conv2_b', [KWS.c2], b2.q, b2.scales)], outputs: ['conv2_out'], attributes: conv2Attrs });
  g.nodes.push({ opType: 'Relu', name: 'relu2', inputs: ['conv2_out'], outputs: ['relu2_out'] });
  const a2 = g.qdq('relu2_out', cal.relu2);
  g.nodes.push({ opType: 'GlobalAveragePool', name: 'pool', inputs: [a2], outputs: ['pool_out'] });
  const pooledQ = g.quantize('pool_out', cal.pooled);
  g.nodes.push({ opType: 'Flatten', name: 'flatten', inputs: [pooledQ], outputs: ['flat_q'], attributes: { axis: attr.int(1) } });
  const flat = g.dequantize('flat_q', 'pool_out');
  g.nodes.push({ opType: 'Gemm', name: 'fc', inputs: [flat, g.constant('fc_w', w3Dims, w3.q, w3.scales), g.constant('fc_b', [KWS.classes], b3.q, b3.scales)], outputs: ['fc_out'], attributes: { transB: attr.int(1) } });
  g.quantize('fc_out', cal.logits);
  g.nodes.push({ opType: 'DequantizeLinear', name: 'logits_dequant', inputs: ['fc_out_q', 'fc_out_scale', 'fc_out_zp'], outputs: ['logits'] });
  return encodeModel({ ...PRODUCER, irVersion: 8, opsetVersion: 13, graph: { name: 'kws_cnn_int8', nodes: g.nodes, initializers: g.initializers, inputs: [kwsInput], outputs: [kwsOutput] } });
}

export function mlpDynamic(seed = SEED + 1): Buffer {
  const rng = mulberry32(seed);
  const { features, hidden, classes } = MLP;
  const w1 = heUniform(rng, hidden * features, features), b1 = biases(rng, hidden);
  const w2 = heUniform(rng, classes * hidden, hidden), b2 = biases(rng, classes);
  const nodes: NodeSpec[] = [
    { opType: 'Gemm', name: 'fc1', inputs: ['input', 'fc1_w', 'fc1_b'], outputs: ['fc1_out'], attributes: { transB: attr.int(1) } },
    { opType: 'Relu', name: 'relu', inputs: ['fc1_out'], outputs: ['relu_out'] },
    { opType: 'Gemm', name: 'fc2', inputs: ['relu_out', 'fc2_w', 'fc2_b'], outputs: ['output'], attributes: { transB: attr.int(1) } },
  ];
  const initializers = [
    floatTensor('fc1_w', [hidden, features], w1), floatTensor('fc1_b', [hidden], b1),
    floatTensor('fc2_w', [classes, hidden], w2), floatTensor('fc2_b', [classes], b2),
  ];
  return encodeModel({
    ...PRODUCER, irVersion: 8, opsetVersion: 13,
    graph: {
      name: 'mlp_dynamic', nodes, initializers,
      inputs: [{ name: 'input', elemType: F, shape: ['batch', features] }],
      outputs: [{ name: 'output', elemType: F, shape: ['batch', classes] }],
    },
  });
}

/** All example models, by file name. */
export function buildModels(): Map<string, Buffer> {
  const wts = kwsWeights();
  return new Map([
    ['kws-cnn-fp32.onnx', kwsFp32(wts)],
    ['kws-cnn-int8.onnx', kwsInt8(wts, calibrate(wts))],
    ['mlp-dynamic.onnx', mlpDynamic()],
  ]);
}

export function writeModels(outDir: string): string[] {
  fs.mkdirSync(outDir, { recursive: true });
  const written: string[] = [];
  for (const [name, bytes] of buildModels()) {
    const file = path.join(outDir, name);
    fs.writeFileSync(file, bytes);
    written.push(file);
  }
  return written;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const outDir = process.argv[2] ?? fileURLToPath(new URL('../../../examples/models/', import.meta.url));
  for (const file of writeModels(outDir)) console.log(`wrote ${file} (${fs.statSync(file).size} bytes)`);
}
