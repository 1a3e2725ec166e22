// Energy you can believe on the emulated PPK2 (issue 10, item 3): for each known DUT power
// profile (constant, stepped, ramped watts), the serial driver's energy per inference over a
// window of stream time is within 3 % of the profile's own energy over that window.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { measurePpk2Profile, PPK2_PROFILES } from './support/ppk2-energy.js';

for (const [name, profile] of Object.entries(PPK2_PROFILES)) {
  test(`PPK2, ${name} profile: energy per inference within 3 % of the injected truth`, { timeout: 60_000 }, async () => {
    const r = await measurePpk2Profile(profile);
    assert.ok(Math.abs(r.error) <= 0.03, `reported ${r.reportedMj.toFixed(5)} mJ vs truth ${r.truthMj.toFixed(5)} mJ (${(r.error * 100).toFixed(2)} %)`);
  });
}
