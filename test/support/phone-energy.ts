// Energy accuracy on the emulated phone, shared by test/energy-accuracy.test.ts and
// bench/energy-accuracy.ts: a phone with a known power profile, the real adb server, the ADB
// driver in this process, and a JSON-lines runner on the phone that keeps one CPU busy and prints
// its timed window's edges (wall clock) as env records. The truth is the phone's own lagged load
// power integrated over that window (EmulatedPhone.loadEnergyJ), ÷ the runner's inferences.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AdbDriver } from '../../agent/drivers/adb/driver.js';
import { adbConfigSchema, type AdbConfig } from '../../agent/drivers/adb/config.js';
import type { JobOutput } from '../../agent/drivers/driver.js';
import { EmulatedPhone, type EmulatedPhoneOptions } from '../../agent/emulators/phone/phone.js';
import type { PowerProfile } from '../../agent/emulators/phone/sysfs-model.js';
import { runSettingsSchema } from '../../protocol/domain.js';
import { freePort } from './adb.js';

/** Profiles with known watts under load (the idle phone draws 0.15 A near 4 V besides). */
export const PROFILES: Record<string, PowerProfile> = {
  constant: { kind: 'constant', watts: 2.94 },
  stepped: { kind: 'stepped', steps: [{ atS: 0, watts: 1.2 }, { atS: 1.5, watts: 3.2 }, { atS: 2.5, watts: 2.0 }] },
  ramped: { kind: 'ramped', fromWatts: 0.8, toWatts: 3.5, overS: 3 },
};

/**
 * The runner: a busy loop in "inferences" of 2 ms, 300 ms of warm-up, then a timed window of
 * {min_duration_ms}; the window's edges go out as records the agent times and as env records.
 */
const RUNNER = `
const minMs = Number(process.argv[2]);
const emit = (r) => process.stdout.write(JSON.stringify(r) + '\\n');
const spin = (ms) => { const end = performance.now() + ms; while (performance.now() < end) {} };
spin(300);
const start = Date.now();
emit({ type: 'window', edge: 'start', iterations: 0 });
const t0 = performance.now();
const samples = [];
while (performance.now() - t0 < minMs) { const a = performance.now(); spin(2); samples.push(performance.now() - a); }
const end = Date.now();
emit({ type: 'window', edge: 'end', iterations: samples.length });
emit({ type: 'samples', metric: 'latency_ms', unit: 'ms', values: samples });
emit({ type: 'env', key: 'window_start_epoch_ms', value: start });
emit({ type: 'env', key: 'window_end_epoch_ms', value: end });
emit({ type: 'done' });
`;

export interface EnergyRun {
  output: JobOutput;
  /** Energy per inference the driver reported, mJ (null: none). */
  reportedMj: number | null;
  /** The injected truth per inference, mJ. */
  truthMj: number;
  /** reported ÷ truth − 1. */
  error: number | null;
}

export class PhoneEnergyRig {
  readonly phone: EmulatedPhone;
  readonly driver: AdbDriver;
  private readonly dir: string;
  private readonly runner: string;
  private readonly model: string;
  private jobs = 0;

  private constructor(phone: EmulatedPhone, driver: AdbDriver, dir: string) {
    this.phone = phone;
    this.driver = driver;
    this.dir = dir;
    this.runner = path.join(dir, 'busy-runner.js');
    fs.writeFileSync(this.runner, RUNNER);
    this.model = path.join(dir, 'model.onnx');
    fs.writeFileSync(this.model, Buffer.alloc(256, 7));
  }

  static async start(adbPort: number, phoneOptions: Partial<EmulatedPhoneOptions>, config: Partial<AdbConfig> = {}): Promise<PhoneEnergyRig> {
    const port = await freePort();
    const phone = new EmulatedPhone({ port, tickMs: 50, ...phoneOptions });
    await phone.start();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'benchfleet-energy-'));
    const driver = new AdbDriver(adbConfigSchema.parse({
      port: adbPort,
      connect: [`127.0.0.1:${port}`],
      runners: { onnxruntime: { parser: 'jsonl', command: 'node {runner} {min_duration_ms}', binary: path.join(dir, 'busy-runner.js') } },
      
      thermal: { maxStartCelsius: 90, maxWaitMs: 1000, pollMs: 200 },
      ...config,
    }));
    const rig = new PhoneEnergyRig(phone, driver, dir);
    await driver.start();
    const deadline = Date.now() + 20_000;
    while (!(await driver.discover()).some((d) => d.serial === phone.serial && d.online)) {
      if (Date.now() > deadline) throw new Error(`the adb server did not list ${phone.serial}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    return rig;
  }

  /** One job with a timed window of `windowMs`; compares the driver's energy with the injected truth. */
  async run(windowMs: number): Promise<EnergyRun> {
    const id = ++this.jobs;
    const output = await this.driver.run(this.phone.serial, {
      job: {
        job_id: `energy-${id}`, attempt: 1, run_id: 'energy', device_serial: this.phone.serial, runtime: 'onnxruntime',
        model: { sha256: 'e'.repeat(64), format: 'onnx', size_bytes: 256 },
        settings: runSettingsSchema.parse({ warmup: 0, iterations: 1, min_duration_ms: windowMs }),
      },
      modelPath: this.model,
      signal: new AbortController().signal,
      progress: () => {},
      timings: {},
      log: () => {},
    });
    const env = output.environment;
    const from = Number(env.window_start_epoch_ms) - performance.timeOrigin;
    const to = Number(env.window_end_epoch_ms) - performance.timeOrigin;
    const iterations = output.measurements.find((m) => m.metric === 'latency_ms')?.samples.length ?? 0;
    const truthMj = (this.phone.loadEnergyJ(from, to) * 1000) / iterations;
    const reportedMj = output.measurements.find((m) => m.metric === 'energy_mj')?.samples[0] ?? null;
    return { output, reportedMj, truthMj, error: reportedMj === null ? null : reportedMj / truthMj - 1 };
  }

  async stop(): Promise<void> {
    await this.driver.close();
    await this.phone.dispose();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
