// `benchfleet up --demo-phone`: an emulated Android phone behind a private adb server, so a
// newcomer without hardware sees a phone in the farm and can benchmark on it.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { EmulatedPhone } from '../agent/emulators/phone/phone.js';
import { adbConfigSchema, type AdbConfig } from '../agent/drivers/adb/config.js';
import { writeRunnerBinary } from '../agent/emulators/phone/tools/install.js';
import { CliError, EXIT } from './client.js';

async function freePortOutsideEmulatorRange(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve) => {
      const srv = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as net.AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    if (port < 5554 || port > 5586) return port; // the adb server probes 5555–5585 for emulators
  }
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

export interface DemoPhone { adb: AdbConfig; stop(): Promise<void> }

export async function startDemoPhone(dataDir: string): Promise<DemoPhone> {
  const adbPort = await freePortOutsideEmulatorRange();
  const env = { ...process.env, ADB_EMU: '0' };
  try {
    execFileSync('adb', ['-P', String(adbPort), 'start-server'], { env, stdio: 'ignore' });
  } catch {
    throw new CliError(EXIT.usage, 'the demo phone needs the adb command: install it with `apt-get install -y adb`');
  }
  // The phone keeps its port (and so its serial, its identity in the farm) across restarts.
  const portFile = path.join(dataDir, 'demo-phone.json');
  let phonePort: number | null = null;
  try {
    phonePort = (JSON.parse(fs.readFileSync(portFile, 'utf8')) as { port: number }).port;
  } catch { /* first start */ }
  if (phonePort === null || !(await portIsFree(phonePort))) {
    phonePort = await freePortOutsideEmulatorRange();
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(portFile, JSON.stringify({ port: phonePort }));
  }
  const phone = new EmulatedPhone({
    port: phonePort,
    root: path.join(dataDir, 'demo-phone'),
    serialProps: { 'ro.product.manufacturer': 'Benchfleet', 'ro.product.model': 'Demo Phone', 'ro.soc.model': 'emulated' },
  });
  const { port } = await phone.start();
  return {
    adb: adbConfigSchema.parse({
      port: adbPort, connect: [`127.0.0.1:${port}`],
      // The phone has no runner preinstalled (like a real one): benchfleet's ONNX runner is a
      // user-provided binary here, pushed by the agent like any other (docs/agent.md).
      runners: {
        onnxruntime: {
          parser: 'jsonl', binary: writeRunnerBinary('benchfleet-onnx-runner', path.join(dataDir, 'demo-phone-runners', 'benchfleet-onnx-runner')),
          command: '{runner} --model {model} --warmup {warmup} --iterations {iterations} --min-duration-ms {min_duration_ms} --threads {threads} --seed {seed} --inputs {inputs} --reference {reference}',
        },
      },
    }),
    stop: async () => {
      await phone.stop();
      try { execFileSync('adb', ['-P', String(adbPort), 'kill-server'], { env, stdio: 'ignore' }); } catch { /* already gone */ }
    },
  };
}
