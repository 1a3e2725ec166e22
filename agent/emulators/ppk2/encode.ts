// The device side of the PPK2 sample format: which measurement range a current lands in, the ADC
// code that current produces under a calibration (the inverse of the host's conversion), and the
// packing of the 4-byte word. Units: current µA, voltage mV, as in the driver.
import { PPK2_ADC_MAX, PPK2_ADC_MULT, PPK2_RANGES, adcToMicroamps, type Ppk2Calibration } from '../../drivers/serial/ppk2.js';

/**
 * The 14-bit ADC code that the host's conversion maps back to `ua` (to within one code) in
 * `range`: solves UG·(GS·x² + GI·x + S·Vdd + I) = I_A for x, then adc = (x·R/mult + O) / 4.
 * Codes outside 0..16383 are clamped (the ADC saturates).
 */
export function microampsToAdc(ua: number, range: number, cal: Ppk2Calibration, vddMv: number): number {
  const r = range;
  const target = ua / 1e6 / cal.ug[r]! - cal.s[r]! * (vddMv / 1000) - cal.i[r]!; // = GS·x² + GI·x
  const gs = cal.gs[r]!;
  const gi = cal.gi[r]!;
  const disc = gi * gi + 4 * gs * target;
  // the root near target/GI, written to stay exact when GS is 0 or tiny
  const x = disc <= 0 ? -gi / (2 * gs) : (2 * target) / (gi + Math.sqrt(disc));
  const adc4 = (x * cal.r[r]!) / PPK2_ADC_MULT + cal.o[r]!;
  return Math.min(PPK2_ADC_MAX, Math.max(0, Math.round(adc4 / 4)));
}

/** Packs one sample word (returned as an unsigned 32-bit number). */
export function encodeWord(adc: number, range: number, counter: number, logic: number): number {
  return ((adc & 0x3fff) | ((range & 0x7) << 14) | ((counter & 0x3f) << 18) | ((logic & 0xff) << 24)) >>> 0;
}

/**
 * Automatic range selection as the instrument does it: the most sensitive range whose ADC is not
 * near saturation. It moves up at once when the current passes `upFraction` of the present
 * range's full scale, and moves down only when the current is below `downFraction` of the lower
 * range's full scale (hysteresis: no chattering at a boundary).
 */
export class AutoRanger {
  range: number;
  private readonly fullScaleUa: number[];

  constructor(cal: Ppk2Calibration, vddMv: number, private readonly upFraction = 0.9, private readonly downFraction = 0.7, initialRange = 0) {
    if (!(downFraction < upFraction)) throw new RangeError('downFraction must be below upFraction');
    this.fullScaleUa = Array.from({ length: PPK2_RANGES }, (_, r) => adcToMicroamps(PPK2_ADC_MAX, r, cal, vddMv));
    this.range = initialRange;
  }

  /** Full-scale current of each range, µA. */
  get fullScale(): readonly number[] {
    return this.fullScaleUa;
  }

  pick(ua: number): number {
    let r = this.range;
    if (ua > this.upFraction * this.fullScaleUa[r]!) {
      while (r < PPK2_RANGES - 1 && ua > this.upFraction * this.fullScaleUa[r]!) r++;
    } else {
      while (r > 0 && ua < this.downFraction * this.fullScaleUa[r - 1]!) r--;
    }
    this.range = r;
    return r;
  }
}
