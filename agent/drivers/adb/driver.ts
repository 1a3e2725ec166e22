// The ADB driver: phones reached through the standard adb server with adbkit, as device farms
// do. It tracks attach / detach / offline / unauthorized live, describes phones from getprop,
// and runs a job: cooldown gate, model (and runner binary) pushed once per hash, the runner
// streamed through the shell with battery power sampled around its timed window, the remote
// process killed on cancel or timeout, and the job folder removed afterwards.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import adbkit from '@devicefarmer/adbkit';
import type { DeviceDescriptor, SampleSet } from '../../../protocol/agent-messages.js';
import { expandCommand, RunnerWatcher } from '../../runners/command.js';
import { JobFailure, type Driver, type JobContext, type JobOutput } from '../driver.js';
import { adbServerAddress, DEFAULT_PROGRAMS, type AdbConfig, type RunnerProfile } from './config.js';
import { describePhone } from './describe.js';
import { Phone, shq, type AdbClient } from './phone.js';
import { BATTERY_COMMAND, estimateEnergy, parseBattery, PowerSampler, readThermal, samplesIn, type BatteryInfo, type ThermalState } from './power.js';
import { throttleReasons } from '../throttling.js';
import { sha256File } from '../../model-cache.js';

export class AdbDriver implements Driver {
  readonly name = 'adb' as const;
  private readonly client: AdbClient;
  private readonly listeners: (() => void)[] = [];
  private readonly labels = new Map<string, Record<string, string>>();
  private tracker: { end(): unknown } | null = null;
  private poller: NodeJS.Timeout | null = null;
  private lastStates = new Map<string, string>();

  constructor(private readonly config: AdbConfig, private readonly log: (msg: string, extra?: Record<string, unknown>) => void = () => {}) {
    const server = adbServerAddress(config);
    this.client = adbkit.Adb.createClient({ host: server.host, port: server.port });
    this.log('adb server', { host: server.host, port: server.port, from: server.source });
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }

  /** Connects TCP phones and starts tracking the adb server's device list. */
  async start(): Promise<void> {
    for (const target of this.config.connect) await this.connect(target);
    const tracker = await this.client.trackDevices();
    this.tracker = tracker;
    const onEvent = (device: { id: string; type: string }) => {
      this.log('phone state', { serial: device.id, state: device.type });
      if (device.type !== 'device') this.labels.delete(device.id);
      this.changed();
    };
    tracker.on('add', onEvent);
    tracker.on('change', onEvent);
    tracker.on('remove', (device: { id: string }) => { this.labels.delete(device.id); this.log('phone removed', { serial: device.id }); this.changed(); });
    tracker.on('error', (err: Error) => this.log('adb tracker error', { error: err.message }));
    // The tracker misses some transitions (a TCP phone dropping to offline); a cheap poll of the
    // device list backs it up.
    this.poller = setInterval(() => void this.pollStates(), 2000);
  }

  private async pollStates(): Promise<void> {
    try {
      const list = (await this.client.listDevices()) as { id: string; type: string }[];
      const now = new Map(list.map((d) => [d.id, d.type]));
      const same = now.size === this.lastStates.size && [...now].every(([id, type]) => this.lastStates.get(id) === type);
      this.lastStates = now;
      if (!same) this.changed();
    } catch (err) {
      this.log('adb device poll failed', { error: (err as Error).message });
    }
  }

  async connect(target: string): Promise<void> {
    const [host, port] = target.split(':');
    try {
      await this.client.connect(host!, Number(port));
    } catch (err) {
      this.log('adb connect failed', { target, error: (err as Error).message });
    }
  }

  async close(): Promise<void> {
    if (this.poller) clearInterval(this.poller);
    this.tracker?.end();
  }

