// Energy accuracy against known power profiles (issue 10, item 3): for each profile, the energy
// per inference benchfleet reports ÷ the injected truth − 1, on the emulated phone (real adb
// server, the ADB driver in this process, a busy JSON-lines runner with a timed window) and on
// the emulated PPK2 (the serial driver's EnergyMeter over a socat pty pair).
// Usage: node dist/bench/energy-accuracy.js [phone-runs-per-profile] [window-ms] [load-on-utilisation]
// (the last: a phone session's CPU share that counts as load, default the emulator's 0.2; a
// lower one, e.g. 0.05, makes a phone that counts a busy battery sampler as load)
import { startAdbServer } from '../test/support/adb.js';
import { PhoneEnergyRig, PROFILES } from '../test/support/phone-energy.js';
import { measurePpk2Profile, PPK2_PROFILES } from '../test/support/ppk2-energy.js';

const runs = Number(process.argv[2] ?? 3);
const windowMs = Number(process.argv[3] ?? 3000);
const loadOnUtilisation = process.argv[4] === undefined ? undefined : Number(process.argv[4]);
const pct = (x: number | null) => (x === null ? '   n/a' : `${x >= 0 ? '+' : ''}${(x * 100).toFixed(2)}%`);

console.log(`energy per inference vs injected truth — phone: ${runs} runs per profile, ${windowMs} ms windows${loadOnUtilisation === undefined ? '' : `, load from ${loadOnUtilisation} utilisation`}; PPK2: one 0.9 s window per profile`);
console.log('device  profile    errors (reported ÷ truth − 1)                       worst');
const adb = await startAdbServer();
try {
  for (const [name, profile] of Object.entries(PROFILES)) {
    const rig = await PhoneEnergyRig.start(adb.port, { power: { profile, loadOnUtilisation } });
    const errors: (number | null)[] = [];
    try {
      for (let i = 0; i < runs; i++) errors.push((await rig.run(windowMs)).error);
    } finally {
      await rig.stop();
    }
    const worst = errors.reduce<number | null>((w, e) => (e === null ? w : w === null || Math.abs(e) > Math.abs(w) ? e : w), null);
    const missing = errors.filter((e) => e === null).length;
    console.log(`phone   ${name.padEnd(9)}  ${errors.map(pct).join(' ').padEnd(50)}  ${pct(worst)}${missing ? ` (${missing} without a figure)` : ''}`);
  }
} finally {
  await adb.stop();
}
for (const [name, profile] of Object.entries(PPK2_PROFILES)) {
  const r = await measurePpk2Profile(profile);
  console.log(`ppk2    ${name.padEnd(9)}  ${pct(r.error).padEnd(50)}  ${pct(r.error)}`);
}
