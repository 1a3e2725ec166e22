// Bounded agent frames and large results (issue 11, defect 5): a frame over MAX_FRAME_BYTES closes
// the agent socket with 1009 and the agent can come back; a result larger than one frame arrives
// as job.result.part messages (protocol/agent-messages.ts resultFrames, what the real agent sends),
// is assembled, parsed and prepared off the event loop and stored exactly once, sample for sample;
// parts over MAX_RESULT_BYTES, parts that do not assemble to JSON, parts holding another job's
// result and too many results in transit are refused with their own error codes and store nothing.
// Over real HTTP and a real WebSocket. (/health latency while the largest result arrives is a
// benchmark: bench/large-result.ts.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { WebSocket } from 'ws';
import {
  MAX_FRAME_BYTES, MAX_RESULT_BYTES, MAX_RESULT_PARTS, RESULT_PART_BYTES, resultFrames, serverMessageSchema, type JobResultMessage, type ServerMessage,
} from '../protocol/agent-messages.js';
import type { JobView, SamplesView } from '../protocol/api.js';
import { summarize } from '../server/stats/summary.js';
import { repoRoot, startFarm, waitFor, type Farm } from './support/farm.js';

let farm: Farm;
let token = '';

class Agent {
  readonly inbox: ServerMessage[] = [];
  closed: number | null = null;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (d) => this.inbox.push(serverMessageSchema.parse(JSON.parse(d.toString()))));
    ws.on('close', (code) => { this.closed = code; });
  }
  static async connect(): Promise<Agent> {
    const ws = new WebSocket(`${farm.url.replace(/^http/, 'ws')}/ws/agent`, { headers: { authorization: `Bearer ${token}` } });
    await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
    const a = new Agent(ws);
    ws.send(JSON.stringify({
      type: 'hello', protocol: 1, agent_version: 'test', hostname: 'bighost', running: [],
      devices: [{ serial: 'big-1', name: 'bigdev', driver: 'linux', labels: {}, runtimes: ['onnxruntime'], online: true }],
    }));
    await waitFor('welcome', () => a.inbox.some((m) => m.type === 'welcome'));
    return a;
  }
  /** The acknowledgement of a result (acks of job.started are passed over). */
  async resultAck(from: number, timeoutMs = 60_000): Promise<Extract<ServerMessage, { type: 'ack' }>> {
    const m = await waitFor('a result ack', () => this.inbox.slice(from).find((x) => x.type === 'ack' && x.ref === 'job.result'), timeoutMs, 5);
    return m as Extract<ServerMessage, { type: 'ack' }>;
  }
  async next<T extends ServerMessage['type']>(type: T, from: number, timeoutMs = 30_000): Promise<Extract<ServerMessage, { type: T }>> {
    const m = await waitFor(`a ${type} message`, () => this.inbox.slice(from).find((x) => x.type === type), timeoutMs, 5);
    return m as Extract<ServerMessage, { type: T }>;
  }
}

/** Submits a run on the test device and returns its job's ref once assigned to `a`. */
async function assignedJob(a: Agent): Promise<{ job_id: string; attempt: number }> {
  const from = a.inbox.length;
  const run = await farm.api<{ id: string }>('POST', '/runs', { model: 'big:v1', device: 'bigdev', settings: { iterations: 5, warmup: 0 } });
  assert.equal(run.status, 201, JSON.stringify(run.body));
  const assign = await a.next('job.assign', from);
  a.ws.send(JSON.stringify({ type: 'job.started', job_id: assign.job.job_id, attempt: assign.job.attempt }));
  return { job_id: assign.job.job_id, attempt: assign.job.attempt };
}

/** Deterministic samples (a lognormal-ish spread), so the stored copy can be checked value for value. */
function samplesOf(n: number, seed: number): number[] {
  let x = seed >>> 0;
  return Array.from({ length: n }, () => {
    x = (x * 1664525 + 1013904223) >>> 0;
    return Math.exp(2 + 0.1 * ((x / 2 ** 32) - 0.5)) + (x % 7) * 1e-3;
  });
}

before(async () => {
  farm = await startFarm({ policy: { leaseMs: 600_000 } });
  const up = await fetch(`${farm.url}/api/v1/models?family=big&variant=v1`, {
    method: 'POST', body: fs.readFileSync(path.join(repoRoot, 'examples/models/kws-cnn-int8.onnx')),
    headers: { authorization: `Bearer ${farm.adminToken}`, 'content-type': 'application/octet-stream' },
  });
  assert.equal(up.status, 201);
  const made = await farm.api<{ token: string }>('POST', '/agents', { name: 'big-agent' });
  token = made.body.token;
});
after(async () => { await farm?.stop(); });

