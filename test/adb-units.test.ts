// Unit tests of the ADB driver's pure parts: getprop parsing, shell quoting, battery power and
// energy per inference with baseline subtraction.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { parseGetprop } from '../agent/drivers/adb/describe.js';
import { shq } from '../agent/drivers/adb/phone.js';
import { energyPerInferenceMj, meanWatts, wattsFrom, type PowerSample } from '../agent/drivers/adb/power.js';
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

test('energy per inference subtracts the idle baseline over the timed window', () => {
  const samples: PowerSample[] = [];
  for (let t = 0; t <= 1000; t += 50) samples.push({ tMs: t, watts: 0.5 }); // idle: 0.5 W
  for (let t = 1100; t <= 3100; t += 50) samples.push({ tMs: t, watts: 2.5 }); // busy: 2.5 W
  assert.equal(meanWatts(samples, 0, 1000), 0.5);
  // 2 W above idle for 2 s = 4 J over 400 inferences = 10 mJ each.
  const mj = energyPerInferenceMj(samples, [0, 1000], [1100, 3100], 400);
  assert.ok(mj !== null && Math.abs(mj - 10) < 1e-9, String(mj));
  assert.equal(energyPerInferenceMj(samples, [5000, 6000], [1100, 3100], 400), null, 'no baseline samples: no energy rather than a wrong one');
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
