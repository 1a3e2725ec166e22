// The agent's config file (`benchfleet agent --config agent.json`): which drivers run on this
// host and how. Without a file the agent runs the local Linux driver only.
import fs from 'node:fs';
import { z } from 'zod';
import { describeZodError } from '../protocol/errors.js';
import { adbConfigSchema, runnerProfileSchema } from './drivers/adb/config.js';
import { RUNTIMES } from '../protocol/domain.js';
import { AdbDriver } from './drivers/adb/driver.js';
import type { Driver } from './drivers/driver.js';
import { LinuxDriver } from './drivers/linux/driver.js';
import { serialConfigSchema } from './drivers/serial/config.js';
import { SerialDriver } from './drivers/serial/driver.js';

export const agentConfigSchema = z.strictObject({
  linux: z.union([z.literal(false), z.strictObject({
    name: z.string().optional(),
    sysfsRoot: z.string().optional(),
    /** Runner commands per runtime on this host, e.g. tflite → benchmark_model (same shape as adb.runners). */
    runners: z.partialRecord(z.enum(RUNTIMES), runnerProfileSchema).optional(),
  })]).default({}),
  adb: adbConfigSchema.optional(),
  /** MCU boards on serial ports (MLPerf Tiny DUT firmware), flashed per job; see docs/agent.md. */
  serial: serialConfigSchema.optional(),
});
export type AgentConfig = z.infer<typeof agentConfigSchema>;

export function loadAgentConfig(file: string | undefined): AgentConfig {
  if (!file) return agentConfigSchema.parse({});
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read agent config ${file}: ${(err as Error).message}`);
  }
  const parsed = agentConfigSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`invalid agent config ${file}: ${describeZodError(parsed.error)}`);
  return parsed.data;
}

export function createDrivers(config: AgentConfig, log: (msg: string, extra?: Record<string, unknown>) => void): Driver[] {
  const drivers: Driver[] = [];
  if (config.linux !== false) drivers.push(new LinuxDriver({ deviceName: config.linux.name, sysfsRoot: config.linux.sysfsRoot, runners: config.linux.runners }));
  if (config.adb) drivers.push(new AdbDriver(config.adb, log));
  if (config.serial) drivers.push(new SerialDriver(config.serial, log));
  return drivers;
}