  async discover(): Promise<DeviceDescriptor[]> {
    const list = (await this.client.listDevices()) as { id: string; type: string }[];
    const runtimes = Object.keys(this.config.runners);
    const out: DeviceDescriptor[] = [];
    for (const d of list) {
      let labels = this.labels.get(d.id);
      if (!labels && d.type === 'device') {
        try {
          labels = await describePhone(new Phone(this.client, d.id));
          this.labels.set(d.id, labels);
        } catch (err) {
          this.log('could not describe phone', { serial: d.id, error: (err as Error).message });
        }
      }
      const name = `${(labels?.model ?? 'android').replace(/\s+/g, '-')}-${d.id}`;
      out.push({
        serial: d.id, name, driver: 'adb', runtimes,
        labels: { ...(labels ?? { os: 'android' }), adb_state: d.type },
        // An unauthorized phone stays visible (its jobs fail with a clear code); offline ones are absent.
        online: d.type === 'device' || d.type === 'unauthorized',
      });
    }
    return out;
  }

  async run(serial: string, ctx: JobContext): Promise<JobOutput> {
    try {
      return await this.runOnPhone(serial, ctx);
    } catch (err) {
      // A phone that dropped mid-job: report the new device list now, before the retry is assigned here.
      if (err instanceof JobFailure && err.code === 'device_unavailable') this.changed();
      throw err;
    }
  }

  private async runOnPhone(serial: string, ctx: JobContext): Promise<JobOutput> {
    const phone = new Phone(this.client, serial);
    const state = await phone.state();
    if (state === 'unauthorized') throw new JobFailure('device_unauthorized', `${serial} has not authorized this computer: accept the USB debugging prompt on the phone`);
    if (state !== 'device') {
      this.changed(); // let the server know before it assigns the retry here
      throw new JobFailure('device_unavailable', `${serial} is ${state}`);
    }
    const profile = this.config.runners[ctx.job.runtime as keyof AdbConfig['runners']];
    if (!profile) throw new JobFailure('unsupported_runtime', `no ${ctx.job.runtime} runner is configured for phones (configured: ${Object.keys(this.config.runners).join(', ') || 'none'})`);

    // A phone without the runner program would fail every job with "sh: …: not found": say which key to set.
    const program = await this.checkRunner(phone, ctx.job.runtime, profile);

    const mark = (name: string) => { if (ctx.receivedAt !== undefined) ctx.timings[`t_${name}_ms`] = Math.round(performance.now() - ctx.receivedAt); };
    mark('checked');
    const before = await this.cooldown(phone, ctx);
    mark('cooled');
    const root = this.config.remoteRoot;
    const dir = `${root}/jobs/${ctx.job.job_id}-${ctx.job.attempt}`;
    const model = await this.pushCached(phone, ctx.modelPath, ctx.job.model.sha256, 'models', ctx);
    const runner = profile.binary ? await this.pushCached(phone, profile.binary, await binaryHash(profile.binary), 'bin', ctx) : program;
    mark('pushed');
    // One round trip: the job folder, the input overrides (when small) and the battery's state.
    const inputsJson = JSON.stringify(ctx.job.settings.inputs);
    const smallInputs = profile.command.includes('{inputs}') && inputsJson.length < 16 * 1024;
    const prepared = await phone.run(`mkdir -p ${shq(dir)}${smallInputs ? ` && printf %s ${shq(inputsJson)} > ${shq(`${dir}/inputs.json`)}` : ''}; ${BATTERY_COMMAND}`);
    const battery = parseBattery(prepared);
    mark('prepared');
    try {
      return await this.measure(phone, ctx, profile, { dir, model, runner, before, battery, inputsWritten: smallInputs });
    } finally {
      await phone.exec(`rm -rf ${shq(dir)}`).catch(() => {});
    }
  }

