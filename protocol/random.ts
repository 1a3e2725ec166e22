// Seeded pseudo-random numbers (mulberry32), shared so that resampling statistics, generated inputs and
// example weights are reproducible everywhere.
export type Rng = () => number;

export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform in [−bound, bound). */
export const uniform = (rng: Rng, bound: number): number => (rng() * 2 - 1) * bound;

/** He-uniform initial weights (bound sqrt(6 / fanIn)), as float32. */
export function heUniform(rng: Rng, count: number, fanIn: number): Float32Array {
  const bound = Math.sqrt(6 / fanIn);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = uniform(rng, bound);
  return out;
}
