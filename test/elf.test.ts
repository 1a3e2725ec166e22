// Tests for server/models/elf.ts against real firmware: a small C program with a known 12000-byte
// const table, a known 2000-byte initialised array and a known 2800-byte zero array is compiled
// with arm-none-eabi-gcc (as a linked Cortex-M4 image and as an object file); the Berkeley sizes,
// the per-section sizes, the entry point and the machine must agree with what arm-none-eabi-size
// and arm-none-eabi-readelf print for the same files. Then corrupted inputs: empty, garbage,
// truncated at several points, 64-bit, big-endian, broken section tables.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ElfError, berkeleyKind, fitProblems, parseElf, SHF_ALLOC, SHF_EXECINSTR, SHF_WRITE, SHT_NOBITS, SHT_PROGBITS } from '../server/models/elf.js';

const INSTALL_HINT = 'apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi';
const BIG_CONST = 12000; // bytes of .rodata
const INIT_WORDS = 500; // int32 → 2000 bytes of .data
const ZERO_WORDS = 700; // int32 → 2800 bytes of .bss

const PROGRAM = `
#include <stdint.h>
const uint8_t big_table[${BIG_CONST}] = {1, 2, 3, 4, 5, 6, 7, 8};
int32_t init_data[${INIT_WORDS}] = {11, 12, 13};
int32_t zero_data[${ZERO_WORDS}];
int main(void) {
  volatile int32_t sum = 0;
  for (int i = 0; i < ${BIG_CONST}; i++) sum += big_table[i];
  for (int i = 0; i < ${INIT_WORDS}; i++) zero_data[i] = init_data[i] + sum;
  return (int)zero_data[${ZERO_WORDS - 1}];
}
`;

let dir = '';
let elfPath = '';
let objPath = '';

function requireTool(tool: string): void {
  const r = spawnSync(tool, ['--version'], { encoding: 'utf8' });
  if (r.error) throw new Error(`${tool} is not installed (${(r.error as NodeJS.ErrnoException).code}): ${INSTALL_HINT}`);
}

before(() => {
  for (const tool of ['arm-none-eabi-gcc', 'arm-none-eabi-size', 'arm-none-eabi-readelf']) requireTool(tool);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'benchfleet-elf-'));
  const src = path.join(dir, 'fw.c');
  fs.writeFileSync(src, PROGRAM);
  elfPath = path.join(dir, 'fw.elf');
  objPath = path.join(dir, 'fw.o');
  const common = ['-mcpu=cortex-m4', '-mthumb', '-O1', '-g'];
  const link = spawnSync('arm-none-eabi-gcc', [...common, '--specs=nosys.specs', src, '-o', elfPath], { encoding: 'utf8' });
  if (link.status !== 0) throw new Error(`arm-none-eabi-gcc failed to link (newlib missing? ${INSTALL_HINT}):\n${link.stderr}`);
  const compile = spawnSync('arm-none-eabi-gcc', [...common, '-c', src, '-o', objPath], { encoding: 'utf8' });
  if (compile.status !== 0) throw new Error(`arm-none-eabi-gcc -c failed:\n${compile.stderr}`);
});