  /**
   * Checks that the runner program exists before anything is pushed: the configured `binary` on
   * this host, or else the command's program on the phone (`{runner}` without a binary is the
   * parser's usual tool name, looked up on the phone's PATH). Returns what {runner} stands for
   * when no binary is pushed. Fails with runner_not_found and a one-line message naming the key.
   */
  private async checkRunner(phone: Phone, runtime: string, profile: RunnerProfile): Promise<string | null> {
    const key = `adb.runners.${runtime}.binary`;
    if (profile.binary) {
      if (!fs.existsSync(profile.binary)) throw new JobFailure('runner_not_found', `the ${runtime} runner binary ${profile.binary} (${key}) does not exist on this agent's host`);
      return null;
    }
    const fallback = DEFAULT_PROGRAMS[profile.parser];
    const first = /^\s*(\S+)/.exec(profile.command)?.[1] ?? '';
    const usesRunner = profile.command.includes('{runner}');
    const program = usesRunner ? fallback : first.includes('{') ? null : first;
    const tool = fallback ?? `a ${profile.parser} runner`;
    const hint = `set ${key} in the agent config to an Android build of ${tool} on this host (pushed by the agent, named {runner} in the command; see docs/agent.md, "Runners on phones")`;
    if (!program) throw new JobFailure('runner_not_found', `no ${runtime} runner binary is configured for phones: ${hint}`);
    const found = await phone.exec(`command -v ${shq(program)} >/dev/null 2>&1`);
    if (found.exitCode !== 0) throw new JobFailure('runner_not_found', `${phone.serial} has no ${program} (the ${runtime} runner): ${hint}`);
    return usesRunner ? program : null;
  }

  /** Waits until the hottest thermal zone is below the threshold, or fails with device_too_hot. */
  private async cooldown(phone: Phone, ctx: JobContext): Promise<ThermalState> {
    const { maxStartCelsius, maxWaitMs, pollMs } = this.config.thermal;
    const started = Date.now();
    for (;;) {
      const t = await readThermal(phone);
      if (t.maxCelsius === null || t.maxCelsius < maxStartCelsius) return t;
      if (Date.now() - started >= maxWaitMs) {
        throw new JobFailure('device_too_hot', `${phone.serial} stayed at ${t.maxCelsius.toFixed(1)} °C, above ${maxStartCelsius} °C, for ${Math.round(maxWaitMs / 1000)} s`);
      }
      ctx.log('waiting for the phone to cool down', { celsius: t.maxCelsius, threshold: maxStartCelsius });
      ctx.progress({ phase: 'preparing', done: 0, total: 1 });
      await sleep(pollMs, ctx.signal);
    }
  }

  /** Pushes a file once per content hash; later jobs reuse it after checking the hash on the phone. */
  private async pushCached(phone: Phone, local: string, sha256: string, kind: string, ctx: JobContext): Promise<string> {
    const remote = `${this.config.remoteRoot}/${kind}/${sha256}`;
    // Files land under their hash only after a complete push (written as .part, then renamed), so
    // the name and the size identify them; re-hashing a large model on every job would cost seconds.
    const size = fs.statSync(local).size;
    const check = await phone.exec(`stat -c %s ${shq(remote)} 2>/dev/null || wc -c < ${shq(remote)}`);
    if (check.exitCode === 0 && Number(check.output.trim()) === size) return remote;
    ctx.progress({ phase: 'fetching', done: 0, total: size });
    await phone.run(`mkdir -p ${shq(`${this.config.remoteRoot}/${kind}`)}`);
    const partial = `${remote}.part`;
    try {
      await phone.push(local, partial, kind === 'bin' ? 0o755 : 0o644);
      await phone.run(`mv ${shq(partial)} ${shq(remote)}`);
    } catch (err) {
      await phone.exec(`rm -f ${shq(partial)}`).catch(() => {});
      throw err;
    }
    return remote;
  }

