// Unit tests of the ADB driver's pure parts: getprop parsing, shell quoting, battery power and
// energy per inference with baseline subtraction.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { parseGetprop } from '../agent/drivers/adb/describe.js';
import { shq } from '../agent/drivers/adb/phone.js';
import { energyPerInferenceMj, meanWatts, wattsFrom, type PowerSample } from '../agent/drivers/adb/power.js';
import { adbConfigSchema } from '../agent/drivers/adb/config.js';

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

test('the default ADB config benchmarks ONNX models with benchfleet\'s runner', () => {
  const c = adbConfigSchema.parse({});
  assert.equal(c.port, 5037);
  assert.equal(c.runners.onnxruntime?.parser, 'jsonl');
  assert.throws(() => adbConfigSchema.parse({ runners: { onnxruntime: { parser: 'magic', command: 'x' } } }));
});
