// Throttling that means throttling (issue 10, item 4), on the emulated phone through the real adb
// server: a phone that starts warm and raises its frequency under load is `started_warm`, not
// throttled, even when it crosses the cooldown gate's temperature during the run; a phone whose
// frequency cap drops below the maximum during the window (its cpufreq cooling devices engaging)
// is throttled, with the reasons named.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startAdbServer, type AdbServer } from './support/adb.js';
import { PhoneEnergyRig, PROFILES } from './support/phone-energy.js';

let adb: AdbServer;
before(async () => { adb = await startAdbServer(); });
after(async () => { await adb?.stop(); });

const thermal = { maxStartCelsius: 43, warmCelsius: 40, maxWaitMs: 1000, pollMs: 200 };

test('a warm phone whose frequency rises under load: started_warm, not throttled', { timeout: 90_000 }, async () => {
  // 42 °C at the start, heating past the 43 °C gate during the run; caps only above 60 °C.
  const rig = await PhoneEnergyRig.start(adb.port, { startTemperatureC: 42, ambientC: 38, throttleC: 60, power: { profile: PROFILES.constant! } }, { thermal });
  try {
    const { output } = await rig.run(3000);
    const env = output.environment;
    assert.equal(env.started_warm, true, JSON.stringify(env));
    assert.ok(Number(env.temp_c_peak) >= 43, `the run crossed the gate's temperature: ${JSON.stringify(env)}`);
    assert.ok(Number(env.cpu_freq_mhz_peak) > Number(env.cpu_freq_mhz_before), `the frequency rose: ${JSON.stringify(env)}`);
    assert.equal(env.throttled, false, JSON.stringify(env));
    assert.equal(env.throttle_reasons, null);
    for (const m of output.measurements) assert.ok(!(m.flags ?? []).includes('throttled'), `${m.metric} is not flagged`);
  } finally {
    await rig.stop();
  }
});

test('a phone whose frequency cap drops below the maximum during the window: throttled (cap and thermal status)', { timeout: 90_000 }, async () => {
  // Starts just under the 45 °C throttling point and heats past it under load: the caps come down.
  const rig = await PhoneEnergyRig.start(adb.port, { startTemperatureC: 44.5, ambientC: 40, throttleC: 45, power: { profile: PROFILES.constant! } }, { thermal: { ...thermal, maxStartCelsius: 60 } });
  try {
    const { output } = await rig.run(3000);
    const env = output.environment;
    assert.equal(env.throttled, true, JSON.stringify(env));
    assert.match(String(env.throttle_reasons), /frequency_capped/);
    assert.match(String(env.throttle_reasons), /thermal_status/);
    const latency = output.measurements.find((m) => m.metric === 'latency_ms');
    assert.ok(latency?.flags?.includes('throttled'), JSON.stringify(latency?.flags));
    const readings = rig.phone.readings();
    assert.ok(Number(readings['devices/system/cpu/cpu7/cpufreq/scaling_max_freq']) < Number(readings['devices/system/cpu/cpu7/cpufreq/cpuinfo_max_freq']), 'the emulated phone really capped its frequency');
  } finally {
    await rig.stop();
  }
});
