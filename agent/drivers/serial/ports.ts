// Serial port discovery on Linux. `SerialPort.list()` (serialport) runs `udevadm info -e`; on a
// fresh machine or in a container udevadm may be missing, and list() then rejects or returns
// nothing useful. listPorts() therefore merges three sources, each optional:
//   - 'serialport': SerialPort.list() (bounded by a timeout; a failure is recorded, not thrown);
//   - 'by-id':      the /dev/serial/by-id/* symlinks, resolved to their devices; the link name
//                   (usb-<vendor>_<model>_<serial>-if<NN>[-port<N>]) gives a label, the serial
//                   number and the USB interface;
//   - 'sysfs':      /sys/class/tty/<name>/device, walked up to the USB device for idVendor,
//                   idProduct, manufacturer, product, serial and the interface number.
// Entries are merged by real device path. Every location is injectable for tests.
import fs from 'node:fs';
import path from 'node:path';
import { SerialPort } from 'serialport';

export type PortSource = 'serialport' | 'by-id' | 'sysfs';

export interface SerialPortEntry {
  /** The real device path, e.g. /dev/ttyACM0. */
  path: string;
  /** The /dev/serial/by-id link pointing to it, if any. */
  byId: string | null;
  /** USB ids as 4 lowercase hex digits, when known. */
  vendorId: string | null;
  productId: string | null;
  serialNumber: string | null;
  manufacturer: string | null;
  product: string | null;
  /** "vendor model" as spelt in the by-id link, when there is one (best effort). */
  label: string | null;
  /** USB interface number (the PPK2's data port is interface 1), when known. */
  interfaceNumber: number | null;
  sources: PortSource[];
}

export interface PortInfoLike {
  path: string;
  manufacturer?: string | undefined;
  serialNumber?: string | undefined;
  pnpId?: string | undefined;
  vendorId?: string | undefined;
  productId?: string | undefined;
}

export interface PortDiscoveryOptions {
  /** Folder of by-id links (default /dev/serial/by-id). */
  byIdDir?: string;
  /** sysfs mount (default /sys); null disables the sysfs source. */
  sysfsRoot?: string | null;
  /** Replaces SerialPort.list(); null disables that source. */
  list?: (() => Promise<PortInfoLike[]>) | null;
  /** Time allowed for list() (default 5000 ms). */
  listTimeoutMs?: number;
  /** Receives why a source failed (e.g. "serialport: spawn udevadm ENOENT"). */
  onSourceError?: (source: PortSource, err: Error) => void;
}

export const DEFAULT_BY_ID_DIR = '/dev/serial/by-id';

// ---- by-id names -------------------------------------------------------------------------------

export interface ByIdName {
  bus: string;
  label: string | null;
  serialNumber: string | null;
  interfaceNumber: number | null;
}

/**
 * Splits a by-id link name. udev builds it as `<bus>-<ID_SERIAL>[-if<NN>][-port<N>]` where
 * ID_SERIAL is `<vendor>_<model>_<serial>` with blanks as '_'. A device without a serial number
 * leaves only vendor_model, so the last token counts as a serial only if it looks like one (6+
 * letters/digits with at least one digit).
 */
export function parseByIdName(name: string): ByIdName {
  const m = /^([a-z0-9]+)-(.+?)(?:-if([0-9a-f]{2}))?(?:-port\d+)?$/i.exec(name);
  if (!m) return { bus: '', label: null, serialNumber: null, interfaceNumber: null };
  const tokens = m[2]!.split('_').filter(Boolean);
  let serial: string | null = null;
  const last = tokens[tokens.length - 1];
  if (tokens.length >= 2 && last !== undefined && /^[0-9A-Za-z]{6,}$/.test(last) && /[0-9]/.test(last)) {
    serial = last;
    tokens.pop();
  }
  return {
    bus: m[1]!.toLowerCase(),
    label: tokens.length ? tokens.join(' ') : null,
    serialNumber: serial,
    interfaceNumber: m[3] === undefined ? null : parseInt(m[3], 16),
  };
}

/** The by-id links in `dir` whose target exists: link path → real device path. */
export function readByIdLinks(dir: string = DEFAULT_BY_ID_DIR): Map<string, string> {
  const out = new Map<string, string>();
  let names: string[];
  try {
    names = fs.readdirSync(dir).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return out; // no USB serial device plugged in
    throw err;
  }
  for (const name of names) {
    const link = path.join(dir, name);
    try {
      out.set(link, fs.realpathSync(link));
    } catch {
      // dangling: the device went away and udev has not removed the link yet
    }
  }
  return out;
}