test('a result of 400,000 samples (~7.5 MiB of JSON) arrives in parts and is stored exactly once, sample for sample', { timeout: 120_000 }, async () => {
  const a = await Agent.connect();
  const ref = await assignedJob(a);
  const latency = samplesOf(300_000, 1);
  const energy = samplesOf(100_000, 2);
  const msg: JobResultMessage = {
    type: 'job.result', ...ref, environment: { host: 'bighost' },
    measurements: [{ metric: 'latency_ms', unit: 'ms', samples: latency }, { metric: 'energy_mj', unit: 'mJ', samples: energy }],
  };
  const bytes = Buffer.byteLength(JSON.stringify(msg));
  assert.ok(bytes > 6 * 2 ** 20 && bytes <= MAX_RESULT_BYTES, `${bytes} bytes: a large, legal result`);
  const frames = resultFrames(msg);
  assert.ok(frames.length > 20, `${frames.length} parts`);
  for (const f of frames) assert.ok(Buffer.byteLength(f) <= MAX_FRAME_BYTES, 'every part fits in one frame');
  const from = a.inbox.length;
  for (const f of frames) a.ws.send(f);
  const ack = await a.resultAck(from);
  assert.deepEqual({ ref: ack.ref, job: ack.job_id, outcome: ack.outcome }, { ref: 'job.result', job: ref.job_id, outcome: 'accepted' });
  const stored = await farm.api<SamplesView>('GET', `/jobs/${ref.job_id}/samples?metric=latency_ms`);
  assert.equal(stored.status, 200);
  assert.equal(stored.body.samples.length, latency.length);
  assert.ok(stored.body.samples.every((v, i) => v === latency[i]), 'every sample stored exactly');
  const job = (await farm.api<JobView>('GET', `/jobs/${ref.job_id}`)).body;
  assert.equal(job.status, 'succeeded');
  const want = summarize(energy);
  const got = job.measurements.find((m) => m.metric === 'energy_mj')!;
  assert.equal(got.count, 100_000);
  assert.equal(got.median, want.median);
  assert.equal(got.ci_low, want.ci_low);
  // Sent again (an agent resending after a reconnect): a duplicate, stored once.
  const again = a.inbox.length;
  for (const f of frames) a.ws.send(f);
  assert.equal((await a.resultAck(again)).outcome, 'duplicate');
  const measurements = await farm.api<{ items: unknown[] }>('GET', `/measurements?job_id=${ref.job_id}`);
  assert.equal(measurements.body.items.length, 2);
  a.ws.close();
});

test('a frame over the bound closes the socket with 1009; the agent comes back and its job is still its own', { timeout: 60_000 }, async () => {
  const a = await Agent.connect();
  const ref = await assignedJob(a);
  a.ws.send(JSON.stringify({ type: 'job.result', ...ref, measurements: [{ metric: 'latency_ms', unit: 'ms', samples: samplesOf(100_000, 3) }], environment: {} }));
  await waitFor('the socket to close', () => a.closed !== null, 10_000);
  assert.equal(a.closed, 1009, 'Message Too Big');
  const b = await Agent.connect();
  const from = b.inbox.length;
  for (const f of resultFrames({ type: 'job.result', ...ref, measurements: [{ metric: 'latency_ms', unit: 'ms', samples: samplesOf(100_000, 3) }], environment: {} })) b.ws.send(f);
  assert.equal((await b.resultAck(from)).outcome, 'accepted', 'the same result in parts is accepted');
  b.ws.close();
});

test('parts that break the bounds or do not assemble to a result are refused with their own codes and store nothing', { timeout: 60_000 }, async () => {
  const a = await Agent.connect();
  const ref = await assignedJob(a);
  const part = (index: number, count: number, data: string, r = ref) => JSON.stringify({ type: 'job.result.part', ...r, index, count, data });
  const errorAfter = async (from: number) => (await a.next('error', from)).code;

  // More bytes than a whole result may have: the largest parts allowed, as many as allowed.
  let from = a.inbox.length;
  const widest = Buffer.alloc(Math.ceil(RESULT_PART_BYTES / 3) * 3, 0x20).toString('base64');
  for (let i = 0; i < MAX_RESULT_PARTS; i++) a.ws.send(part(i, MAX_RESULT_PARTS, widest));
  assert.equal(await errorAfter(from), 'result_too_large');
  assert.ok(MAX_RESULT_PARTS * Math.ceil(RESULT_PART_BYTES / 3) * 3 > MAX_RESULT_BYTES);

  // Parts that assemble to something that is not JSON.
  from = a.inbox.length;
  a.ws.send(part(0, 2, Buffer.from('{"type":"job.res').toString('base64')));
  a.ws.send(part(1, 2, Buffer.from('ult", oops').toString('base64')));
  assert.equal(await errorAfter(from), 'invalid_json');

  // Parts of this job holding another job's result.
  from = a.inbox.length;
  const other = resultFrames({ type: 'job.result', job_id: 'job_someoneelse', attempt: 1, measurements: [{ metric: 'latency_ms', unit: 'ms', samples: samplesOf(60_000, 4) }], environment: {} })
    .map((f) => JSON.parse(f) as { index: number; count: number; data: string });
  for (const p of other) a.ws.send(part(p.index, p.count, p.data));
  assert.equal(await errorAfter(from), 'invalid_message');

  // A third result in transit at once.
  from = a.inbox.length;
  a.ws.send(part(0, 3, 'AAAA', { job_id: 'j1', attempt: 1 }));
  a.ws.send(part(0, 3, 'AAAA', { job_id: 'j2', attempt: 1 }));
  a.ws.send(part(0, 3, 'AAAA', { job_id: 'j3', attempt: 1 }));
  assert.equal(await errorAfter(from), 'too_many_results');

  const job = (await farm.api<JobView>('GET', `/jobs/${ref.job_id}`)).body;
  assert.equal(job.status, 'running', 'nothing was stored for the job');
  assert.deepEqual(job.measurements, []);
  a.ws.close();
});