after(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** text, data, bss as printed by `arm-none-eabi-size` (Berkeley format, the default). */
function berkeleySize(file: string): { text: number; data: number; bss: number } {
  const out = execFileSync('arm-none-eabi-size', [file], { encoding: 'utf8' });
  const lines = out.trim().split('\n');
  assert.match(lines[0]!, /text\s+data\s+bss\s+dec\s+hex\s+filename/);
  const [text, data, bss] = lines[1]!.trim().split(/\s+/).map(Number);
  return { text: text!, data: data!, bss: bss! };
}

/** name → size from `arm-none-eabi-size -A` (System V format: every section). */
function sysvSections(file: string): Map<string, number> {
  const out = execFileSync('arm-none-eabi-size', ['-A', '-d', file], { encoding: 'utf8' });
  const map = new Map<string, number>();
  for (const line of out.split('\n')) {
    const m = /^(\S+)\s+(\d+)\s+(\d+)\s*$/.exec(line.trim());
    if (m && m[1] !== 'Total') map.set(m[1]!, Number(m[2]));
  }
  return map;
}

test('a linked Cortex-M image: Berkeley sizes equal arm-none-eabi-size', () => {
  const buf = fs.readFileSync(elfPath);
  const img = parseElf(buf);
  const ref = berkeleySize(elfPath);
  assert.equal(img.text, ref.text, 'text');
  assert.equal(img.data, ref.data, 'data');
  assert.equal(img.bss, ref.bss, 'bss');
  assert.equal(img.flashBytes, ref.text + ref.data);
  assert.equal(img.ramBytes, ref.data + ref.bss);
  // the known arrays are inside the totals
  assert.ok(img.text >= BIG_CONST, `text ${img.text} holds the ${BIG_CONST}-byte table`);
  assert.ok(img.data >= INIT_WORDS * 4, `data ${img.data} holds the initialised array`);
  assert.ok(img.bss >= ZERO_WORDS * 4, `bss ${img.bss} holds the zero array`);
  assert.equal(img.machine, 40);
  assert.equal(img.machineName, 'ARM');
  assert.equal(img.type, 'executable');
  const readelf = execFileSync('arm-none-eabi-readelf', ['-h', elfPath], { encoding: 'utf8' });
  const entry = /Entry point address:\s+0x([0-9a-f]+)/.exec(readelf);
  assert.ok(entry, readelf);
  assert.equal(img.entry, parseInt(entry[1]!, 16));
  assert.equal(img.entry & 1, 1, 'Thumb entry point');
});

test('a linked image: every section name and size equals arm-none-eabi-size -A', () => {
  const img = parseElf(fs.readFileSync(elfPath));
  const ref = sysvSections(elfPath);
  assert.ok(ref.size > 5, `size -A listed ${ref.size} sections`);
  const ours = new Map(img.sections.map((s) => [s.name, s.size]));
  for (const [name, size] of ref) assert.equal(ours.get(name), size, `section ${name}`);
  const rodata = img.sections.find((s) => s.name === '.rodata');
  const bss = img.sections.find((s) => s.name === '.bss');
  const data = img.sections.find((s) => s.name === '.data');
  assert.equal(rodata?.kind, 'text');
  assert.equal(data?.kind, 'data');
  assert.equal(bss?.kind, 'bss');
  assert.equal(img.sections.find((s) => s.name === '.debug_info')?.kind, null);
});

test('an object file: exactly the arrays, as arm-none-eabi-size counts them', () => {
  const img = parseElf(fs.readFileSync(objPath));
  const ref = berkeleySize(objPath);
  assert.deepEqual({ text: img.text, data: img.data, bss: img.bss }, ref);
  assert.equal(img.type, 'relocatable');
  assert.equal(img.data, INIT_WORDS * 4);
  assert.equal(img.bss, ZERO_WORDS * 4);
  assert.equal(img.sections.find((s) => s.name === '.rodata')?.size, BIG_CONST);
});

test('Berkeley classification of section flags', () => {
  assert.equal(berkeleyKind(SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR), 'text');
  assert.equal(berkeleyKind(SHT_PROGBITS, SHF_ALLOC), 'text'); // read-only data
  assert.equal(berkeleyKind(SHT_PROGBITS, SHF_ALLOC | SHF_WRITE | SHF_EXECINSTR), 'text');
  assert.equal(berkeleyKind(SHT_PROGBITS, SHF_ALLOC | SHF_WRITE), 'data');
  assert.equal(berkeleyKind(14 /* INIT_ARRAY */, SHF_ALLOC | SHF_WRITE), 'data');
  assert.equal(berkeleyKind(SHT_NOBITS, SHF_ALLOC | SHF_WRITE), 'bss');
  assert.equal(berkeleyKind(SHT_PROGBITS, 0), null);
  assert.equal(berkeleyKind(SHT_NOBITS, SHF_WRITE), null);
});

test('fit check against the memory a device declares', () => {
  const img = parseElf(fs.readFileSync(elfPath));
  assert.deepEqual(fitProblems(img, { flashBytes: 1 << 20, ramBytes: 1 << 18 }), []);
  assert.deepEqual(fitProblems(img, {}), []);
  const tooSmall = fitProblems(img, { flashBytes: img.flashBytes - 1, ramBytes: img.ramBytes - 1 });
  assert.equal(tooSmall.length, 2);
  assert.match(tooSmall[0]!, new RegExp(`needs ${img.flashBytes} bytes of flash .* has ${img.flashBytes - 1}`));
  assert.match(tooSmall[1]!, new RegExp(`needs ${img.ramBytes} bytes of RAM .* has ${img.ramBytes - 1}`));
  assert.deepEqual(fitProblems(img, { flashBytes: img.flashBytes, ramBytes: img.ramBytes }), [], 'exactly full still fits');
});

test('garbage, truncated and unsupported input give clear errors', () => {
  const good = fs.readFileSync(elfPath);
  const fails = (buf: Buffer, re: RegExp): void => {
    assert.throws(() => parseElf(buf), (err: unknown) => err instanceof ElfError && re.test(err.message), `expected ${re}`);
  };
  fails(Buffer.alloc(0), /not an ELF file: it is empty/);
  fails(Buffer.from('\x89PNG\r\n\x1a\n0000000000000000000000000000000000000000000000000000', 'latin1'), /not an ELF file: starts with 89 50 4e 47/);
  fails(Buffer.from('hello world, this is certainly not firmware at all....'), /not an ELF file/);
  fails(good.subarray(0, 3), /not an ELF file/);
  fails(good.subarray(0, 20), /truncated ELF file: 20 bytes/);
  // cut inside the section header table (it sits at the end of the file)
  const shoff = good.readUInt32LE(32);
  fails(good.subarray(0, shoff + 10), /truncated ELF file: the section header table starts at byte/);
  fails(good.subarray(0, shoff + 45), /truncated ELF file: \d+ section headers end at byte/);
  // cut before the section headers: contents and table are gone
  fails(good.subarray(0, Math.floor(good.length / 3)), /truncated ELF file/);

  const patched = (offset: number, bytes: number[], width: 1 | 2 | 4 = 1): Buffer => {
    const b = Buffer.from(good);
    for (const [i, v] of bytes.entries()) {
      if (width === 1) b[offset + i] = v;
      else if (width === 2) b.writeUInt16LE(v, offset + i * 2);
      else b.writeUInt32LE(v, offset + i * 4);
    }
    return b;
  };
  fails(patched(4, [2]), /64-bit ELF/);
  fails(patched(4, [7]), /invalid ELF class 7/);
  fails(patched(5, [2]), /big-endian/);
  fails(patched(6, [9]), /unsupported ELF version 9/);
  fails(patched(32, [0], 4), /no section header table/);
  fails(patched(46, [64], 2), /section header size 64/);
  fails(patched(50, [500], 2), /invalid section name table index 500/);
  fails(patched(32, [good.length + 100], 4), /section header table starts at byte/);
  // a section whose contents run past the end of the file
  const rodataIdx = parseElf(good).sections.findIndex((s) => s.name === '.rodata') + 1;
  fails(patched(shoff + rodataIdx * 40 + 20, [good.length], 4), new RegExp(`section ${rodataIdx} occupies bytes`));
  // a name offset outside the name table
  fails(patched(shoff + 1 * 40, [0x7fffffff], 4), /name offset 2147483647 outside the name table/);
});