// ---- sysfs -------------------------------------------------------------------------------------

interface SysfsInfo {
  vendorId: string | null;
  productId: string | null;
  serialNumber: string | null;
  manufacturer: string | null;
  product: string | null;
  interfaceNumber: number | null;
}

function readAttr(dir: string, name: string): string | null {
  try {
    const v = fs.readFileSync(path.join(dir, name), 'utf8').trim();
    return v === '' ? null : v;
  } catch {
    return null;
  }
}

/** USB facts for a tty from sysfs: /sys/class/tty/<name>/device, then up to the USB device. */
export function sysfsTtyInfo(ttyName: string, sysfsRoot = '/sys'): SysfsInfo | null {
  let dir: string;
  try {
    dir = fs.realpathSync(path.join(sysfsRoot, 'class', 'tty', ttyName, 'device'));
  } catch {
    return null;
  }
  const root = realpathOr(sysfsRoot);
  let interfaceNumber: number | null = null;
  for (let depth = 0; depth < 4 && dir.startsWith(root + path.sep); depth++) {
    const ifNum = readAttr(dir, 'bInterfaceNumber');
    if (ifNum !== null && interfaceNumber === null) interfaceNumber = parseInt(ifNum, 16);
    const vendorId = readAttr(dir, 'idVendor');
    if (vendorId !== null) {
      return {
        vendorId: vendorId.toLowerCase(),
        productId: readAttr(dir, 'idProduct')?.toLowerCase() ?? null,
        serialNumber: readAttr(dir, 'serial'),
        manufacturer: readAttr(dir, 'manufacturer'),
        product: readAttr(dir, 'product'),
        interfaceNumber,
      };
    }
    dir = path.dirname(dir);
  }
  return null;
}

/** USB serial ttys (ttyACM*, ttyUSB*) that sysfs knows. */
function sysfsUsbTtys(sysfsRoot: string): string[] {
  try {
    return fs.readdirSync(path.join(sysfsRoot, 'class', 'tty')).filter((n) => /^tty(ACM|USB)\d+$/.test(n)).sort();
  } catch {
    return [];
  }
}

// ---- listing -----------------------------------------------------------------------------------

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

const hex4 = (v: string | undefined | null): string | null => {
  if (!v) return null;
  const s = v.toLowerCase().replace(/^0x/, '');
  return /^[0-9a-f]{1,4}$/.test(s) ? s.padStart(4, '0') : null;
};

const realpathOr = (p: string): string => {
  try {
    return fs.realpathSync(p);
  } catch {
    return p;
  }
};

/** All serial ports found by any source, merged by real path and sorted by path. */
export async function listPorts(opts: PortDiscoveryOptions = {}): Promise<SerialPortEntry[]> {
  const byIdDir = opts.byIdDir ?? DEFAULT_BY_ID_DIR;
  const sysfsRoot = opts.sysfsRoot === undefined ? '/sys' : opts.sysfsRoot;
  const lister = opts.list === undefined ? () => SerialPort.list() : opts.list;
  const entries = new Map<string, SerialPortEntry>();
  const entry = (realPath: string, source: PortSource): SerialPortEntry => {
    let e = entries.get(realPath);
    if (!e) {
      e = { path: realPath, byId: null, vendorId: null, productId: null, serialNumber: null, manufacturer: null, product: null, label: null, interfaceNumber: null, sources: [] };
      entries.set(realPath, e);
    }
    if (!e.sources.includes(source)) e.sources.push(source);
    return e;
  };

  if (lister) {
    try {
      for (const info of await withTimeout(lister(), opts.listTimeoutMs ?? 5000, 'SerialPort.list()')) {
        if (!info.path) continue;
        const e = entry(realpathOr(info.path), 'serialport');
        e.vendorId ??= hex4(info.vendorId);
        e.productId ??= hex4(info.productId);
        e.serialNumber ??= info.serialNumber ?? null;
        e.manufacturer ??= info.manufacturer ?? null;
        // on Linux pnpId is the by-id link name
        if (info.pnpId && e.byId === null) {
          const link = path.join(byIdDir, info.pnpId);
          if (fs.existsSync(link)) e.byId = link;
        }
      }
    } catch (err) {
      opts.onSourceError?.('serialport', err as Error);
    }
  }

  try {
    for (const [link, real] of readByIdLinks(byIdDir)) {
      const e = entry(real, 'by-id');
      e.byId ??= link;
      const parsed = parseByIdName(path.basename(link));
      e.label ??= parsed.label;
      e.serialNumber ??= parsed.serialNumber;
      e.interfaceNumber ??= parsed.interfaceNumber;
    }
  } catch (err) {
    opts.onSourceError?.('by-id', err as Error);
  }

  if (sysfsRoot !== null) {
    const names = new Set(sysfsUsbTtys(sysfsRoot));
    for (const e of entries.values()) names.add(path.basename(e.path));
    for (const name of names) {
      const info = sysfsTtyInfo(name, sysfsRoot);
      if (!info) continue;
      const known = [...entries.values()].find((e) => path.basename(e.path) === name);
      const e = known ?? entry(path.join('/dev', name), 'sysfs');
      if (!e.sources.includes('sysfs')) e.sources.push('sysfs');
      e.vendorId ??= hex4(info.vendorId);
      e.productId ??= hex4(info.productId);
      e.serialNumber ??= info.serialNumber;
      e.manufacturer ??= info.manufacturer;
      e.product ??= info.product;
      e.interfaceNumber ??= info.interfaceNumber;
    }
  }

  return [...entries.values()].sort((a, b) => a.path.localeCompare(b.path));
}

