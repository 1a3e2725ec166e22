// REST API tests over real HTTP against a real server and SQLite file: auth and roles, bad input
// of every kind answered with `{error:{code,message}}` and nothing stored, uploads, runs, paging.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import crypto from 'node:crypto';
import { repoRoot, startFarm, type Farm } from './support/farm.js';

let farm: Farm;
const fp32 = fs.readFileSync(path.join(repoRoot, 'examples/models/kws-cnn-fp32.onnx'));
const dynamic = fs.readFileSync(path.join(repoRoot, 'examples/models/mlp-dynamic.onnx'));

before(async () => { farm = await startFarm(); });
after(async () => { await farm.stop(); });

async function upload(bytes: Buffer, query: string, headers: Record<string, string> = {}, token = farm.adminToken) {
  const res = await fetch(`${farm.url}/api/v1/models?${query}`, {
    method: 'POST', body: bytes, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream', ...headers },
  });
  return { status: res.status, body: (await res.json()) as { model?: { sha256: string; format: string; size_bytes: number }; created?: boolean; error?: { code: string; message: string } } };
}

const count = (table: string) => (farm.server.db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
const modelFiles = () => fs.readdirSync(path.join(farm.dataDir, 'models'), { recursive: true }).filter((f) => String(f).length > 60);

function assertError(res: { status: number; body: unknown }, status: number, code: string): void {
  assert.equal(res.status, status, JSON.stringify(res.body));
  const err = (res.body as { error?: { code?: string; message?: string } }).error;
  assert.equal(err?.code, code);
  assert.ok(err?.message && err.message.length > 5, 'a readable message');
}

test('every /api route needs a token; roles are enforced', async () => {
  const res = await fetch(`${farm.url}/api/v1/devices`);
  assertError({ status: res.status, body: await res.json() }, 401, 'unauthorized');
  assertError(await farm.api('GET', '/devices', undefined, 'bfa_not-a-real-token'), 401, 'unauthorized');
  const agent = await farm.api<{ token: string }>('POST', '/agents', { name: 'role-test' });
  assert.equal(agent.status, 201);
  assertError(await farm.api('POST', '/tokens', { role: 'read', name: 'x' }, agent.body.token), 403, 'forbidden');
  assertError(await farm.api('GET', '/runs', undefined, agent.body.token), 403, 'forbidden');
  const read = await farm.api<{ token: string }>('POST', '/tokens', { role: 'read', name: 'dash' });
  assert.equal((await farm.api('GET', '/devices', undefined, read.body.token)).status, 200);
  assertError(await farm.api('POST', '/runs', { model: 'x', device: '*' }, read.body.token), 403, 'forbidden');
  const stored = farm.server.db.prepare('SELECT hash FROM tokens').all() as { hash: string }[];
  assert.ok(stored.every((t) => /^[0-9a-f]{64}$/.test(t.hash)) && !stored.some((t) => t.hash === read.body.token), 'only hashes are stored');
  // Revoked tokens stop working.
  const list = await farm.api<{ items: { id: string; name: string }[] }>('GET', '/tokens');
  const id = list.body.items.find((t) => t.name === 'dash')!.id;
  assert.equal((await farm.api('DELETE', `/tokens/${id}`)).status, 204);
  assertError(await farm.api('GET', '/devices', undefined, read.body.token), 401, 'unauthorized');
});

test('malformed JSON, unknown fields and wrong types are 400s that change nothing', async () => {
  const before = count('runs');
  const raw = await fetch(`${farm.url}/api/v1/runs`, {
    method: 'POST', body: '{"model": "x",', headers: { authorization: `Bearer ${farm.adminToken}`, 'content-type': 'application/json' },
  });
  assertError({ status: raw.status, body: await raw.json() }, 400, 'invalid_json');
  assertError(await farm.api('POST', '/runs', { model: 'x', device: '*', bogus: 1 }), 400, 'validation_failed');
  const wrongType = await farm.api<{ error: { message: string } }>('POST', '/runs', { model: 'x', device: '*', settings: { iterations: 'many' } });
  assertError(wrongType, 400, 'validation_failed');
  assert.match(wrongType.body.error.message, /settings\.iterations/);
  const notJson = await fetch(`${farm.url}/api/v1/runs`, { method: 'POST', body: 'model=x', headers: { authorization: `Bearer ${farm.adminToken}`, 'content-type': 'text/plain' } });
  assertError({ status: notJson.status, body: await notJson.json() }, 415, 'unsupported_media_type');
  assertError(await farm.api('GET', '/runs?limit=100000'), 400, 'validation_failed');
  assertError(await farm.api('GET', '/nope'), 404, 'not_found');
  assert.equal(count('runs'), before);
});

test('model upload: content-addressed, format from the bytes, deduplicated', async () => {
  const first = await upload(fp32, 'family=kws-cnn&variant=fp32&filename=x.onnx');
  assert.equal(first.status, 201);
  assert.equal(first.body.model?.sha256, crypto.createHash('sha256').update(fp32).digest('hex'));
  assert.equal(first.body.model?.format, 'onnx');
  assert.equal(first.body.model?.size_bytes, fp32.length);
  const stored = fs.readFileSync(path.join(farm.dataDir, 'models', first.body.model!.sha256.slice(0, 2), first.body.model!.sha256));
  assert.ok(stored.equals(fp32), 'the stored file is the upload, byte for byte');
  const again = await upload(fp32, 'family=kws-cnn&variant=fp32');
  assert.equal(again.status, 200);
  assert.equal(again.body.created, false);
  assertError(await upload(fp32, 'family=kws-cnn&variant=other'), 409, 'conflict');
  const facts = await farm.api<{ facts: { inputs: { name: string }[]; hasQuantOps: boolean } }>('GET', '/models/kws-cnn:fp32');
  assert.equal(facts.body.facts.hasQuantOps, false);
  assert.equal(count('models'), 1);
});

test('bad uploads are refused and leave nothing behind', async () => {
  const before = count('models');
  const filesBefore = modelFiles().length;
  const text = await upload(Buffer.from('this is not a model at all, just text\n'.repeat(10)), 'family=f&variant=v&filename=fake.onnx');
  assertError(text, 422, 'unsupported_format');
  const truncatedOnnx = await upload(fp32.subarray(0, 5000), 'family=f&variant=v');
  assertError(truncatedOnnx, 422, 'unsupported_format');
  const mismatch = await upload(fp32, 'family=f&variant=v', { 'x-benchfleet-sha256': 'b'.repeat(64) });
  assertError(mismatch, 400, 'hash_mismatch');
  assertError(await upload(fp32, 'family=bad name&variant=v'), 400, 'validation_failed');
  assertError(await upload(fp32, 'family=f&variant=v', {}, (await farm.api<{ token: string }>('POST', '/tokens', { role: 'read', name: 'r' })).body.token), 403, 'forbidden');

  // A truncated upload: announce more bytes than are sent, then drop the connection.
  await new Promise<void>((resolve) => {
    const url = new URL(`${farm.url}/api/v1/models?family=f&variant=cut`);
    const req = http.request({ host: url.hostname, port: url.port, path: url.pathname + url.search, method: 'POST', headers: {
      authorization: `Bearer ${farm.adminToken}`, 'content-type': 'application/octet-stream', 'content-length': String(fp32.length),
    } });
    req.on('error', () => resolve());
    req.on('response', () => resolve());
    req.write(fp32.subarray(0, 100_000));
    setTimeout(() => req.destroy(), 200);
  });
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(count('models'), before, 'no row');
  assert.equal(modelFiles().length, filesBefore, 'no stored file');
  assert.deepEqual(fs.readdirSync(path.join(farm.dataDir, 'models', 'tmp')), [], 'no temp file left');
});

test('runs: unknown model or device selector are clear errors; a dynamic input needs a shape', async () => {
  const before = count('runs');
  assertError(await farm.api('POST', '/runs', { model: 'nope:nope', device: '*' }), 404, 'not_found');
  const noDevice = await farm.api<{ error: { message: string } }>('POST', '/runs', { model: 'kws-cnn:fp32', device: 'gpu=a100' });
  assertError(noDevice, 422, 'no_matching_device');
  assert.match(noDevice.body.error.message, /gpu=a100/);
  assert.equal((await upload(dynamic, 'family=mlp&variant=dyn')).status, 201);
  const dyn = await farm.api<{ error: { message: string } }>('POST', '/runs', { model: 'mlp:dyn', device: '*' });
  assertError(dyn, 400, 'validation_failed');
  assert.match(dyn.body.error.message, /dynamic/);
  assert.equal(count('runs'), before);
});

test('lists are paginated', async () => {
  for (const variant of ['p1', 'p2', 'p3']) {
    // Same network, different producer name: different bytes, still a valid model.
    const bytes = Buffer.from(fp32);
    const at = bytes.indexOf('benchfleet');
    assert.ok(at > 0, 'the example model names its producer');
    bytes.write(variant, at);
    assert.equal((await upload(bytes, `family=page&variant=${variant}`)).status, 201);
  }
  const all: string[] = [];
  let cursor: string | null = null;
  do {
    const page: { status: number; body: { items: { sha256: string }[]; next_cursor: string | null } } =
      await farm.api('GET', `/models?limit=1${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(page.status, 200);
    assert.ok(page.body.items.length <= 1);
    all.push(...page.body.items.map((m) => m.sha256));
    cursor = page.body.next_cursor;
  } while (cursor);
  assert.equal(all.length, count('models'));
  assert.equal(new Set(all).size, all.length, 'no model twice');
});

test('a mute with a malformed duration is a 400, never a 500; a huge value does not flood the log', async () => {
  const logFile = path.join(farm.dataDir, 'server.log');
  const size = () => (fs.existsSync(logFile) ? fs.statSync(logFile).size : 0);
  const key = '0123456789abcdef0123456789abcdef';
  const start = size();
  for (const body of [{ metric: '*', for: '*' }, { metric: '*', for: '' }, { metric: '*', for: '12x' }, { metric: '*', for: '400d' }]) {
    assertError(await farm.api('POST', `/series/${key}/mute`, body), 400, 'validation_failed');
  }
  const big = await farm.api('POST', `/series/${key}/mute`, { metric: '*', for: 'x'.repeat(200 * 1024) });
  assert.equal(big.status, 400, JSON.stringify(big.body).slice(0, 300));
  assert.ok(JSON.stringify(big.body).length < 4096, 'the error does not echo the value');
  assertError(await farm.api('POST', `/series/${key}/mute`, { metric: '*', for: 'x'.repeat(5 * 1024 * 1024) }), 413, 'payload_too_large');
  assert.ok(size() - start < 16 * 1024, `the log grew by ${size() - start} bytes`);
});

test('log lines carry bounded values', async () => {
  const { boundedLog } = await import('../server/main.js');
  const lines: { msg: string; extra?: Record<string, unknown> }[] = [];
  const log = boundedLog((msg, extra) => { lines.push({ msg, extra }); });
  log('request failed', { error: 'e'.repeat(5 * 1024 * 1024), job: 'job_1', n: 3, body: { value: 'v'.repeat(10_000) }, small: { a: 1 } });
  const extra = lines[0]!.extra!;
  assert.ok(String(extra.error).length < 2200 && String(extra.error).endsWith(`(${5 * 1024 * 1024} characters)`));
  assert.ok(String(extra.body).length < 2200);
  assert.deepEqual([extra.job, extra.n, extra.small], ['job_1', 3, { a: 1 }], 'small values pass unchanged');
});

test('the token is checked before the body is read; each route has its own body limit', async () => {
  // An anonymous request announcing a 31 MiB JSON body gets its 401 without the server waiting for the body.
  const answered = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const url = new URL(`${farm.url}/api/v1/runs`);
    const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': String(31 * 1024 * 1024) } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', (err) => { if (!(err as NodeJS.ErrnoException).code?.startsWith('EPIPE') && (err as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(err); });
    req.write(`{"model":"${'a'.repeat(1024)}`); // 1 KiB of the announced 31 MiB, never finished
    setTimeout(() => { req.destroy(); reject(new Error('no answer within 5 s: the server waited for the body before checking the token')); }, 5000).unref();
  });
  assert.equal(answered.status, 401);
  assert.equal((JSON.parse(answered.body) as { error: { code: string } }).error.code, 'unauthorized');
  // A route that takes a few fields refuses a 1 MiB body; the run route (input tensors) takes it.
  const big = { name: 'w', url: `http://example.invalid/${'p'.repeat(1024 * 1024)}` };
  assertError(await farm.api('POST', '/webhooks', big), 413, 'payload_too_large');
  const run = await farm.api('POST', '/runs', { model: 'nope:nope', devices: '*', note: 'x'.repeat(1024 * 1024) });
  assert.notEqual(run.status, 413, 'the run route accepts large bodies (it is refused for its content)');
  assert.equal(run.status, 400);
});

test('security: headers on every response, the database readable by its owner only, no agent token in socket URLs', async () => {
  for (const url of [`${farm.url}/`, `${farm.url}/api/v1/health`, `${farm.url}/app.js`]) {
    const res = await fetch(url);
    assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'self'.*frame-ancestors 'none'/, url);
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    await res.arrayBuffer();
  }
  for (const f of ['benchfleet.db', 'benchfleet.db-wal']) {
    const file = path.join(farm.dataDir, f);
    assert.ok(fs.existsSync(file), file);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600, `${f} is 0600`);
  }
  const agent = await farm.api<{ token: string }>('POST', '/agents', { name: 'url-token' });
  const status = await new Promise<number>((resolve) => {
    const req = http.get(`${farm.url.replace(/\/$/, '')}/ws/agent?token=${agent.body.token}`, {
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': crypto.randomBytes(16).toString('base64') },
    }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
    req.on('upgrade', () => resolve(101));
    req.on('error', () => resolve(-1));
  });
  assert.equal(status, 401, 'an agent token in the URL is refused');
});
