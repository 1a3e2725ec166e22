// What a serial job reports: the measurements (latency per window, cycles, energy per inference)
// and the environment (the DUT, the windows, the flash, the input, the PPK2) from the windows
// measure.ts ran and the facts the driver gathered on the way.
import type { SampleSet } from '../../../protocol/agent-messages.js';
import type { JobContext, JobOutput } from '../driver.js';
import type { BoardConfig } from './config.js';
import type { EnergyMeter } from './energy.js';
import type { MeasureReport } from './measure.js';
import { median } from './mlperf-tiny.js';

export interface FlashOutcome { flashed: boolean; ms: number | null; reason: string }

export interface JobFacts {
  dutName: string;
  profile: { profile: string; model: string };
  flash: FlashOutcome;
  inputs: { bytes: number; source: string };
  minWindowUs: number;
  meter: EnergyMeter | null;
  /** Why the PPK2 could not be used at all, or null. */
  energySkipped: string | null;
}

export function jobOutput(board: BoardConfig, ctx: JobContext, report: MeasureReport, facts: JobFacts): JobOutput {
  const w = report.windows;
  const round = (v: number, d = 4) => Math.round(v * 10 ** d) / 10 ** d;
  const measurements: SampleSet[] = [{ metric: 'latency_ms', unit: 'ms', samples: w.map((x) => x.latencyUs / 1000) }];
  const cycles = w.map((x) => x.cyclesPerInference);
  if (cycles.every((x): x is number => x !== null)) measurements.push({ metric: 'cycles_per_inference', unit: 'cycles', samples: cycles });
  const iterations = w.map((x) => x.iterations);
  const environment: JobOutput['environment'] = {
    protocol: 'mlperf-tiny', board: board.board ?? null, port: board.port,
    dut_name: facts.dutName, dut_profile: facts.profile.profile || null, dut_model: facts.profile.model,
    windows: w.length, iterations_per_window: new Set(iterations).size === 1 ? iterations[0]! : iterations.join(','),
    warmup_per_window: ctx.job.settings.warmup, min_window_s: facts.minWindowUs / 1e6,
    calibration_latency_ms: round(report.calibrationLatencyUs / 1000), rerun_windows: report.rerunWindows,
    median_latency_ms: round(report.medianLatencyUs / 1000), median_inferences_per_second: round(1e6 / report.medianLatencyUs, 3),
    input_bytes: facts.inputs.bytes, input_source: facts.inputs.source,
    flash: facts.flash.flashed ? 'done' : 'skipped', flash_ms: facts.flash.ms, flash_reason: facts.flash.reason,
    ...ctx.timings,
  };
  const energies = w.map((x) => x.energy);
  if (facts.meter) {
    environment.energy_meter = 'ppk2';
    environment.ppk2_mode = facts.meter.config.mode;
    environment.ppk2_voltage_mv = facts.meter.config.voltage_mv;
    if (energies.every((e) => e !== null)) {
      measurements.push({ metric: 'energy_mj', unit: 'mJ', samples: energies.map((e) => e.millijoulesPerInference) });
      environment.energy_window_s_median = round(median(energies.map((e) => e.seconds)));
      environment.current_ua_median = round(median(energies.map((e) => e.averageUa)), 1);
      environment.ppk2_missing_samples = energies.reduce((a, e) => a + e.missing, 0);
    } else {
      environment.energy_skipped = report.energyError ?? 'a window was longer than the PPK2 sample buffer; no energy reported';
    }
  } else if (facts.energySkipped) {
    environment.energy_skipped = facts.energySkipped;
  }
  return { measurements, environment };
}