// ---- resolving ---------------------------------------------------------------------------------

export type PortErrorReason = 'empty' | 'not-found' | 'dangling-link' | 'not-a-device';

export class PortResolveError extends Error {
  constructor(readonly reason: PortErrorReason, message: string) {
    super(message);
    this.name = 'PortResolveError';
  }
}

export interface ResolveOptions {
  /** Folder of by-id links (default /dev/serial/by-id): a bare link name is looked up there. */
  byIdDir?: string;
  /** Require a character device (default true). */
  requireCharDevice?: boolean;
}

/**
 * Turns a port spec into the real device path: an absolute or relative device path, a by-id
 * link (full path, or just its name, looked up in byIdDir), or a bare device name ("ttyACM0" →
 * /dev/ttyACM0). Errors say what was tried and, for a missing by-id name, what exists.
 */
export function resolvePort(spec: string, opts: ResolveOptions = {}): string {
  const byIdDir = opts.byIdDir ?? DEFAULT_BY_ID_DIR;
  const s = spec.trim();
  if (s === '') throw new PortResolveError('empty', 'empty serial port: give a device path (/dev/ttyACM0) or a /dev/serial/by-id link');
  let candidate: string;
  if (s.includes('/')) {
    candidate = s;
  } else if (fs.existsSync(path.join(byIdDir, s)) || isLink(path.join(byIdDir, s))) {
    candidate = path.join(byIdDir, s);
  } else if (fs.existsSync(path.join('/dev', s))) {
    candidate = path.join('/dev', s);
  } else {
    const known = readByIdNames(byIdDir);
    throw new PortResolveError(
      'not-found',
      `no serial port "${s}": neither ${path.join(byIdDir, s)} nor /dev/${s} exists` + (known.length ? ` (by-id links: ${known.join(', ')})` : ` (${byIdDir} lists no devices)`),
    );
  }
  let lst: fs.Stats;
  try {
    lst = fs.lstatSync(candidate);
  } catch {
    throw new PortResolveError('not-found', `serial port ${candidate} does not exist`);
  }
  let real: string;
  try {
    real = fs.realpathSync(candidate);
  } catch {
    const target = lst.isSymbolicLink() ? fs.readlinkSync(candidate) : '?';
    throw new PortResolveError('dangling-link', `serial port link ${candidate} points to ${target}, which does not exist (device unplugged?)`);
  }
  if (opts.requireCharDevice ?? true) {
    const st = fs.statSync(real);
    if (!st.isCharacterDevice()) {
      const what = st.isDirectory() ? 'a directory' : st.isFile() ? 'a regular file' : 'not a character device';
      throw new PortResolveError('not-a-device', `serial port ${candidate}${real !== candidate ? ` (→ ${real})` : ''} is ${what}, not a character device`);
    }
  }
  return real;
}

function isLink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

function readByIdNames(dir: string): string[] {
  try {
    return fs.readdirSync(dir).sort();
  } catch {
    return [];
  }
}
