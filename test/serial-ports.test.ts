// Tests for agent/drivers/serial/ports.ts on fixture trees built in a temp folder: a fake /dev
// with tty files, a by-id folder of relative symlinks as udev makes them (one dangling), and a
// sysfs tree with the USB device/interface layout of a CDC-ACM and a USB-serial adapter.
// listPorts() must work when SerialPort.list() fails (udevadm missing), merge its answer with the
// links when it works, and fill USB facts from sysfs; resolvePort() must follow links and explain
// every failure.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { listPorts, parseByIdName, PortResolveError, resolvePort, type PortSource } from '../agent/drivers/serial/ports.js';

const tempDirs: string[] = [];
after(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

const PPK2_LINK = 'usb-Nordic_Semiconductor_PPK2_C4E3B1A2D9F0-if01';
const PPK2_LINK_IF03 = 'usb-Nordic_Semiconductor_PPK2_C4E3B1A2D9F0-if03';
const FTDI_LINK = 'usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0';
const CH340_LINK = 'usb-1a86_USB2.0-Serial-if00-port0';

interface Fixture {
  root: string;
  dev: string;
  byId: string;
  sys: string;
}

/** /dev with ttyACM0, ttyACM1, ttyUSB0, ttyUSB1; by-id links (relative, like udev's) plus a dangling one; sysfs for ttyACM0 and ttyUSB0. */
function fixture(): Fixture {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'benchfleet-ports-')));
  tempDirs.push(root);
  const dev = path.join(root, 'dev');
  const byId = path.join(dev, 'serial', 'by-id');
  fs.mkdirSync(byId, { recursive: true });
  for (const n of ['ttyACM0', 'ttyACM1', 'ttyUSB0', 'ttyUSB1']) fs.writeFileSync(path.join(dev, n), '');
  fs.symlinkSync('../../ttyACM0', path.join(byId, PPK2_LINK));
  fs.symlinkSync('../../ttyACM1', path.join(byId, PPK2_LINK_IF03));
  fs.symlinkSync('../../ttyUSB0', path.join(byId, FTDI_LINK));
  fs.symlinkSync('../../ttyUSB1', path.join(byId, CH340_LINK));
  fs.symlinkSync('../../ttyACM9', path.join(byId, 'usb-Gone_Device_0123456789-if00')); // unplugged

  const sys = path.join(root, 'sys');
  const write = (rel: string, content: string): void => {
    const file = path.join(sys, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
  };
  // CDC-ACM: the tty's device is the USB interface; its parent is the USB device
  const ppkDev = 'devices/pci0000:00/0000:00:14.0/usb1/1-2';
  write(`${ppkDev}/idVendor`, '1915\n');
  write(`${ppkDev}/idProduct`, 'c00a\n');
  write(`${ppkDev}/manufacturer`, 'Nordic Semiconductor\n');
  write(`${ppkDev}/product`, 'PPK2\n');
  write(`${ppkDev}/serial`, 'C4E3B1A2D9F0\n');
  write(`${ppkDev}/1-2:1.1/bInterfaceNumber`, '01\n');
  fs.mkdirSync(path.join(sys, `${ppkDev}/1-2:1.1/tty/ttyACM0`), { recursive: true });
  // usb-serial: device → the port node, its parent the interface, then the USB device
  const ftdiDev = 'devices/pci0000:00/0000:00:14.0/usb1/1-3';
  write(`${ftdiDev}/idVendor`, '0403\n');
  write(`${ftdiDev}/idProduct`, '6001\n');
  write(`${ftdiDev}/product`, 'FT232R USB UART\n');
  write(`${ftdiDev}/1-3:1.0/bInterfaceNumber`, '00\n');
  fs.mkdirSync(path.join(sys, `${ftdiDev}/1-3:1.0/ttyUSB0/tty/ttyUSB0`), { recursive: true });
  fs.mkdirSync(path.join(sys, 'class/tty'), { recursive: true });
  fs.symlinkSync(`../../${ppkDev}/1-2:1.1/tty/ttyACM0`, path.join(sys, 'class/tty/ttyACM0'));
  fs.symlinkSync(`../../${ftdiDev}/1-3:1.0/ttyUSB0/tty/ttyUSB0`, path.join(sys, 'class/tty/ttyUSB0'));
  fs.symlinkSync('../..', path.join(sys, `${ppkDev}/1-2:1.1/tty/ttyACM0/device`));
  fs.symlinkSync('../..', path.join(sys, `${ftdiDev}/1-3:1.0/ttyUSB0/tty/ttyUSB0/device`));
  return { root, dev, byId, sys };
}

