// Labels of a phone from `getprop` and /proc/meminfo, as device farms describe them.
import type { Phone } from './phone.js';

const PROPS: Record<string, string> = {
  'ro.product.manufacturer': 'manufacturer',
  'ro.product.model': 'model',
  'ro.soc.model': 'soc',
  'ro.board.platform': 'platform',
  'ro.product.cpu.abi': 'abi',
  'ro.build.version.release': 'android',
  'ro.build.version.sdk': 'sdk',
};

export function parseGetprop(text: string): Record<string, string> {
  const props: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\[(.*?)\]: \[(.*?)\]\r?$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) props[m[1]] = m[2];
  }
  return props;
}

export async function describePhone(phone: Phone): Promise<Record<string, string>> {
  const props = parseGetprop(await phone.run('getprop'));
  const labels: Record<string, string> = { os: 'android' };
  for (const [prop, label] of Object.entries(PROPS)) if (props[prop]) labels[label] = props[prop];
  if (!labels.soc && labels.platform) labels.soc = labels.platform;
  const meminfo = await phone.exec('cat /proc/meminfo');
  const kb = /^MemTotal:\s+(\d+)\s+kB/m.exec(meminfo.output)?.[1];
  if (kb) labels.ram_mib = String(Math.round(Number(kb) / 1024));
  return labels;
}
