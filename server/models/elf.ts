// ELF32 little-endian images (MCU firmware, e.g. ARM Cortex-M built with arm-none-eabi-gcc):
// header checks, the section table with names, and the sizes `arm-none-eabi-size` prints in its
// default Berkeley format, which decide whether an image fits a device:
//   text = allocated sections that are executable or read-only (code, .rodata, vectors, exidx)
//   data = allocated, writable sections with file contents (PROGBITS, init arrays …)
//   bss  = allocated, writable sections without file contents (NOBITS)
//   flashBytes = text + data   (data's initial values are stored in flash and copied at boot)
//   ramBytes   = data + bss
// Invalid, truncated or unsupported input throws an ElfError whose message says what is wrong.

export class ElfError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ElfError';
  }
}

export const SHT_NULL = 0;
export const SHT_PROGBITS = 1;
export const SHT_NOBITS = 8;
export const SHF_WRITE = 0x1;
export const SHF_ALLOC = 0x2;
export const SHF_EXECINSTR = 0x4;

const EHDR_SIZE = 52;
const SHDR_SIZE = 40;
const SHN_XINDEX = 0xffff;

const MACHINES: Record<number, string> = {
  3: 'x86',
  8: 'MIPS',
  40: 'ARM',
  62: 'x86-64',
  83: 'AVR',
  94: 'Xtensa',
  183: 'AArch64',
  243: 'RISC-V',
};

const TYPES: Record<number, string> = { 0: 'none', 1: 'relocatable', 2: 'executable', 3: 'shared', 4: 'core' };

export interface ElfSection {
  name: string;
  type: number;
  flags: number;
  addr: number;
  offset: number;
  size: number;
  /** Which Berkeley total the section counts in, or null when it is not allocated. */
  kind: 'text' | 'data' | 'bss' | null;
}

export interface ElfImage {
  /** e_machine (40 = ARM) and its name. */
  machine: number;
  machineName: string;
  /** e_type name: 'executable', 'relocatable', … */
  type: string;
  /** Entry point address (Thumb entry points have bit 0 set). */
  entry: number;
  text: number;
  data: number;
  bss: number;
  /** text + data: bytes the image occupies in flash. */
  flashBytes: number;
  /** data + bss: bytes of RAM the image's static data needs (stack and heap not included). */
  ramBytes: number;
  sections: ElfSection[];
}

/** How arm-none-eabi-size (Berkeley format) counts a section. */
export function berkeleyKind(type: number, flags: number): ElfSection['kind'] {
  if ((flags & SHF_ALLOC) === 0) return null;
  if ((flags & SHF_EXECINSTR) !== 0 || (flags & SHF_WRITE) === 0) return 'text';
  return type === SHT_NOBITS ? 'bss' : 'data';
}

