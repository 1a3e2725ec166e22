// Tests for server/stats/summary.ts: type-7 quantiles on hand-checked arrays, moments and
// quantiles of summarize() against hand values, MAD outliers on data with planted outliers,
// the bootstrap CI of the median (against a naive sort-based reference, determinism, narrowing
// with n, coverage by simulation), the t quantile behind mean_ci_half, and the float64 blobs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeSamples, encodeSamples, medianCi, medianCiRanks, quantileSorted, summarize, tQuantile975 } from '../server/stats/summary.js';
import { close, xorshift } from './support/reference-math.js';

// ---- independent helpers -------------------------------------------------------------------

/** Box–Muller normal deviates from a uniform generator. */
function normal(u: () => number, mean: number, sd: number): () => number {
  return () => {
    const u1 = 1 - u(); // (0, 1]
    const u2 = u();
    return mean + sd * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  };
}

/** Type-7 quantile written out from the definition h = (n-1)q + 1 (1-based), for reference. */
function refQuantile(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  const h = (n - 1) * q + 1;
  const fl = Math.floor(h);
  const lower = sorted[fl - 1]!;
  const upper = sorted[Math.min(fl, n - 1)]!;
  return lower + (h - fl) * (upper - lower);
}

// ---- quantileSorted -----------------------------------------------------------------------

test('quantileSorted interpolates between order statistics (type 7)', () => {
  const four = [1, 2, 3, 4];
  assert.equal(quantileSorted(four, 0), 1);
  assert.equal(quantileSorted(four, 1), 4);
  assert.equal(quantileSorted(four, 0.5), 2.5); // pos 1.5
  assert.equal(quantileSorted(four, 0.25), 1.75); // pos 0.75
  close(quantileSorted(four, 0.9), 3.7, 1e-12); // pos 2.7
  close(quantileSorted(four, 1 / 3), 2, 1e-12); // pos 1 exactly

  const ten = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  close(quantileSorted(ten, 0.9), 9.1, 1e-12); // R: quantile(1:10, 0.9) = 9.1
  close(quantileSorted(ten, 0.99), 9.91, 1e-12);
  close(quantileSorted(ten, 0.1), 1.9, 1e-12);

  assert.equal(quantileSorted([1, 3], 0.1), 1.2);
  assert.equal(quantileSorted([-5, 5], 0.5), 0);
  assert.equal(quantileSorted([42], 0), 42);
  assert.equal(quantileSorted([42], 0.7), 42);
  assert.equal(quantileSorted([42], 1), 42);
  assert.equal(quantileSorted(Float64Array.from([0, 10, 20]), 0.75), 15);
});

test('quantileSorted of no samples throws', () => {
  assert.throws(() => quantileSorted([], 0.5), /no samples/);
});

// ---- summarize: moments and quantiles -------------------------------------------------------

test('summarize: count, min, max, mean, sample stddev, median and quantiles for even n', () => {
  // Sorted: 2 4 4 4 5 5 7 9 — mean 5, sum of squared deviations 32, sample variance 32/7.
  const s = summarize([9, 4, 2, 5, 4, 7, 4, 5]);
  assert.equal(s.count, 8);
  assert.equal(s.min, 2);
  assert.equal(s.max, 9);
  close(s.mean, 5, 1e-12, 'mean');
  close(s.stddev, Math.sqrt(32 / 7), 1e-12, 'stddev');
  assert.equal(s.median, 4.5); // (4 + 5) / 2
  close(s.p90, 7.6, 1e-12, 'p90'); // pos 6.3 between 7 and 9
  close(s.p99, 8.86, 1e-12, 'p99'); // pos 6.93
  // t(0.975, df=7) = 2.364624 (tables); half width = t · s / √n.
  const half = (2.364624 * Math.sqrt(32 / 7)) / Math.sqrt(8);
  assert.ok(Math.abs(s.mean_ci_half - half) / half < 0.01, `mean_ci_half ${s.mean_ci_half} vs ${half}`);
});

