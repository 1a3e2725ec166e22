// The emulated phone's file system: a folder on the host laid out like the few device paths a
// benchmark touches. Device paths are mapped under the root (`/data/local/tmp` →
// `<root>/data/local/tmp`, `/sys/…`, `/proc/meminfo`, `/system/bin/…`); anything else is outside
// the phone. Shell command lines get their device paths rewritten to the mapped ones, and shell
// output gets host paths mapped back, so what the host sees looks like a phone. This is an
// emulator, not a security boundary: the shell is the host's real /bin/sh.
import fs from 'node:fs';
import path from 'node:path';

/** Device prefixes that exist on the emulated phone; `writable` ones accept pushes. */
const MAPPED: { device: string; writable: boolean }[] = [
  { device: '/data/local/tmp', writable: true },
  { device: '/system/bin', writable: false },
  { device: '/proc/meminfo', writable: false },
  { device: '/sys', writable: false },
];

// A device path starts where no path character precedes it (so `<root>/sys/…` and `${X}/sys`
// stay alone) and its last component ends there (`/system` is not `/sys`).
const DEVICE_PATH = new RegExp(
  `(?<![\\w.~/})\\-])(${MAPPED.map((m) => m.device.replace(/\//g, '\\/')).join('|')})(?![\\w.\\-])`,
  'g',
);

export type Access = 'read' | 'write';

export class Sandbox {
  readonly root: string;

  constructor(root: string, readonly diskQuotaBytes: number | null = null) {
    fs.mkdirSync(root, { recursive: true });
    // Processes report real paths (getcwd), so map from the resolved root.
    this.root = fs.realpathSync(root);
    for (const dir of ['data/local/tmp', 'system/bin', 'proc', 'sys']) fs.mkdirSync(path.join(this.root, dir), { recursive: true });
  }

  get tmpDir(): string {
    return path.join(this.root, 'data/local/tmp');
  }

  get binDir(): string {
    return path.join(this.root, 'system/bin');
  }

  /** The host path of a device path, or null when the path is outside the phone (or read-only for a write). */
  resolve(devicePath: string, access: Access): string | null {
    if (!devicePath.startsWith('/')) return null;
    const normal = path.posix.normalize(devicePath).replace(/(.)\/+$/, '$1');
    const hit = MAPPED.find((m) => normal === m.device || normal.startsWith(`${m.device}/`));
    if (!hit || (access === 'write' && !hit.writable)) return null;
    return path.join(this.root, normal);
  }

  /** Rewrites device paths inside a shell command line to their sandbox locations. */
  rewriteCommand(command: string): string {
    return command.replace(DEVICE_PATH, (device) => path.join(this.root, device));
  }

  /** Maps sandbox paths in process output back to device paths, across chunk boundaries. */
  outputRewriter(): OutputRewriter {
    return new OutputRewriter(Buffer.from(`${this.root}/`), Buffer.from('/'));
  }

  /** Bytes stored under <root>/data, the phone's user data partition. */
  usedDataBytes(): number {
    let total = 0;
    const walk = (dir: string) => {
      let entries: fs.Dirent[];
      try {
        entries = fs.readdirSync(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const entry of entries) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(full);
        else {
          try {
            total += fs.lstatSync(full).size;
          } catch {
            // removed meanwhile
          }
        }
      }
    };
    walk(path.join(this.root, 'data'));
    return total;
  }
}

/** Streaming search-and-replace of one byte string; holds back a tail that may start a match. */
export class OutputRewriter {
  private held: Buffer = Buffer.alloc(0);

  constructor(private readonly needle: Buffer, private readonly replacement: Buffer) {}

  push(chunk: Buffer): Buffer {
    const data = this.held.length ? Buffer.concat([this.held, chunk]) : chunk;
    const parts: Buffer[] = [];
    let pos = 0;
    for (let at = data.indexOf(this.needle, pos); at >= 0; at = data.indexOf(this.needle, pos)) {
      parts.push(data.subarray(pos, at), this.replacement);
      pos = at + this.needle.length;
    }
    let hold = 0;
    for (let k = Math.min(this.needle.length - 1, data.length - pos); k > 0; k--) {
      if (data.subarray(data.length - k).equals(this.needle.subarray(0, k))) {
        hold = k;
        break;
      }
    }
    parts.push(data.subarray(pos, data.length - hold));
    this.held = Buffer.from(data.subarray(data.length - hold));
    return Buffer.concat(parts);
  }

  flush(): Buffer {
    const rest = this.held;
    this.held = Buffer.alloc(0);
    return rest;
  }
}