export function parseElf(buf: Buffer): ElfImage {
  if (buf.length < 4 || buf[0] !== 0x7f || buf[1] !== 0x45 || buf[2] !== 0x4c || buf[3] !== 0x46) {
    const head = buf.subarray(0, 4).toString('hex').replace(/(..)(?=.)/g, '$1 ');
    throw new ElfError(buf.length === 0 ? 'not an ELF file: it is empty' : `not an ELF file: starts with ${head || 'nothing'}, not 7f 45 4c 46 ("\\x7fELF")`);
  }
  if (buf.length < EHDR_SIZE) throw new ElfError(`truncated ELF file: ${buf.length} bytes, the ELF32 header alone is ${EHDR_SIZE}`);
  const cls = buf[4];
  if (cls === 2) throw new ElfError('64-bit ELF (ELFCLASS64) is not supported: MCU images are ELF32');
  if (cls !== 1) throw new ElfError(`invalid ELF class ${cls} (expected 1 = ELFCLASS32)`);
  const dataEnc = buf[5];
  if (dataEnc === 2) throw new ElfError('big-endian ELF (ELFDATA2MSB) is not supported: expected little-endian');
  if (dataEnc !== 1) throw new ElfError(`invalid ELF data encoding ${dataEnc} (expected 1 = little-endian)`);
  if (buf[6] !== 1) throw new ElfError(`unsupported ELF version ${buf[6]} (expected 1)`);

  const type = buf.readUInt16LE(16);
  const machine = buf.readUInt16LE(18);
  const entry = buf.readUInt32LE(24);
  const shoff = buf.readUInt32LE(32);
  const shentsize = buf.readUInt16LE(46);
  let shnum = buf.readUInt16LE(48);
  let shstrndx = buf.readUInt16LE(50);

  if (shoff === 0) throw new ElfError('ELF file has no section header table (e_shoff = 0): sizes cannot be computed');
  if (shentsize !== SHDR_SIZE) throw new ElfError(`invalid ELF section header size ${shentsize} (ELF32 uses ${SHDR_SIZE})`);
  const header = (i: number): number => shoff + i * SHDR_SIZE;
  if (shoff + SHDR_SIZE > buf.length) throw new ElfError(`truncated ELF file: the section header table starts at byte ${shoff} but the file has ${buf.length} bytes`);
  // Extended numbering: with ≥ 0xff00 sections, the count and the names index live in section 0.
  if (shnum === 0) shnum = buf.readUInt32LE(header(0) + 20);
  if (shstrndx === SHN_XINDEX) shstrndx = buf.readUInt32LE(header(0) + 24);
  if (shnum === 0) throw new ElfError('ELF file has an empty section header table');
  const tableEnd = shoff + shnum * SHDR_SIZE;
  if (tableEnd > buf.length) throw new ElfError(`truncated ELF file: ${shnum} section headers end at byte ${tableEnd} but the file has ${buf.length} bytes`);
  if (shstrndx >= shnum) {
    throw new ElfError(`invalid section name table index ${shstrndx} (the file has ${shnum} sections)`);
  }

  interface Raw { nameOff: number; type: number; flags: number; addr: number; offset: number; size: number }
  const raw: Raw[] = [];
  for (let i = 0; i < shnum; i++) {
    const h = header(i);
    const s: Raw = {
      nameOff: buf.readUInt32LE(h),
      type: buf.readUInt32LE(h + 4),
      flags: buf.readUInt32LE(h + 8),
      addr: buf.readUInt32LE(h + 12),
      offset: buf.readUInt32LE(h + 16),
      size: buf.readUInt32LE(h + 20),
    };
    if (i > 0 && s.type !== SHT_NOBITS && s.type !== SHT_NULL && s.size > 0 && s.offset + s.size > buf.length) {
      throw new ElfError(`truncated ELF file: section ${i} occupies bytes ${s.offset}..${s.offset + s.size} but the file has ${buf.length} bytes`);
    }
    raw.push(s);
  }
  const strtab = raw[shstrndx]!;
  if (strtab.type === SHT_NOBITS) throw new ElfError(`section name table (section ${shstrndx}) has no contents`);
  const nameOf = (i: number, off: number): string => {
    if (shstrndx === 0) return '';
    if (off >= strtab.size) throw new ElfError(`section ${i} has name offset ${off} outside the name table (${strtab.size} bytes)`);
    const start = strtab.offset + off;
    const end = buf.indexOf(0, start);
    if (end < 0 || end >= strtab.offset + strtab.size) throw new ElfError(`section ${i} name is not terminated inside the name table`);
    return buf.toString('latin1', start, end);
  };

  const sections: ElfSection[] = [];
  let text = 0;
  let data = 0;
  let bss = 0;
  for (const [i, s] of raw.entries()) {
    if (i === 0) continue; // the reserved null section
    const kind = berkeleyKind(s.type, s.flags);
    if (kind === 'text') text += s.size;
    else if (kind === 'data') data += s.size;
    else if (kind === 'bss') bss += s.size;
    sections.push({ name: nameOf(i, s.nameOff), type: s.type, flags: s.flags, addr: s.addr, offset: s.offset, size: s.size, kind });
  }
  return {
    machine,
    machineName: MACHINES[machine] ?? `machine ${machine}`,
    type: TYPES[type] ?? `type ${type}`,
    entry,
    text,
    data,
    bss,
    flashBytes: text + data,
    ramBytes: data + bss,
    sections,
  };
}

export interface DeviceMemory {
  /** Flash the device declares, bytes (null/undefined: unknown, not checked). */
  flashBytes?: number | null;
  ramBytes?: number | null;
}

/** Why an image does not fit a device: one message per exceeded memory, empty when it fits. */
export function fitProblems(image: Pick<ElfImage, 'flashBytes' | 'ramBytes' | 'text' | 'data' | 'bss'>, device: DeviceMemory): string[] {
  const out: string[] = [];
  if (device.flashBytes != null && image.flashBytes > device.flashBytes) {
    out.push(`image needs ${image.flashBytes} bytes of flash (text ${image.text} + data ${image.data}) but the device has ${device.flashBytes}`);
  }
  if (device.ramBytes != null && image.ramBytes > device.ramBytes) {
    out.push(`image needs ${image.ramBytes} bytes of RAM (data ${image.data} + bss ${image.bss}) but the device has ${device.ramBytes}`);
  }
  return out;
}
