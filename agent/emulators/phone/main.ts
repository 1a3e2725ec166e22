// Runs one emulated phone until interrupted:
//   node dist/agent/emulators/phone/main.js [--port 15555] [--root DIR] [--model "Pixel 8"]
//     [--manufacturer Google] [--soc "Tensor G3"] [--prop key=value]… [--features a,b | --features ""]
//     [--unauthorized] [--quota BYTES] [--charging] [--temperature C] [--ambient C]
//     [--current-sign negative-discharge|positive-discharge] [--verbose]
// Prints one JSON line {"event":"listening","port":…,"serial":…,"root":…}, then `adb connect` it.
import { parseArgs } from 'node:util';
import { EmulatedPhone } from './phone.js';
import type { CurrentSign } from './sysfs-model.js';
import { numberOption } from '../proc.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '15555' },
      host: { type: 'string', default: '127.0.0.1' },
      root: { type: 'string' },
      model: { type: 'string' },
      manufacturer: { type: 'string' },
      soc: { type: 'string' },
      prop: { type: 'string', multiple: true },
      features: { type: 'string' },
      unauthorized: { type: 'boolean', default: false },
      quota: { type: 'string' },
      charging: { type: 'boolean', default: false },
      temperature: { type: 'string' },
      ambient: { type: 'string' },
      'current-sign': { type: 'string' },
      verbose: { type: 'boolean', default: false },
    },
  });
  const props: Record<string, string> = {};
  if (values.model) props['ro.product.model'] = values.model;
  if (values.manufacturer) props['ro.product.manufacturer'] = values.manufacturer;
  if (values.soc) props['ro.soc.model'] = values.soc;
  for (const pair of values.prop ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`--prop expects key=value, got "${pair}"`);
    props[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const sign = values['current-sign'];
  if (sign !== undefined && sign !== 'negative-discharge' && sign !== 'positive-discharge') {
    throw new Error('--current-sign must be negative-discharge or positive-discharge');
  }
  const phone = new EmulatedPhone({
    port: numberOption(values.port, 'port') ?? 15555,
    host: values.host,
    root: values.root,
    serialProps: props,
    features: values.features === undefined ? undefined : values.features.split(',').map((f) => f.trim()).filter(Boolean),
    unauthorized: values.unauthorized,
    diskQuotaBytes: numberOption(values.quota, 'quota'),
    charging: values.charging,
    startTemperatureC: numberOption(values.temperature, 'temperature'),
    ambientC: numberOption(values.ambient, 'ambient'),
    currentSign: sign as CurrentSign | undefined,
    log: values.verbose ? (message, extra) => process.stderr.write(`${JSON.stringify({ message, ...extra })}\n`) : undefined,
  });
  const { port } = await phone.start();
  process.stdout.write(`${JSON.stringify({ event: 'listening', port, serial: phone.serial, root: phone.root, model: phone.props['ro.product.model'] })}\n`);
  const shutdown = () => {
    void phone.dispose().then(() => process.exit(0));
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
  // The ticker is unref'd; keep the process alive until a signal arrives.
  setInterval(() => {}, 1 << 30);
}

main().catch((err: unknown) => {
  process.stderr.write(`emulated phone: ${(err as Error).message}\n`);
  process.exit(1);
});
