// Known power profiles the emulators can inject (the emulated phone's extra power under load,
// the emulated PPK2's DUT power), so energy measurements can be checked against a truth.

/** Known power, W, as a function of time (since the load began on a phone, since the stream began on a PPK2). */
export type PowerProfile =
  | { kind: 'constant'; watts: number }
  /** `watts` from `atS` seconds after the load began (the first step should start at 0). */
  | { kind: 'stepped'; steps: { atS: number; watts: number }[] }
  /** Linear from `fromWatts` to `toWatts` over `overS` seconds, then flat. */
  | { kind: 'ramped'; fromWatts: number; toWatts: number; overS: number };

export function profileWatts(profile: PowerProfile, sinceS: number): number {
  switch (profile.kind) {
    case 'constant': return profile.watts;
    case 'stepped': {
      let w = 0;
      for (const step of profile.steps) if (sinceS >= step.atS) w = step.watts;
      return w;
    }
    case 'ramped': return profile.fromWatts + (profile.toWatts - profile.fromWatts) * Math.min(1, Math.max(0, sinceS / profile.overS));
  }
}


/** ∫ profile dt over [fromS, toS] (numerically, 0.1 ms steps: exact for these piecewise-linear shapes to < 1e-6). */
export function profileEnergyJ(profile: PowerProfile, fromS: number, toS: number): number {
  const steps = Math.max(1, Math.ceil((toS - fromS) / 1e-4));
  const dt = (toS - fromS) / steps;
  let joules = 0;
  for (let i = 0; i < steps; i++) joules += profileWatts(profile, fromS + (i + 0.5) * dt) * dt;
  return joules;
}
