// The fit check at submit time: an MCU firmware image (a real ELF built with arm-none-eabi-gcc)
// whose flash or RAM needs exceed what a device declares is refused with a clear 422 before any
// job exists; one that fits is accepted.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startFarm, tempDir, type Farm } from './support/farm.js';
import { createAgent, syncInventory } from '../server/farm/registry.js';

const INSTALL_HINT = 'install it with `apt-get install -y gcc-arm-none-eabi libnewlib-arm-none-eabi`';
let farm: Farm | null = null;
after(async () => { await farm?.stop(); });

function buildImage(dir: string): string {
  const src = path.join(dir, 'fw.c');
  // 24 KiB of weights in flash, 6 KiB of zeroed activations in RAM.
  fs.writeFileSync(src, `const unsigned char weights[24576] = {1, 2, 3};\nunsigned char arena[6144];\n` +
    `int main(void) { unsigned s = 0; for (unsigned i = 0; i < sizeof weights; i++) { arena[i % sizeof arena] = weights[i]; s += arena[i % 7]; } return (int)s; }\n`);
  const out = path.join(dir, 'fw.elf');
  const r = spawnSync('arm-none-eabi-gcc', ['-mcpu=cortex-m3', '-mthumb', '-O1', '--specs=nosys.specs', src, '-o', out], { encoding: 'utf8' });
  if (r.error) throw new Error(`arm-none-eabi-gcc not found: ${INSTALL_HINT}`);
  assert.equal(r.status, 0, `arm-none-eabi-gcc failed (${INSTALL_HINT}):\n${r.stderr}`);
  return out;
}

test('an ELF image that needs more flash or RAM than a device declares is refused at submit', { timeout: 60_000 }, async () => {
  const image = buildImage(tempDir('fit'));
  farm = await startFarm();
  const db = farm.server.db;
  const { agentId } = createAgent(db, 'mcu-host', Date.now());
  syncInventory(db, agentId, [
    { serial: 'tiny', name: 'tiny-board', driver: 'serial', labels: { flash_bytes: '16384', ram_bytes: '4096' }, runtimes: ['mlperf-tiny'], online: true },
    { serial: 'big', name: 'big-board', driver: 'serial', labels: { flash_bytes: '262144', ram_bytes: '65536' }, runtimes: ['mlperf-tiny'], online: true },
  ], Date.now());
  const push = await farm.cli(['model', 'push', image, '--family', 'kws-mcu', '--variant', 'int8', '--json']);
  assert.equal(push.code, 0, push.stderr);
  assert.equal((JSON.parse(push.stdout) as { model: { format: string } }).model.format, 'elf', 'the format is detected from the bytes');

  const refused = await farm.api<{ error: { code: string; message: string } }>('POST', '/runs', { model: 'kws-mcu:int8', device: 'tiny-board', runtime: 'mlperf-tiny' });
  assert.equal(refused.status, 422);
  assert.equal(refused.body.error.code, 'does_not_fit');
  assert.match(refused.body.error.message, /tiny-board: image needs \d+ bytes of flash \(text \d+ \+ data \d+\) but the device has 16384/);
  assert.match(refused.body.error.message, /needs \d+ bytes of RAM .* but the device has 4096/);
  assert.equal((db.prepare('SELECT COUNT(*) AS n FROM runs').get() as { n: number }).n, 0, 'nothing was written');
  const cli = await farm.cli(['run', 'submit', '--model', 'kws-mcu:int8', '--device', 'tiny-board', '--runtime', 'mlperf-tiny']);
  assert.equal(cli.code, 3);
  assert.equal(cli.stderr.trim().split('\n').length, 1, 'one line');

  const accepted = await farm.api<{ id: string }>('POST', '/runs', { model: 'kws-mcu:int8', device: 'big-board', runtime: 'mlperf-tiny' });
  assert.equal(accepted.status, 201, JSON.stringify(accepted.body));
});
