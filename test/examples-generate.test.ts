// Tests for examples/models/generate.ts: regenerating into a temp dir reproduces the committed
// .onnx files byte for byte; onnxruntime-node runs them; the fp32 model matches the generator's
// JS reference forward pass; the int8 QDQ model agrees with the fp32 model (top-1 and cosine
// similarity on seeded inputs the calibration never saw) and is a smaller file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { CALIBRATION_SEED, KWS, MLP, kwsWeights, mulberry32, referenceForward, sampleInput } from '../examples/models/generate.js';

const root = new URL('../../', import.meta.url);
const modelsDir = fileURLToPath(new URL('examples/models/', root));
const generator = fileURLToPath(new URL('dist/examples/models/generate.js', root));
const NAMES = ['kws-cnn-fp32.onnx', 'kws-cnn-int8.onnx', 'mlp-dynamic.onnx'];
const SESSION_OPTIONS: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' };

const argmax = (v: ArrayLike<number>): number => {
  let best = 0;
  for (let i = 1; i < v.length; i++) if ((v[i] as number) > (v[best] as number)) best = i;
  return best;
};

const cosine = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number, y = b[i] as number;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return dot / Math.sqrt(na * nb);
};

async function logits(session: ort.InferenceSession, input: Float32Array): Promise<Float32Array> {
  const out = await session.run({ input: new ort.Tensor('float32', input, [1, 1, KWS.frames, KWS.coeffs]) });
  const t = out.logits;
  assert.ok(t !== undefined, 'model has a logits output');
  assert.deepEqual(t.dims, [1, KWS.classes]);
  return t.data as Float32Array;
}

test('regenerating the example models reproduces the committed files byte for byte', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'benchfleet-models-'));
  try {
    execFileSync(process.execPath, [generator, tmp], { stdio: 'pipe' });
    for (const name of NAMES) {
      const fresh = fs.readFileSync(path.join(tmp, name));
      const committed = fs.readFileSync(path.join(modelsDir, name));
      assert.ok(fresh.equals(committed), `${name} differs from the committed file (run npm run examples)`);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('int8 QDQ model agrees with the fp32 model, which matches the JS reference', async () => {
  const fp32 = await ort.InferenceSession.create(path.join(modelsDir, 'kws-cnn-fp32.onnx'), SESSION_OPTIONS);
  const int8 = await ort.InferenceSession.create(path.join(modelsDir, 'kws-cnn-int8.onnx'), SESSION_OPTIONS);
  const weights = kwsWeights();
  const seed = 424242;
  assert.notEqual(seed, CALIBRATION_SEED);
  const rng = mulberry32(seed);
  const samples = 20;
  let agree = 0;
  let minCos = Infinity;
  const classes = new Set<number>();
  for (let i = 0; i < samples; i++) {
    const x = sampleInput(rng);
    const a = await logits(fp32, x);
    const b = await logits(int8, x);
    const ref = referenceForward(weights, x).logits;
    for (let k = 0; k < KWS.classes; k++) assert.ok(Math.abs((a[k] as number) - (ref[k] as number)) < 1e-3, `fp32 logit ${k} vs reference`);
    if (argmax(a) === argmax(b)) agree++;
    classes.add(argmax(a));
    minCos = Math.min(minCos, cosine(a, b));
  }
  assert.ok(agree >= 18, `top-1 agreement ${agree}/${samples}`);
  assert.ok(minCos > 0.98, `minimum cosine similarity ${minCos}`);
  assert.ok(classes.size > 1, 'inputs should not all map to the same class');
});

test('int8 model file is smaller than the fp32 model file', () => {
  const fp32 = fs.statSync(path.join(modelsDir, 'kws-cnn-fp32.onnx')).size;
  const int8 = fs.statSync(path.join(modelsDir, 'kws-cnn-int8.onnx')).size;
  assert.ok(int8 < fp32 / 2, `int8 ${int8} bytes vs fp32 ${fp32} bytes`);
});

test('mlp-dynamic runs with any batch size', async () => {
  const session = await ort.InferenceSession.create(path.join(modelsDir, 'mlp-dynamic.onnx'), SESSION_OPTIONS);
  const batch = 3;
  const out = await session.run({ input: new ort.Tensor('float32', new Float32Array(batch * MLP.features).fill(0.5), [batch, MLP.features]) });
  assert.deepEqual(out.output?.dims, [batch, MLP.classes]);
});
