// Energy per inference from a Nordic PPK2 wired to the board: one PPK2 session per job (the
// calibration read, the supply voltage and mode set, DUT power switched on in source mode), and
// one measurement per window. The window's edges are stream times taken when the DUT's two
// m-lap-us lines arrive (the timestamps around the timed inferences, so warm-up is excluded);
// energy = ∫ V·I dt over that window ÷ N. Stream time is the time of the samples received so far,
// so both edges lag the UART by the same few ms of USB batching.
import { Ppk2 } from './ppk2.js';
import { resolvePort } from './ports.js';
import type { Ppk2BoardConfig } from './config.js';

/** Samples kept per window (s): windows longer than this lose their start and report no energy. */
const MAX_WINDOW_S = 900;

export interface WindowEnergy {
  millijoulesPerInference: number;
  /** Length of the integrated window, s of stream time. */
  seconds: number;
  averageUa: number;
  /** Samples the PPK2 lost inside the window. */
  missing: number;
  samples: number;
}

export class EnergyMeter {
  private constructor(private readonly ppk: Ppk2, readonly config: Ppk2BoardConfig, readonly path: string) {}

  static async open(config: Ppk2BoardConfig): Promise<EnergyMeter> {
    const path = resolvePort(config.port);
    const ppk = await Ppk2.open({ path, maxSeconds: MAX_WINDOW_S });
    try {
      await ppk.getMetadata();
      await ppk.setSourceVoltage(config.voltage_mv);
      if (config.mode === 'source') {
        await ppk.useSourceMeter();
        await ppk.setDutPower(true);
      } else {
        await ppk.useAmpereMeter();
      }
    } catch (err) {
      await ppk.close().catch(() => undefined);
      throw err;
    }
    return new EnergyMeter(ppk, config, path);
  }

  /** Starts a fresh sample stream for one window and waits for its first samples. */
  async begin(): Promise<void> {
    await this.ppk.startMeasuring();
    await this.ppk.waitForSamples(0.005, 3000);
  }

  /** Stream time (s) of the samples received so far. */
  now(): number {
    return this.ppk.samples.endTime;
  }

  /** Stops the stream and integrates [t0, t1]; null when the stream no longer holds t0. */
  async end(t0: number, t1: number, inferences: number): Promise<WindowEnergy | null> {
    await this.ppk.stopMeasuring();
    const heldFrom = this.ppk.samples.timeOf(this.ppk.samples.firstIndex);
    if (t0 < heldFrom || !(t1 > t0)) return null;
    const e = this.ppk.energy({ t0, t1 });
    return {
      millijoulesPerInference: e.millijoules / inferences,
      seconds: e.seconds, averageUa: e.averageUa, missing: e.missing, samples: e.samples,
    };
  }

  /** Stops any stream (abort path). */
  async stop(): Promise<void> {
    await this.ppk.stopMeasuring(20, 500).catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.ppk.close().catch(() => undefined);
  }
}
