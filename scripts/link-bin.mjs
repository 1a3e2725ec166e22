#!/usr/bin/env node
// Links bin/benchfleet.js into node_modules/.bin so `npx benchfleet …` works inside this checkout
// (npm links the bins of dependencies there, but not the project's own). Run by `npm ci` (prepare).
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const binDir = path.join(root, 'node_modules', '.bin');
const link = path.join(binDir, 'benchfleet');
fs.mkdirSync(binDir, { recursive: true });
fs.rmSync(link, { force: true });
fs.symlinkSync(path.relative(binDir, path.join(root, 'bin', 'benchfleet.js')), link);
