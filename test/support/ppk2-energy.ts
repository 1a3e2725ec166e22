// Energy accuracy on the emulated PPK2, shared by test/ppk2-energy-accuracy.test.ts and
// bench/energy-accuracy.ts: the emulator draws a known power profile (W over stream time) in
// source mode over a real pty pair (socat), the serial driver's EnergyMeter measures a window of
// stream time exactly as the MLPerf Tiny path does (begin → window edges → end), and the truth is
// the profile's energy over that window ÷ the inferences.
import { spawnSync } from 'node:child_process';
import { EnergyMeter } from '../../agent/drivers/serial/energy.js';
import { ppk2BoardSchema } from '../../agent/drivers/serial/config.js';
import { EmulatedPpk2 } from '../../agent/emulators/ppk2/device.js';
import { openPtyPair } from '../../agent/emulators/ppk2/pty-pair.js';
import { profileEnergyJ, type PowerProfile } from '../../agent/emulators/power-profile.js';

/** DUT power profiles of a microcontroller board, W. */
export const PPK2_PROFILES: Record<string, PowerProfile> = {
  constant: { kind: 'constant', watts: 0.025 },
  stepped: { kind: 'stepped', steps: [{ atS: 0, watts: 0.004 }, { atS: 0.35, watts: 0.03 }, { atS: 0.7, watts: 0.012 }] },
  ramped: { kind: 'ramped', fromWatts: 0.002, toWatts: 0.03, overS: 0.9 },
};

export function requireSocat(): void {
  const r = spawnSync('socat', ['-V'], { encoding: 'utf8' });
  if (r.error) throw new Error(`socat is missing (${(r.error as NodeJS.ErrnoException).code}): this needs it, apt-get install socat`);
}

export interface Ppk2EnergyRun { reportedMj: number; truthMj: number; error: number }

/** One window of [t0, t1] s of stream time with `inferences` inferences, measured through EnergyMeter. */
export async function measurePpk2Profile(profile: PowerProfile, t0 = 0.1, t1 = 1.0, inferences = 100): Promise<Ppk2EnergyRun> {
  requireSocat();
  const pair = await openPtyPair();
  const emu = await EmulatedPpk2.open({ path: pair.a, power: profile, seed: 3 });
  let meter: EnergyMeter | null = null;
  try {
    meter = await EnergyMeter.open(ppk2BoardSchema.parse({ port: pair.b, voltage_mv: 3300, mode: 'source' }));
    await meter.begin();
    while (meter.now() < t1 + 0.02) await new Promise((r) => setTimeout(r, 20));
    const e = await meter.end(t0, t1, inferences);
    if (!e) throw new Error('the PPK2 window held no samples');
    const truthMj = (profileEnergyJ(profile, t0, t1) * 1000) / inferences;
    return { reportedMj: e.millijoulesPerInference, truthMj, error: e.millijoulesPerInference / truthMj - 1 };
  } finally {
    await meter?.close();
    await emu.close();
    await pair.close();
  }
}
