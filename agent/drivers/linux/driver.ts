// The local Linux driver: the agent's own host is one device. ONNX models run in a separate
// worker process; around the timed window it reads frequencies, temperatures and energy.
import { fork, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import type { DeviceDescriptor } from '../../../protocol/agent-messages.js';
import type { WorkerMessage, WorkerStart } from '../../runners/onnx/messages.js';
import { fidelityMeasurements } from '../../../protocol/fidelity.js';
import { JobFailure, type Driver, type JobContext, type JobOutput } from '../driver.js';
import { describeHost } from './describe.js';
import { createEnergyMeter, type EnergyReading } from './energy.js';
import { Sysfs, thermalSnapshot } from './sysfs.js';
import { DEFAULT_WARM_CELSIUS, throttleReasons } from '../throttling.js';
import { runLocalCommand } from './command-runner.js';
import type { RunnerProfile } from '../adb/config.js';

const WORKER = fileURLToPath(new URL('../../runners/onnx/worker.js', import.meta.url));

export interface LinuxDriverOptions {
  sysfsRoot?: string | undefined;
  deviceName?: string | undefined;
  serial?: string;
  /** Runner commands per runtime (benchmark_model, llama-bench…); onnxruntime defaults to the built-in worker. */
  runners?: Partial<Record<string, RunnerProfile>> | undefined;
}

export class LinuxDriver implements Driver {
  readonly name = 'linux' as const;
  private readonly sys: Sysfs;
  private readonly serial: string;
  private readonly deviceName: string;
  private readonly runners: Partial<Record<string, RunnerProfile>>;

  constructor(opts: LinuxDriverOptions = {}) {
    this.runners = opts.runners ?? {};
    this.sys = new Sysfs(opts.sysfsRoot ?? '/');
    this.serial = opts.serial ?? `host:${os.hostname()}`;
    this.deviceName = opts.deviceName ?? os.hostname();
  }

  async discover(): Promise<DeviceDescriptor[]> {
    return [{ serial: this.serial, name: this.deviceName, driver: 'linux', labels: describeHost(this.sys), runtimes: [...new Set(['onnxruntime', ...Object.keys(this.runners)])], online: true }];
  }

  async run(serial: string, ctx: JobContext): Promise<JobOutput> {
    const out = await this.runOnHost(serial, ctx);
    // Throttled results carry the flag on every measurement, as on phones.
    if (out.environment.throttled === true) for (const m of out.measurements) m.flags = [...(m.flags ?? []), 'throttled'];
    return out;
  }

  private async runOnHost(serial: string, ctx: JobContext): Promise<JobOutput> {
    if (serial !== this.serial) throw new JobFailure('device_unavailable', `this agent has no linux device ${serial}`);
    const profile = this.runners[ctx.job.runtime];
    if (!profile && ctx.job.runtime !== 'onnxruntime') throw new JobFailure('unsupported_runtime', `this host has no ${ctx.job.runtime} runner configured`);
    const before = thermalSnapshot(this.sys);
    const meter = createEnergyMeter(this.sys);
    let energy: EnergyReading | null = null;
    let windowIterations = 0;
    const onWindow = (edge: 'start' | 'end', iterations: number) => {
      if (edge === 'start') meter?.start();
      else { energy = meter?.stop() ?? null; windowIterations = iterations; }
    };
    if (profile) {
      const parsed = await runLocalCommand(ctx, profile, onWindow);
      const after = thermalSnapshot(this.sys);
      const e = energy as EnergyReading | null;
      const measurements = [...parsed.measurements];
      if (e && windowIterations > 0) measurements.push({ metric: 'energy_mj', unit: 'mJ', samples: [e.totalUj / 1000 / windowIterations] });
      return {
        measurements, operators: parsed.operators,
        environment: { ...parsed.environment, runner_parser: profile.parser, energy_source: e ? e.source : null, ...snapshotEnv(before, after) },
      };
    }
    const result = await runWorker(ctx, { onWindow });
    const after = thermalSnapshot(this.sys);
    const measurements: JobOutput['measurements'] = [{ metric: 'latency_ms', unit: 'ms', samples: result.done.samplesMs }];
    if (result.done.peakRssKib !== null) measurements.push({ metric: 'peak_rss_mib', unit: 'MiB', samples: [result.done.peakRssKib / 1024] });
    const fidelity = result.done.fidelity;
    if (fidelity && !('error' in fidelity)) measurements.push(...fidelityMeasurements(fidelity));
    const e = energy as EnergyReading | null;
    if (e && windowIterations > 0) measurements.push({ metric: 'energy_mj', unit: 'mJ', samples: [e.totalUj / 1000 / windowIterations] });
    return {
      measurements,
      environment: {
        runner: 'onnxruntime-node',
        ort_version: result.done.ortVersion,
        model_load_ms: round(result.loaded.loadMs),
        first_inference_ms: round(result.done.firstRunMs),
        threads: ctx.job.settings.threads,
        input_shapes: result.loaded.inputs.map((i) => `${i.name}:${i.dtype}[${i.shape.join('x')}]`).join(' '),
        energy_source: e ? e.source : null,
        ...(ctx.job.reference ? { reference_variant: ctx.job.reference.variant, reference_sha256: ctx.job.reference.sha256 } : {}),
        ...(fidelity && 'error' in fidelity ? { fidelity_error: fidelity.error } : {}),
        ...snapshotEnv(before, after),
      },
    };
  }
}

const round = (n: number): number => Math.round(n * 1000) / 1000;

type Snapshot = ReturnType<typeof thermalSnapshot>;

function snapshotEnv(before: Snapshot, after: Snapshot): Record<string, number | string | boolean | null> {
  return {
    cpu_freq_mhz_before: before.cpu_freq_mhz_avg,
    cpu_freq_mhz_after: after.cpu_freq_mhz_avg,
    temp_c_before: before.temp_c_max,
    temp_c_after: after.temp_c_max,
    // The same flags as on phones (../throttling.ts); the host is read at the start and at the end of the run.
    ...throttleEnv(throttleReasons(before.freq, [after.freq])),
    started_warm: before.temp_c_max !== null && before.temp_c_max >= DEFAULT_WARM_CELSIUS,
  };
}

function throttleEnv(reasons: string[]): { throttled: boolean; throttle_reasons: string | null } {
  return { throttled: reasons.length > 0, throttle_reasons: reasons.join(',') || null };
}

interface WorkerResult {
  loaded: Extract<WorkerMessage, { type: 'loaded' }>;
  done: Extract<WorkerMessage, { type: 'done' }>;
}

/** Runs the worker process for one job; kills it on abort. */
function runWorker(ctx: JobContext, hooks: { onWindow(edge: 'start' | 'end', iterations: number): void }): Promise<WorkerResult> {
  return new Promise((resolve, reject) => {
    const tracked = ctx.runners?.prepare();
    // Its own process group (killed whole on abort) and a marker the next agent start can find it by.
    const child: ChildProcess = fork(WORKER, [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'advanced', detached: true, ...(tracked ? { env: tracked.env } : {}) });
    if (tracked && child.pid !== undefined) ctx.runners!.started(tracked.marker, child.pid, { kind: 'onnx-worker', jobId: ctx.job.job_id, attempt: ctx.job.attempt });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
    let loaded: WorkerResult['loaded'] | null = null;
    let done: WorkerResult['done'] | null = null;
    let failure: JobFailure | null = null;
    const onAbort = () => {
      failure ??= new JobFailure(ctx.signal.reason === 'timeout' ? 'timed_out' : 'canceled', String(ctx.signal.reason ?? 'aborted'));
      killGroup(child);
    };
    if (ctx.signal.aborted) onAbort();
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    child.on('message', (msg: WorkerMessage) => {
      switch (msg.type) {
        case 'loaded': loaded = msg; ctx.progress({ phase: 'warmup', done: 0, total: ctx.job.settings.warmup }); break;
        case 'progress': ctx.progress({ phase: msg.phase, done: msg.done, total: msg.total }); break;
        case 'window': hooks.onWindow(msg.edge, msg.iterations); break;
        case 'done': done = msg; break;
        case 'error': failure ??= new JobFailure(msg.code, msg.message); break;
      }
    });
    child.on('error', (err) => { failure ??= new JobFailure('runner_crashed', `worker could not start: ${err.message}`); });
    child.on('exit', (code, sig) => {
      ctx.signal.removeEventListener('abort', onAbort);
      if (tracked) ctx.runners!.finished(tracked.marker);
      if (failure) return reject(failure);
      if (loaded && done) return resolve({ loaded, done });
      const tail = stderr.trim().split('\n').slice(-3).join(' | ');
      reject(new JobFailure('runner_crashed', `the ONNX worker died (${sig ?? `exit ${code}`})${tail ? `: ${tail}` : ''}`));
    });
    const start: WorkerStart = { type: 'start', modelPath: ctx.modelPath, settings: ctx.job.settings, reference: ctx.job.reference?.set };
    child.send(start);
  });
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL'); // the group is gone already, or was never created
  }
}
