// The emulated instrument's factory calibration and the metadata text it sends for
// GET_META_DATA (`key: value` lines ending with END). The numbers are this emulator's own: shunts
// near the nominal values, small offsets, gains close to 1 and a visible quadratic term so that a
// host that ignores part of the formula decodes wrong currents.
import type { Ppk2Calibration } from '../../drivers/serial/ppk2.js';

export const EMULATED_CALIBRATION: Readonly<Ppk2Calibration> = Object.freeze({
  r: [1018.7342, 102.3116, 10.2241, 0.9563, 0.0448],
  gs: [112.5, 9.75, 0.82, 0.071, 0.0048],
  gi: [0.9935, 1.0062, 0.9978, 1.0043, 0.9897],
  o: [104.3, 98.6, 101.9, 95.2, 110.7],
  s: [2.4e-8, 1.9e-8, 3.1e-7, 2.2e-6, 4.8e-5],
  i: [-3.7e-8, 5.2e-8, -4.1e-7, 6.3e-6, -1.4e-4],
  ug: [1.0, 1.0, 1.0, 1.0, 1.0],
});

export interface MetadataState {
  calibration: Ppk2Calibration;
  vddMv: number;
  /** 1 = ampere meter, 2 = source meter. */
  mode: number;
  hw?: number;
  ia?: number;
  calibrated?: boolean;
}

const fmt = (v: number): string => (v !== 0 && Math.abs(v) < 1e-3 ? v.toExponential(4) : v.toFixed(4));

export function renderMetadata(st: MetadataState): string {
  const c = st.calibration;
  const group = (name: string, values: number[]): string[] => values.map((v, idx) => `${name}${idx}: ${fmt(v)}`);
  const lines = [
    `Calibrated: ${st.calibrated ? 1 : 0}`,
    ...group('R', c.r),
    ...group('GS', c.gs),
    ...group('GI', c.gi),
    ...group('O', c.o),
    `VDD: ${st.vddMv}`,
    `HW: ${st.hw ?? 12453}`,
    `mode: ${st.mode}`,
    ...group('S', c.s),
    ...group('I', c.i),
    ...group('UG', c.ug),
    `IA: ${st.ia ?? 41}`,
    'END',
  ];
  return lines.join('\n') + '\n';
}
