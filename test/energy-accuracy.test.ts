// Energy you can believe (issue 10, item 3), on the emulated phone through the real adb server:
// for each known power profile (constant, stepped, ramped watts under load, reached through the
// phone's current time constants) the driver's energy per inference is within 3 % of the
// injected truth, the phone's own load power integrated over the runner's timed window; a phone
// that counts the battery sampler as load gives `energy_below_noise` and no number, never 0.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startAdbServer, type AdbServer } from './support/adb.js';
import { PhoneEnergyRig, PROFILES } from './support/phone-energy.js';

let adb: AdbServer;
before(async () => { adb = await startAdbServer(); });
after(async () => { await adb?.stop(); });

for (const [name, profile] of Object.entries(PROFILES)) {
  test(`phone, ${name} profile: energy per inference within 3 % of the injected truth`, { timeout: 90_000 }, async () => {
    const rig = await PhoneEnergyRig.start(adb.port, { power: { profile } });
    try {
      const r = await rig.run(3000);
      const env = r.output.environment;
      assert.ok(r.reportedMj !== null, `energy reported: ${JSON.stringify(env)}`);
      assert.ok(Math.abs(r.error!) <= 0.03, `reported ${r.reportedMj!.toFixed(3)} mJ vs truth ${r.truthMj.toFixed(3)} mJ (${(r.error! * 100).toFixed(1)} %): ${JSON.stringify(env)}`);
      assert.equal(env.energy_below_noise, undefined);
    } finally {
      await rig.stop();
    }
  });
}

test('phone that counts the battery sampler as load: energy_below_noise and no energy number', { timeout: 90_000 }, async () => {
  // Any CPU work at all puts this phone in its load state, so the sampler alone holds it there.
  const rig = await PhoneEnergyRig.start(adb.port, { power: { profile: PROFILES.constant!, loadOnUtilisation: 0 } });
  try {
    const r = await rig.run(2000);
    const env = r.output.environment;
    assert.equal(r.reportedMj, null, `no energy figure: ${JSON.stringify(r.output.measurements.map((m) => [m.metric, m.samples.slice(0, 3)]))}`);
    assert.equal(env.energy_below_noise, true, JSON.stringify(env));
    assert.match(String(env.energy_skipped), /within the baseline's noise/);
  } finally {
    await rig.stop();
  }
});