const udevadmMissing = (): Promise<never> => Promise.reject(Object.assign(new Error('spawn udevadm ENOENT'), { code: 'ENOENT' }));

test('by-id link names: label, serial number and interface', () => {
  assert.deepEqual(parseByIdName(PPK2_LINK), { bus: 'usb', label: 'Nordic Semiconductor PPK2', serialNumber: 'C4E3B1A2D9F0', interfaceNumber: 1 });
  assert.deepEqual(parseByIdName(FTDI_LINK), { bus: 'usb', label: 'FTDI FT232R USB UART', serialNumber: 'A50285BI', interfaceNumber: 0 });
  // a device without a serial number: the last token is part of the model, not a serial
  assert.deepEqual(parseByIdName(CH340_LINK), { bus: 'usb', label: '1a86 USB2.0-Serial', serialNumber: null, interfaceNumber: 0 });
  assert.deepEqual(parseByIdName('usb-SEGGER_J-Link_000683123456-if00'), { bus: 'usb', label: 'SEGGER J-Link', serialNumber: '000683123456', interfaceNumber: 0 });
});

test('SerialPort.list() failing (no udevadm): the by-id links alone give the ports', async () => {
  const fx = fixture();
  const errors: [PortSource, string][] = [];
  const ports = await listPorts({ byIdDir: fx.byId, sysfsRoot: null, list: udevadmMissing, onSourceError: (s, e) => errors.push([s, e.message]) });
  assert.deepEqual(errors, [['serialport', 'spawn udevadm ENOENT']]);
  assert.deepEqual(
    ports.map((p) => [path.relative(fx.dev, p.path), p.byId && path.basename(p.byId), p.serialNumber, p.interfaceNumber, p.sources]),
    [
      ['ttyACM0', PPK2_LINK, 'C4E3B1A2D9F0', 1, ['by-id']],
      ['ttyACM1', PPK2_LINK_IF03, 'C4E3B1A2D9F0', 3, ['by-id']],
      ['ttyUSB0', FTDI_LINK, 'A50285BI', 0, ['by-id']],
      ['ttyUSB1', CH340_LINK, null, 0, ['by-id']],
    ],
  );
  assert.equal(ports[0]!.label, 'Nordic Semiconductor PPK2');
  assert.equal(ports[0]!.vendorId, null, 'no USB ids without udev or sysfs');
});

test('SerialPort.list() that hangs is cut off by the timeout', async () => {
  const fx = fixture();
  const errors: string[] = [];
  const t0 = Date.now();
  const ports = await listPorts({ byIdDir: fx.byId, sysfsRoot: null, list: () => new Promise(() => {}), listTimeoutMs: 100, onSourceError: (_s, e) => errors.push(e.message) });
  assert.ok(Date.now() - t0 < 2000);
  assert.equal(ports.length, 4);
  assert.match(errors[0] ?? '', /did not answer within 100 ms/);
});

test('SerialPort.list() working: merged with the links by real path, its USB ids kept', async () => {
  const fx = fixture();
  const ports = await listPorts({
    byIdDir: fx.byId,
    sysfsRoot: null,
    list: () =>
      Promise.resolve([
        { path: path.join(fx.dev, 'ttyACM0'), manufacturer: 'Nordic Semiconductor', serialNumber: 'C4E3B1A2D9F0', pnpId: PPK2_LINK, vendorId: '1915', productId: 'C00A' },
        { path: path.join(fx.dev, 'ttyS0'), manufacturer: undefined, serialNumber: undefined, pnpId: undefined, vendorId: undefined, productId: undefined },
      ]),
  });
  const byName = new Map(ports.map((p) => [path.basename(p.path), p]));
  assert.deepEqual([...byName.keys()], ['ttyACM0', 'ttyACM1', 'ttyS0', 'ttyUSB0', 'ttyUSB1']);
  const ppk = byName.get('ttyACM0')!;
  assert.deepEqual(ppk.sources, ['serialport', 'by-id']);
  assert.equal(ppk.byId, path.join(fx.byId, PPK2_LINK));
  assert.equal(ppk.vendorId, '1915');
  assert.equal(ppk.productId, 'c00a');
  assert.equal(ppk.manufacturer, 'Nordic Semiconductor');
  assert.deepEqual(byName.get('ttyS0')!.sources, ['serialport']);
  assert.equal(byName.get('ttyS0')!.byId, null);
});

