// Configured runner commands on the local Linux host (as on a Raspberry Pi with benchmark_model or
// llama-bench installed): the output is parsed into measurements and an operator breakdown, a
// hanging runner is killed with its whole process group at the timeout.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { JobView, RunView } from '../protocol/api.js';
import { repoRoot, startFarm, waitFor, type Farm } from './support/farm.js';

let farm: Farm;
const fixtures = path.join(repoRoot, 'test/fixtures/runners');

before(async () => {
  farm = await startFarm();
  const tflite = path.join(farm.dataDir, 'm.tflite');
  fs.writeFileSync(tflite, Buffer.concat([Buffer.from([0x1c, 0, 0, 0]), Buffer.from('TFL3'), Buffer.alloc(64)]));
  const gguf = path.join(farm.dataDir, 'm.gguf');
  fs.writeFileSync(gguf, Buffer.concat([Buffer.from('GGUF'), Buffer.alloc(64, 3)]));
  const pte = path.join(farm.dataDir, 'm.pte');
  fs.writeFileSync(pte, Buffer.concat([Buffer.from([0x18, 0, 0, 0]), Buffer.from('ET12'), Buffer.alloc(64)]));
  for (const [file, family] of [[tflite, 'tfl'], [gguf, 'llm'], [pte, 'et']] as const) {
    assert.equal((await farm.cli(['model', 'push', file, '--family', family, '--variant', 'v'])).code, 0);
  }
  const config = path.join(farm.dataDir, 'agent.json');
  fs.writeFileSync(config, JSON.stringify({
    linux: {
      runners: {
        // Stand-ins for the real tools: they print what the tools print (fixtures), after checking they got the model.
        tflite: { parser: 'benchmark_model', command: `test -s {model} && cat ${path.join(fixtures, 'bm-op-profiling-new.txt')}` },
        'llama.cpp': { parser: 'llama-bench', command: `test -s {model} && cat ${path.join(fixtures, 'llama.jsonl')}` },
        executorch: { parser: 'executorch', command: 'sh -c "sleep 1000 & sleep 1001; wait"' },
      },
    },
  }));
  await farm.startAgent({ config });
});

after(async () => { await farm?.stop(); });

async function run(model: string, runtime: string, settings: Record<string, unknown> = {}): Promise<JobView> {
  const res = await farm.api<RunView>('POST', '/runs', { model, runtime, device: '*', max_attempts: 1, settings });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const id = res.body.jobs![0]!.id;
  return waitFor(`job ${id}`, async () => {
    const j = (await farm.api<JobView>('GET', `/jobs/${id}`)).body;
    return ['succeeded', 'failed', 'timed_out'].includes(j.status) ? j : null;
  }, 30_000);
}

test('benchmark_model output becomes latency, memory and an operator breakdown', { timeout: 60_000 }, async () => {
  const job = await run('tfl:v', 'tflite');
  assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
  const lat = job.measurements.find((m) => m.metric === 'latency_ms')!;
  assert.ok(Math.abs(lat.median - 15.6071) < 1e-6, `avg of the timed runs, 15607.1 us: ${lat.median}`);
  assert.equal(job.environment?.runner_parser, 'benchmark_model');
  assert.ok((job.operators ?? []).length > 0, 'the op-profiling table is stored with the job');
});

test('llama-bench output becomes prefill and decode tokens per second', { timeout: 60_000 }, async () => {
  const job = await run('llm:v', 'llama.cpp');
  assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
  const metrics = job.measurements.map((m) => m.metric);
  assert.ok(metrics.some((m) => m.startsWith('prefill_tok_s')) && metrics.some((m) => m.startsWith('decode_tok_s')), metrics.join(','));
});

test('a hanging local runner is killed with its whole process group at the timeout', { timeout: 60_000 }, async () => {
  const job = await run('et:v', 'executorch', { timeout_ms: 2000 });
  assert.equal(job.status, 'timed_out');
  await waitFor('no sleep left behind', () => {
    const ps = execFileSync('ps', ['-eo', 'args']).toString().split('\n').map((l) => l.trim());
    return !ps.includes('sleep 1000') && !ps.includes('sleep 1001');
  }, 5000);
});