test('summarize: odd n takes the middle element as the median', () => {
  // Sorted: 1 3 5 7 9 — mean 5, squared deviations 16+4+0+4+16 = 40, sample variance 10.
  const s = summarize([7, 1, 9, 5, 3]);
  assert.equal(s.count, 5);
  assert.equal(s.median, 5);
  assert.equal(s.mean, 5);
  close(s.stddev, Math.sqrt(10), 1e-12, 'stddev');
  close(s.p90, 8.2, 1e-12, 'p90'); // pos 3.6 between 7 and 9
  close(s.p99, 8.92, 1e-12, 'p99'); // pos 3.96
  assert.equal(s.min, 1);
  assert.equal(s.max, 9);
  assert.equal(summarize([3, 1, 2]).median, 2);
  assert.equal(summarize([10, -10, 0, 1000, -1000, 5, 6]).median, 5);
});

test('summarize accepts typed arrays and negative values and does not reorder its input', () => {
  const input = Float64Array.from([-3, 10, -7.5, 0.25]);
  const s = summarize(input);
  assert.deepEqual([...input], [-3, 10, -7.5, 0.25]);
  assert.equal(s.min, -7.5);
  assert.equal(s.max, 10);
  assert.equal(s.median, (-3 + 0.25) / 2);
  close(s.mean, (-3 + 10 - 7.5 + 0.25) / 4, 1e-12);
});

test('summarize of one sample has zero spread and a degenerate CI', () => {
  const s = summarize([3.5]);
  assert.equal(s.count, 1);
  assert.equal(s.median, 3.5);
  assert.equal(s.mean, 3.5);
  assert.equal(s.stddev, 0);
  assert.equal(s.mean_ci_half, 0);
  assert.equal(s.ci_low, 3.5);
  assert.equal(s.ci_high, 3.5);
  assert.equal(s.p90, 3.5);
  assert.equal(s.outliers, 0);
});

test('summarize of zero samples throws', () => {
  assert.throws(() => summarize([]), /zero samples/);
});

test('summarize on random data matches a naive reference for every statistic but the CI', () => {
  const gen = normal(xorshift(7), 100, 15);
  const data = Array.from({ length: 257 }, gen);
  const sorted = [...data].sort((a, b) => a - b);
  const mean = data.reduce((a, b) => a + b, 0) / data.length;
  const variance = data.reduce((a, x) => a + (x - mean) ** 2, 0) / (data.length - 1);
  const s = summarize(data);
  assert.equal(s.count, 257);
  assert.equal(s.min, sorted[0]);
  assert.equal(s.max, sorted[256]);
  assert.equal(s.median, sorted[128]);
  close(s.mean, mean, 1e-9);
  close(s.stddev, Math.sqrt(variance), 1e-9);
  close(s.p90, refQuantile(sorted, 0.9), 1e-9);
  close(s.p99, refQuantile(sorted, 0.99), 1e-9);
});

// ---- MAD outliers ------------------------------------------------------------------------------

/** n values ~N(mean, sd), truncated at ±2.5 sd so that none is a genuine 3.5-MAD outlier. */
function truncatedNormal(seed: number, n: number, mean: number, sd: number): number[] {
  const gen = normal(xorshift(seed), 0, 1);
  const out: number[] = [];
  while (out.length < n) {
    const z = gen();
    if (Math.abs(z) <= 2.5) out.push(mean + sd * z);
  }
  return out;
}

test('MAD outliers: a hand-checked example', () => {
  // median 3, |x - 3| = 2 1 0 1 97 → MAD 1, scaled 1.4826; only 97 / 1.4826 ≈ 65 exceeds 3.5.
  assert.equal(summarize([1, 2, 3, 4, 100]).outliers, 1);
  // threshold option: 2 / 1.4826 ≈ 1.35 and 1 / 1.4826 ≈ 0.67, so a threshold of 1 adds the 1.
  assert.equal(summarize([1, 2, 3, 4, 100], { outlierThreshold: 1 }).outliers, 2);
  assert.equal(summarize([1, 2, 3, 4, 100], { outlierThreshold: 100 }).outliers, 0);
});

test('MAD outliers: exactly the planted values are counted', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const base = truncatedNormal(seed, 100, 10, 0.1);
    assert.equal(summarize(base).outliers, 0, `seed ${seed}: clean data has no outliers`);
    const planted = [...base, 50, 50, 50];
    // shuffle the planted values into the middle: order must not matter
    planted.splice(17, 0, planted.pop()!);
    assert.equal(summarize(planted).outliers, 3, `seed ${seed}: three planted at 50`);
    assert.equal(summarize([...base, 50, 50, -30, 9.0]).outliers, 4, `seed ${seed}: planted on both sides`);
    // 10.25 is 2.5 sd away: not an outlier by the 3.5 modified z-score
    assert.equal(summarize([...base, 10.25]).outliers, 0, `seed ${seed}: a mild value is not an outlier`);
  }
});