test('sysfs fills vendor, product, serial and interface without udev', async () => {
  const fx = fixture();
  const ports = await listPorts({ byIdDir: fx.byId, sysfsRoot: fx.sys, list: udevadmMissing });
  const acm0 = ports.find((p) => p.path === path.join(fx.dev, 'ttyACM0'))!;
  assert.deepEqual(
    { vendorId: acm0.vendorId, productId: acm0.productId, manufacturer: acm0.manufacturer, product: acm0.product, serial: acm0.serialNumber, iface: acm0.interfaceNumber, sources: acm0.sources },
    { vendorId: '1915', productId: 'c00a', manufacturer: 'Nordic Semiconductor', product: 'PPK2', serial: 'C4E3B1A2D9F0', iface: 1, sources: ['by-id', 'sysfs'] },
  );
  const usb0 = ports.find((p) => p.path === path.join(fx.dev, 'ttyUSB0'))!;
  assert.equal(usb0.vendorId, '0403');
  assert.equal(usb0.product, 'FT232R USB UART');
  assert.equal(usb0.interfaceNumber, 0);
  // ttyACM1 has no sysfs entry in the fixture: nothing invented
  const acm1 = ports.find((p) => p.path === path.join(fx.dev, 'ttyACM1'))!;
  assert.equal(acm1.vendorId, null);
  assert.deepEqual(acm1.sources, ['by-id']);
});

test('no by-id folder and nothing else: an empty list, not an error', async () => {
  const fx = fixture();
  const ports = await listPorts({ byIdDir: path.join(fx.root, 'missing'), sysfsRoot: null, list: null });
  assert.deepEqual(ports, []);
});

test('resolvePort: device paths, by-id links and bare names', () => {
  const fx = fixture();
  const loose = { byIdDir: fx.byId, requireCharDevice: false };
  assert.equal(resolvePort(path.join(fx.byId, PPK2_LINK), loose), path.join(fx.dev, 'ttyACM0'));
  assert.equal(resolvePort(PPK2_LINK, loose), path.join(fx.dev, 'ttyACM0'), 'a bare link name is looked up in the by-id folder');
  assert.equal(resolvePort(`  ${path.join(fx.dev, 'ttyUSB0')}\n`, loose), path.join(fx.dev, 'ttyUSB0'));
  // a real character device through a link
  fs.symlinkSync('/dev/null', path.join(fx.byId, 'usb-Null_Device_ABC123456-if00'));
  assert.equal(resolvePort('usb-Null_Device_ABC123456-if00', { byIdDir: fx.byId }), '/dev/null');
  assert.equal(resolvePort('null', { byIdDir: fx.byId }), '/dev/null', 'bare device name under /dev');
});

test('resolvePort errors say what is wrong', () => {
  const fx = fixture();
  const fails = (spec: string, reason: string, re: RegExp, opts: { requireCharDevice?: boolean } = {}): void => {
    assert.throws(
      () => resolvePort(spec, { byIdDir: fx.byId, ...opts }),
      (err: unknown) => err instanceof PortResolveError && err.reason === reason && re.test(err.message),
      `${spec}: expected ${reason} ${re}`,
    );
  };
  fails('', 'empty', /empty serial port/);
  fails('   ', 'empty', /empty serial port/);
  fails(path.join(fx.dev, 'ttyACM7'), 'not-found', /ttyACM7 does not exist/);
  fails('usb-Nothing_Here_999999-if00', 'not-found', new RegExp(`no serial port "usb-Nothing_Here_999999-if00".*by-id links: .*${PPK2_LINK}`));
  fails('usb-Gone_Device_0123456789-if00', 'dangling-link', /points to \.\.\/\.\.\/ttyACM9, which does not exist \(device unplugged\?\)/);
  fails(path.join(fx.byId, 'usb-Gone_Device_0123456789-if00'), 'dangling-link', /which does not exist/);
  fails(PPK2_LINK, 'not-a-device', /→ .*ttyACM0\) is a regular file, not a character device/);
  fails(fx.dev, 'not-a-device', /is a directory/);
  const emptyById = path.join(fx.root, 'empty-by-id');
  fs.mkdirSync(emptyById);
  assert.throws(() => resolvePort('ttyNOPE', { byIdDir: emptyById }), /lists no devices/);
});
