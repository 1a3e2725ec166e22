// The emulated phone's llama.cpp `llama-bench` (a program a user pushes): `-m model.gguf`, `-p`,
// `-n`, `-t`, `-r`, `-o md|json|jsonl`, `--no-warmup`. Every test really computes: a generated token
// is one int8 multiply-accumulate pass over all the model's bytes (decode reads every weight per
// token, as on a phone), a prompt is processed in batches of 8 tokens that share each loaded
// weight. Throughput is 1e9 × tokens / ns per repetition, reported like llama-bench does.
import fs from 'node:fs';
import path from 'node:path';
import { activations, macPass, nowNs, weightsOf } from './common.js';

interface Result { nPrompt: number; nGen: number; samplesNs: number[] }

function parseList(v: string): number[] {
  return v.split(',').map(Number);
}

function mean(v: number[]): number { return v.reduce((a, b) => a + b, 0) / v.length; }
function sd(v: number[]): number {
  if (v.length < 2) return 0;
  const m = mean(v);
  return Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1));
}

function main(): number {
  const argv = process.argv.slice(2);
  const models: string[] = [];
  let prompts = [512];
  let gens = [128];
  let threads = [4];
  let reps = 5;
  let output = 'md';
  let warmup = true;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = () => argv[++i] ?? '';
    switch (a) {
      case '-m': case '--model': models.push(next()); break;
      case '-p': case '--n-prompt': prompts = parseList(next()); break;
      case '-n': case '--n-gen': gens = parseList(next()); break;
      case '-t': case '--threads': threads = parseList(next()); break;
      case '-r': case '--repetitions': reps = Number(next()); break;
      case '-o': case '--output': output = next(); break;
      case '--no-warmup': warmup = false; break;
      default:
        process.stderr.write(`error: invalid parameter for argument: ${a}\n`);
        return 1;
    }
  }
  if (models.length === 0) models.push('models/7B/ggml-model-q4_0.gguf');
  if (!['md', 'json', 'jsonl'].includes(output)) { process.stderr.write(`error: invalid output format ${output}\n`); return 1; }
  const rows: Record<string, unknown>[] = [];
  for (const model of models) {
    let w: Int8Array;
    try {
      w = weightsOf(model);
      if (Buffer.from(w.buffer, w.byteOffset, 4).toString('latin1') !== 'GGUF') throw new Error('not gguf');
    } catch {
      process.stderr.write(`main: error: failed to load model '${model}'\n`);
      return 1;
    }
    process.stderr.write(`llama_model_loader: loaded meta data from ${model}\n`);
    const x = activations(7);
    const size = fs.statSync(model).size;
    for (const t of threads) {
      const tests: Result[] = [
        ...prompts.filter((p) => p > 0).map((p) => ({ nPrompt: p, nGen: 0, samplesNs: [] })),
        ...gens.filter((g) => g > 0).map((g) => ({ nPrompt: 0, nGen: g, samplesNs: [] })),
      ];
      for (const test of tests) {
        const run = () => {
          for (let done = 0; done < test.nPrompt; done += 8) macPass(w, x, Math.min(8, test.nPrompt - done));
          for (let k = 0; k < test.nGen; k++) macPass(w, x, 1);
        };
        if (warmup) run();
        for (let r = 0; r < reps; r++) {
          const a = nowNs();
          run();
          test.samplesNs.push(Number(nowNs() - a));
        }
        const ts = test.samplesNs.map((ns) => (1e9 * (test.nPrompt + test.nGen)) / ns);
        rows.push({
          build_commit: 'emulated', build_number: 1, cpu_info: 'benchfleet emulated phone', gpu_info: '', backends: 'CPU',
          model_filename: model, model_type: `emulated ${path.basename(model)}`, model_size: size, model_n_params: size,
          n_batch: 2048, n_ubatch: 512, n_threads: t, type_k: 'f16', type_v: 'f16', n_gpu_layers: 0, flash_attn: -1,
          n_prompt: test.nPrompt, n_gen: test.nGen, n_depth: 0, test_time: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
          avg_ns: Math.round(mean(test.samplesNs)), stddev_ns: Math.round(sd(test.samplesNs)),
          avg_ts: Number(mean(ts).toFixed(6)), stddev_ts: Number(sd(ts).toFixed(6)),
          samples_ns: test.samplesNs, samples_ts: ts.map((v) => Number(v.toFixed(6))),
        });
      }
    }
  }
  if (output === 'jsonl') for (const r of rows) process.stdout.write(`${JSON.stringify(r)}\n`);
  else if (output === 'json') process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
  else {
    const size = (b: number) => (b < 1024 ** 3 ? `${(b / 1024 ** 2).toFixed(2)} MiB` : `${(b / 1024 ** 3).toFixed(2)} GiB`);
    const params = (n: number) => (n < 1e9 ? `${(n / 1e6).toFixed(2)} M` : `${(n / 1e9).toFixed(2)} B`);
    const lines = [
      '| model                          |       size |     params | backend    | threads |            test |                  t/s |',
      '| ------------------------------ | ---------: | ---------: | ---------- | ------: | --------------: | -------------------: |',
    ];
    for (const r of rows) {
      const test = (r.n_gen as number) === 0 ? `pp${String(r.n_prompt)}` : `tg${String(r.n_gen)}`;
      lines.push(`| ${String(r.model_type).padEnd(30)} | ${size(r.model_size as number).padStart(10)} | ${params(r.model_n_params as number).padStart(10)} | CPU        | ${String(r.n_threads).padStart(7)} | ${test.padStart(15)} | ${`${(r.avg_ts as number).toFixed(2)} ± ${(r.stddev_ts as number).toFixed(2)}`.padStart(20)} |`);
    }
    process.stdout.write(`${lines.join('\n')}\n\nbuild: emulated (1)\n`);
  }
  return 0;
}

process.exitCode = main();
