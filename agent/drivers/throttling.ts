// One definition of "throttled" and "started warm" for every driver (phones through adb, the
// Linux host). Throttling is judged from what shows it, never from temperature alone:
//   frequency_capped  during the window some CPU's scaling_max_freq (the cap the kernel applies,
//                     thermal caps included) was below its cpuinfo_max_freq (the policy's maximum)
//   thermal_status    a thermal cooling device's cur_state rose above its value at the start
//   frequency_fell    only where caps are not readable: a CPU's frequency fell by more than 10 %
//                     below its earlier peak in the window while the runner was busy
// A phone that starts warm and then raises its frequency under load is not throttled; it is
// `started_warm` (hottest zone at the start at or above the warm threshold), a separate fact.

/** Frequencies and thermal mitigation at one moment. Arrays are per CPU, in the same order. */
export interface FreqSnapshot {
  curKhz: number[];
  /** scaling_max_freq per CPU (empty when not readable). */
  capKhz: number[];
  /** cpuinfo_max_freq per CPU (empty when not readable). */
  maxKhz: number[];
  /** cur_state of every thermal cooling device (empty when there are none). */
  cooling: number[];
}

export type ThrottleReason = 'frequency_capped' | 'thermal_status' | 'frequency_fell';

/** Default hottest-zone temperature at the start from which a run is `started_warm`, °C. */
export const DEFAULT_WARM_CELSIUS = 40;

/** A cap more than this fraction below the maximum counts (ignores rounding of OPP tables). */
const CAP_TOLERANCE = 0.01;
const FALL_FRACTION = 0.9;

/** The reasons (empty: not throttled) from the state at the start and readings during the window (in time order). */
export function throttleReasons(before: FreqSnapshot | null, during: FreqSnapshot[]): ThrottleReason[] {
  const reasons = new Set<ThrottleReason>();
  let capsKnown = false;
  for (const s of during) {
    if (s.capKhz.length > 0 && s.capKhz.length === s.maxKhz.length) {
      capsKnown = true;
      if (s.capKhz.some((cap, i) => cap < s.maxKhz[i]! * (1 - CAP_TOLERANCE))) reasons.add('frequency_capped');
    }
    const start = before?.cooling ?? [];
    if (s.cooling.some((state, i) => state > (start[i] ?? 0))) reasons.add('thermal_status');
  }
  if (!capsKnown) {
    const peak: number[] = [];
    for (const s of during) {
      s.curKhz.forEach((khz, i) => {
        if (peak[i] !== undefined && khz < peak[i]! * FALL_FRACTION) reasons.add('frequency_fell');
        peak[i] = Math.max(peak[i] ?? 0, khz);
      });
    }
  }
  return [...reasons];
}

/** Parses whitespace-separated integers (a `cat` of several sysfs files). */
export function numbers(text: string): number[] {
  return text.split(/\s+/).filter(Boolean).map(Number).filter(Number.isFinite);
}
