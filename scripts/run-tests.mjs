#!/usr/bin/env node
// Runs every compiled test file (dist/test/*.test.js) with node's test runner, one file at a
// time: end-to-end tests time leases and benchmarks, and the machines have two cores.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const dir = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'dist', 'test');
if (!fs.existsSync(dir)) {
  console.error('no compiled tests in dist/test: run `npm run build` first (npm test does it)');
  process.exit(1);
}
const only = process.argv.slice(2);
const files = fs.readdirSync(dir)
  .filter((f) => f.endsWith('.test.js'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort()
  .map((f) => path.join(dir, f));
if (files.length === 0) {
  console.error(`no test files match ${only.join(' ')}`);
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