// ---- distribution-free CI of the median -------------------------------------------------------

/** P(Binomial(n, ½) ≤ j), summed naively with exact-ish doubles (n ≤ 200). */
function binomCdfHalf(n: number, j: number): number {
  let c = 1; // C(n, 0)
  let sum = 0;
  for (let i = 0; i <= j; i++) {
    sum += c;
    c = (c * (n - i)) / (i + 1);
  }
  return sum / 2 ** n;
}

test('medianCiRanks: the largest k with P(B < k) ≤ 2.5%, checked against a naive binomial sum', () => {
  for (let n = 6; n <= 200; n++) {
    const [lo, hi] = medianCiRanks(n);
    assert.equal(hi, n + 1 - lo, `n=${n}: symmetric ranks`);
    assert.ok(binomCdfHalf(n, lo - 2) <= 0.025 + 1e-12, `n=${n}: P(B < ${lo}) ≤ 2.5%`);
    assert.ok(binomCdfHalf(n, lo) > 0.025, `n=${n}: k=${lo} is the largest`);
  }
  // Hand-checked table values (e.g. Conover's): n=10 → x(2)..x(9), n=20 → x(6)..x(15), n=100 → x(40)..x(61).
  assert.deepEqual(medianCiRanks(10), [2, 9]);
  assert.deepEqual(medianCiRanks(20), [6, 15]);
  assert.deepEqual(medianCiRanks(100), [40, 61]);
  assert.deepEqual(medianCiRanks(3), [1, 3], 'too few samples for 95%: the range');
  // The normal approximation above 1,000 joins the exact ranks smoothly.
  const [k1000] = medianCiRanks(1000);
  const [k1001] = medianCiRanks(1001);
  assert.ok(Math.abs(k1001 - k1000) <= 1, `k(1000)=${k1000}, k(1001)=${k1001}`);
});

test('the median CI covers the true median ≥ 95% of the time, also for skewed data', () => {
  for (const n of [9, 30, 100, 2500]) {
    const rng = xorshift(7000 + n);
    let covered = 0;
    const trials = n > 1000 ? 400 : 2000;
    for (let t = 0; t < trials; t++) {
      // Exponential(1): median ln 2, strongly skewed.
      const sorted = Float64Array.from({ length: n }, () => -Math.log(1 - rng())).sort();
      const [lo, hi] = medianCi(sorted);
      if (lo <= Math.LN2 && Math.LN2 <= hi) covered++;
    }
    const rate = covered / trials;
    assert.ok(rate >= 0.93 && rate <= 0.995, `n=${n}: coverage ${rate}`);
  }
});

test('summarize reports the order-statistic CI, which contains the median', () => {
  for (const seed of [1, 2, 3]) {
    const data = Array.from({ length: 99 }, normal(xorshift(seed), 20, 3));
    const sorted = Float64Array.from(data).sort();
    const a = summarize(data);
    assert.ok(a.ci_low <= a.median && a.median <= a.ci_high, `[${a.ci_low}, ${a.ci_high}] ∌ ${a.median}`);
    assert.ok(a.ci_low < a.ci_high);
    const [lo, hi] = medianCiRanks(99);
    assert.equal(a.ci_low, sorted[lo - 1]);
    assert.equal(a.ci_high, sorted[hi - 1]);
  }
});

test('the median CI narrows as n grows', () => {
  const gen = normal(xorshift(2024), 0, 1);
  const small = summarize(Array.from({ length: 50 }, gen));
  const large = summarize(Array.from({ length: 5000 }, gen));
  const wSmall = small.ci_high - small.ci_low;
  const wLarge = large.ci_high - large.ci_low;
  assert.ok(wLarge > 0);
  // width scales like 1/√n: expect a ratio near 10
  assert.ok(wLarge < wSmall / 4, `width ${wLarge} (n=5000) vs ${wSmall} (n=50)`);
  // for N(0,1) the 95% CI half width of the median is ≈ 1.96·1.2533/√n ≈ 0.035 at n=5000
  assert.ok(wLarge > 0.035 && wLarge < 0.12, `n=5000 width ${wLarge}`);
  assert.ok(large.ci_low <= 0 + 0.1 && large.ci_high >= 0 - 0.1);
});

