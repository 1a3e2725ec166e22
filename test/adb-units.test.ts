// Unit tests of the ADB driver's pure parts: getprop parsing, shell quoting, battery power and
// energy per inference with baseline subtraction.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { parseGetprop } from '../agent/drivers/adb/describe.js';
import { shq } from '../agent/drivers/adb/phone.js';
import { estimateEnergy, wattsFrom, type PowerSample } from '../agent/drivers/adb/power.js';
import { adbConfigSchema, adbServerAddress } from '../agent/drivers/adb/config.js';

test('getprop output is parsed, CRLF tolerated', () => {
  const props = parseGetprop('[ro.product.model]: [Pixel 8]\r\n[ro.build.version.sdk]: [34]\n[empty]: []\ngarbage line\n');
  assert.deepEqual(props, { 'ro.product.model': 'Pixel 8', 'ro.build.version.sdk': '34', empty: '' });
});

test('shq quotes anything for sh, including single quotes', () => {
  for (const text of ["plain", "it's", "a b\tc", "$(rm -rf /)", "'", "\\n;&|"]) {
    const r = spawnSync('/bin/sh', ['-c', `printf %s ${shq(text)}`]);
    assert.equal(r.stdout.toString(), text);
  }
});

test('battery power uses the magnitude whatever the vendor sign convention', () => {
  assert.equal(wattsFrom(-500_000, 4_000_000), 2);
  assert.equal(wattsFrom(500_000, 4_000_000), 2);
});

test('energy per inference: window power less the resting baseline; below noise gives no number', () => {
  const at = (from: number, to: number, step: number, watts: (i: number) => number): PowerSample[] => {
    const out: PowerSample[] = [];
    for (let t = from, i = 0; t <= to; t += step, i++) out.push({ tMs: t, watts: watts(i) });
    return out;
  };
  const wobble = (i: number) => (i % 2 ? 0.001 : -0.001);
  // Rest 0.5 W (the sampler's draw included); busy 2.5 W for 2 s.
  const baseline = at(0, 1000, 50, (i) => 0.5 + wobble(i));
  const window = at(1100, 3100, 50, (i) => 2.5 + wobble(i));
  const e = estimateEnergy(baseline, window, 2000, 400);
  // 2 W above rest for 2 s = 4 J over 400 inferences = 10 mJ each.
  assert.ok(e && e.mjPerInference !== null && Math.abs(e.mjPerInference - 10) < 0.01, JSON.stringify(e));
  assert.equal(estimateEnergy([], window, 2000, 400), null, 'no baseline samples: no energy rather than a wrong one');
  // A window no higher than the baseline (the phone counted the sampler as load) is below noise: no number, not 0.
  const flat = estimateEnergy(at(0, 1000, 50, (i) => 2.5 + wobble(i)), window, 2000, 400);
  assert.ok(flat && flat.mjPerInference === null && flat.netW < flat.noiseW, JSON.stringify(flat));
});

test('energy noise counts a slow fuel gauge\'s repeated readings once', () => {
  // Readings alternate ±10 mW around the mean; the gauge holds each for `hold` samples at 50 Hz.
  const gauge = (from: number, to: number, mean: number, hold: number): PowerSample[] => {
    const out: PowerSample[] = [];
    for (let t = from, i = 0; t <= to; t += 20, i++) out.push({ tMs: t, watts: mean + (Math.floor(i / hold) % 2 ? 0.01 : -0.01) });
    return out;
  };
  // 5 mW above rest over 4 s: ~5 standard errors if every sample were a new reading, ~2 when the
  // gauge repeats each reading five times.
  const fresh = estimateEnergy(gauge(0, 2000, 0.5, 1), gauge(2100, 6100, 0.505, 1), 4000, 100);
  assert.ok(fresh && fresh.mjPerInference !== null, `independent readings: a figure ${JSON.stringify(fresh)}`);
  const held = estimateEnergy(gauge(0, 2000, 0.5, 5), gauge(2100, 6100, 0.505, 5), 4000, 100);
  assert.ok(held && held.mjPerInference === null && held.noiseW > 2 * fresh.noiseW, `repeated readings: below noise ${JSON.stringify(held)}`);
});

test('the default ADB config runs ONNX Runtime\'s own onnxruntime_perf_test; the adb server comes from the config, then adb\'s variables', () => {
  const c = adbConfigSchema.parse({});
  assert.equal(c.runners.onnxruntime?.parser, 'onnxruntime_perf_test');
  assert.match(c.runners.onnxruntime!.command, /^\{runner\} /);
  assert.throws(() => adbConfigSchema.parse({ runners: { onnxruntime: { parser: 'magic', command: 'x' } } }));
  assert.deepEqual(adbServerAddress(c, {}), { host: '127.0.0.1', port: 5037, source: 'default' });
  assert.deepEqual(adbServerAddress(c, { ANDROID_ADB_SERVER_PORT: '5099' }), { host: '127.0.0.1', port: 5099, source: 'ANDROID_ADB_SERVER_PORT' });
  assert.deepEqual(adbServerAddress(c, { ADB_SERVER_SOCKET: 'tcp:lab:6000', ANDROID_ADB_SERVER_PORT: '5099' }), { host: 'lab', port: 6000, source: 'ADB_SERVER_SOCKET' });
  assert.deepEqual(adbServerAddress(c, { ADB_SERVER_SOCKET: 'tcp:6001' }), { host: '127.0.0.1', port: 6001, source: 'ADB_SERVER_SOCKET' });
  assert.deepEqual(adbServerAddress({ port: 5100 }, { ANDROID_ADB_SERVER_PORT: '5099' }), { host: '127.0.0.1', port: 5100, source: 'config' });
  assert.throws(() => adbServerAddress(c, { ADB_SERVER_SOCKET: 'localhost:5037' }), /ADB_SERVER_SOCKET must be tcp:/);
  assert.throws(() => adbServerAddress(c, { ANDROID_ADB_SERVER_PORT: 'x' }), /ANDROID_ADB_SERVER_PORT must be a port number/);
});
