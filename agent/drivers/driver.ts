// The driver interface: one per transport (local Linux host, ADB phones, serial MCUs). The
// agent core only talks to drivers through this, so new transports plug in without touching it.
import type { DeviceDescriptor, JobAssignment, OperatorStat, SampleSet } from '../../protocol/agent-messages.js';
import type { JobErrorCode } from '../../protocol/errors.js';
import type { RunnerRegistry } from '../runners/registry.js';

export interface JobProgress { phase: 'fetching' | 'preparing' | 'warmup' | 'measuring' | 'collecting'; done: number; total: number }

export interface JobContext {
  job: JobAssignment;
  /** Local path of the verified model file. */
  modelPath: string;
  /** Aborted on cancel or timeout; drivers must stop the work and release the device. */
  signal: AbortSignal;
  progress(p: JobProgress): void;
  /** performance.now() when the agent received the assignment. */
  receivedAt?: number;
  /** Timings the driver measured (e.g. agent_overhead_ms), added to the job's environment. */
  timings: Record<string, number>;
  log(msg: string, extra?: Record<string, unknown>): void;
  /** Where runner processes started on this host are recorded, so a later agent can reap leftovers. */
  runners?: RunnerRegistry | undefined;
}

export interface JobOutput {
  measurements: SampleSet[];
  environment: Record<string, number | string | boolean | null>;
  operators?: OperatorStat[] | undefined;
}

/** A job failure raised by a driver; the code decides retry and device-health accounting. */
export class JobFailure extends Error {
  constructor(readonly code: JobErrorCode, message: string) {
    super(message);
    this.name = 'JobFailure';
  }
}

/** What the agent tells its drivers at start. */
export interface DriverEnv {
  /** The agent's data folder: drivers keep state that must survive a restart under it. */
  dataDir: string;
}

export interface Driver {
  readonly name: DeviceDescriptor['driver'];
  /** Prepares the transport (connects, starts tracking); called once before discover(). */
  start?(env: DriverEnv): Promise<void>;
  /** Devices this driver can reach right now. */
  discover(): Promise<DeviceDescriptor[]>;
  /** Called when the set of devices may have changed (hot-plug); optional. */
  onChange?(listener: () => void): void;
  /** Runs one job on one of this driver's devices. Throws JobFailure on failure. */
  run(serial: string, ctx: JobContext): Promise<JobOutput>;
  close?(): Promise<void>;
}