  private async measure(
    phone: Phone, ctx: JobContext, profile: RunnerProfile,
    where: { dir: string; model: string; runner: string | null; before: ThermalState; battery: BatteryInfo | null; inputsWritten: boolean },
  ): Promise<JobOutput> {
    const { settings } = ctx.job;
    let reference: string | null = null;
    if (ctx.job.reference && profile.command.includes('{reference}')) {
      const local = path.join(os.tmpdir(), `benchfleet-reference-${ctx.job.job_id}-${ctx.job.attempt}.json`);
      fs.writeFileSync(local, JSON.stringify(ctx.job.reference.set));
      try {
        reference = `${where.dir}/reference.json`;
        await phone.push(local, reference, 0o644);
      } finally {
        fs.rmSync(local, { force: true });
      }
    }
    const command = expandCommand(profile.command, settings, { model: where.model, dir: where.dir, runner: where.runner, inputs: `${where.dir}/inputs.json`, reference });
    const hasOverrides = Object.keys(settings.inputs).length > 0;
    if (hasOverrides && !profile.command.includes('{inputs}')) {
      throw new JobFailure('invalid_input_spec', `the ${ctx.job.runtime} runner command on phones takes no input overrides (no {inputs} placeholder)`);
    }
    if (profile.command.includes('{inputs}') && !where.inputsWritten) {
      const local = path.join(os.tmpdir(), `benchfleet-inputs-${ctx.job.job_id}-${ctx.job.attempt}.json`);
      fs.writeFileSync(local, JSON.stringify(settings.inputs));
      try {
        await phone.push(local, `${where.dir}/inputs.json`, 0o644);
      } finally {
        fs.rmSync(local, { force: true });
      }
    }
    const battery = where.battery;
    const { sampleHz, baselineMs, settleMs } = this.config.energy;
    const sampler = battery ? new PowerSampler(phone, battery.dir, sampleHz, { settleMs, baselineMs }) : null;
    await sampler?.start();
    // The resting baseline comes first, settled, with the runner not yet started: after a run the
    // current is still decaying (docs/benchmarks.md, "Energy accuracy").
    const baselineFrom = performance.now();
    const baseline = sampler ? await sampler.baseline(ctx.signal) : null;
    // The settle and the baseline are a measurement the job asked for, not the agent's overhead.
    const baselineWaitMs = performance.now() - baselineFrom;
    if (ctx.signal.aborted) {
      sampler?.stop();
      throw new JobFailure('canceled', 'aborted');
    }

    const watcher = new RunnerWatcher(ctx.progress);
    const pidFile = `${where.dir}/pid`;
    const handle = await phone.stream(`cd ${shq(where.dir)} && sh -c ${shq(`echo $$ > ${pidFile}; exec sh -c ${shq(command)}`)} 2>&1`, (line) => watcher.line(line));
    const runStart = performance.now();
    if (ctx.receivedAt !== undefined) ctx.timings.agent_overhead_ms = Math.round((runStart - ctx.receivedAt - baselineWaitMs) * 10) / 10;
    if (sampler) ctx.timings.energy_baseline_wait_ms = Math.round(baselineWaitMs);
    const kill = () => {
      void phone.exec(`p=$(cat ${shq(pidFile)} 2>/dev/null); [ -n "$p" ] && { pkill -9 -P $p 2>/dev/null; kill -9 $p 2>/dev/null; }; true`).catch(() => {})
        .finally(() => handle.stop());
    };
    ctx.signal.addEventListener('abort', kill, { once: true });
    let result;
    try {
      result = await handle.done;
    } catch (err) {
      sampler?.stop();
      if (ctx.signal.aborted) throw new JobFailure('canceled', 'aborted');
      throw err;
    } finally {
      ctx.signal.removeEventListener('abort', kill);
    }
    const runEnd = performance.now();
    sampler?.stop();
    if (ctx.signal.aborted) throw new JobFailure('canceled', 'aborted');
    const after = await readThermal(phone).catch(() => null);
    const parsed = watcher.finish(profile.parser, result.exitCode);

    const measurements: SampleSet[] = parsed.measurements.map((m) => ({ ...m }));
    // Throttled only from what shows it: a frequency cap below the maximum, a cooling device
    // engaging, or (caps unreadable) a falling frequency, during the timed window or by its end.
    const span = watcher.window ?? [runStart, runEnd];
    const during = [...(sampler?.thermal.filter((t) => t.tMs >= span[0] && t.tMs <= span[1]) ?? []), ...(after ? [after] : [])];
    const reasons = throttleReasons(where.before, during);
    const throttled = reasons.length > 0;
    const startedWarm = where.before.maxCelsius !== null && where.before.maxCelsius >= this.config.thermal.warmCelsius;
    const peakDuring = Math.max(...during.map((t) => t.maxCelsius ?? -Infinity));
    const peakFreq = Math.max(...during.map((t) => t.avgFreqKhz ?? -Infinity));
    if (throttled) for (const m of measurements) m.flags = [...(m.flags ?? []), 'throttled'];
    const environment: JobOutput['environment'] = {
      ...parsed.environment,
      runner_parser: profile.parser,
      temp_c_before: where.before.maxCelsius, temp_c_after: after?.maxCelsius ?? null,
      temp_c_peak: Number.isFinite(peakDuring) ? Math.round(peakDuring * 10) / 10 : null,
      cpu_freq_mhz_before: where.before.avgFreqKhz === null ? null : Math.round(where.before.avgFreqKhz / 1000),
      cpu_freq_mhz_peak: Number.isFinite(peakFreq) ? Math.round(peakFreq / 1000) : null,
      cpu_freq_mhz_after: after?.avgFreqKhz == null ? null : Math.round(after.avgFreqKhz / 1000),
      ...ctx.timings, throttled, throttle_reasons: reasons.join(',') || null, started_warm: startedWarm,
      battery_level: battery?.level ?? null, battery_status: battery?.status ?? null, charging: battery?.charging ?? null,
    };
    if (sampler && baseline) {
      environment.power_samples = sampler.samples.length;
      const window = watcher.window;
      const iterations = measurements.find((m) => m.metric === 'latency_ms')?.samples.length ?? 0;
      // Energy per inference needs the timed window's edges (JSON-lines runners print them); for
      // other runners only the whole run's energy is known, which includes loading and warm-up.
      const [from, to] = window ?? [runStart, runEnd];
      environment.baseline_settle_ms = baseline.settledMs;
      const e = estimateEnergy(baseline.samples, samplesIn(sampler.samples, from, to), to - from, window ? iterations : 1, battery?.charging ?? false);
      if (e) {
        const mw = (w: number) => Math.round(w * 1e5) / 100;
        Object.assign(environment, { power_rest_mw: mw(e.restW), power_busy_mw: mw(e.busyW), power_noise_mw: mw(e.noiseW) });
      }
      if (!e) {
        environment.energy_skipped = `the ${window ? 'timed window' : 'run'} (${Math.round(to - from)} ms) or the baseline held too few power samples at ${sampleHz} Hz; give --min-duration of a few seconds`;
      } else if (e.mjPerInference === null) {
        environment.energy_below_noise = true;
        environment.energy_skipped = `the power above rest (${(e.netW * 1000).toFixed(1)} mW) is within the baseline's noise (±${(e.noiseW * 1000).toFixed(1)} mW): no energy figure`;
      } else if (window) {
        measurements.push({ metric: 'energy_mj', unit: 'mJ', samples: [e.mjPerInference], flags: battery?.charging ? ['charging'] : [] });
      } else {
        environment.energy_whole_run_mj = Math.round(e.mjPerInference * 1000) / 1000;
      }
    }
    return { measurements, environment, operators: parsed.operators };
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });
}

/** Runner binaries' hashes by path, size and mtime: hashing a large binary on every job would count against the start-up time. */
const binaryHashes = new Map<string, { size: number; mtimeMs: number; sha256: string }>();

async function binaryHash(file: string): Promise<string> {
  const st = fs.statSync(file);
  const known = binaryHashes.get(file);
  if (known && known.size === st.size && known.mtimeMs === st.mtimeMs) return known.sha256;
  const sha256 = await sha256File(file);
  binaryHashes.set(file, { size: st.size, mtimeMs: st.mtimeMs, sha256 });
  return sha256;
}