// ---- t quantile and mean_ci_half -------------------------------------------------------------

test('tQuantile975 approximates Student t for moderate and large df', () => {
  close(tQuantile975(9), 2.262, 0.01, 'df=9');
  close(tQuantile975(10), 2.228, 0.01, 'df=10');
  close(tQuantile975(30), 2.042, 0.005, 'df=30');
  close(tQuantile975(1000), 1.962, 0.001, 'df=1000');
  close(tQuantile975(1e9), 1.959964, 1e-6, 'df→∞');
  assert.ok(Number.isNaN(tQuantile975(0)));
  for (let df = 1; df < 200; df++) assert.ok(tQuantile975(df) > tQuantile975(df + 1), `decreasing at ${df}`);
});

test('tQuantile975 is accurate for the smallest df (n = 2..6 samples)', () => {
  // Student t 97.5% quantiles from tables.
  const table: [number, number][] = [[1, 12.706], [2, 4.303], [3, 3.182], [4, 2.776], [5, 2.571]];
  for (const [df, t] of table) assert.ok(Math.abs(tQuantile975(df) - t) / t < 0.01, `df=${df}: ${tQuantile975(df)} vs ${t}`);
});

test('mean_ci_half is t(n-1) · s / √n', () => {
  const data = [10.1, 9.8, 10.4, 10.0, 9.9, 10.2, 10.3, 9.7, 10.0, 10.6];
  const n = data.length;
  const mean = data.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(data.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1));
  const s = summarize(data);
  const expected = (2.262157 * sd) / Math.sqrt(n); // t(0.975, 9) from tables
  assert.ok(Math.abs(s.mean_ci_half - expected) / expected < 0.005, `${s.mean_ci_half} vs ${expected}`);
  // with n = 1001 the t quantile is ≈ 1.962
  const big = Array.from({ length: 1001 }, normal(xorshift(5), 0, 2));
  const bs = summarize(big);
  close(bs.mean_ci_half, (1.962339 * bs.stddev) / Math.sqrt(1001), 1e-4);
});

// ---- sample blobs ----------------------------------------------------------------------------

test('encodeSamples writes little-endian float64s', () => {
  const buf = encodeSamples([1, -2]);
  assert.equal(buf.length, 16);
  // 1.0 = 0x3FF0000000000000, -2.0 = 0xC000000000000000, least significant byte first
  assert.deepEqual([...buf], [0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0xc0]);
  assert.equal(encodeSamples([]).length, 0);
});

test('encodeSamples/decodeSamples round-trip exactly, including extreme values', () => {
  const values = [0, -0, 1, -1.5, 3.141592653589793, -123456.789, 5e-324, -5e-324, 2.2250738585072014e-308, 1e-300, 1.7976931348623157e308, -1.7976931348623157e308, 1e300, Infinity, -Infinity, 0.1 + 0.2];
  const decoded = decodeSamples(encodeSamples(values));
  assert.equal(decoded.length, values.length);
  values.forEach((v, i) => assert.ok(Object.is(decoded[i], v), `index ${i}: ${decoded[i]} !== ${v}`));
  assert.ok(Number.isNaN(decodeSamples(encodeSamples([NaN]))[0]));
  const typed = Float64Array.from({ length: 1000 }, normal(xorshift(3), 0, 1e6));
  assert.deepEqual(decodeSamples(encodeSamples(typed)), [...typed]);
});

test('decodeSamples rejects a blob that is not a whole number of float64s', () => {
  assert.deepEqual(decodeSamples(Buffer.alloc(0)), []);
  for (const len of [1, 7, 9, 15, 17]) {
    assert.throws(() => decodeSamples(Buffer.alloc(len)), /not a whole number of float64s/, `length ${len}`);
  }
  const truncated = encodeSamples([1, 2, 3]).subarray(0, 23);
  assert.throws(() => decodeSamples(truncated), /23 bytes/);
});
