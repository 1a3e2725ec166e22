// Configuration of the serial driver (the `serial` section of the agent's config file): the MCU
// boards wired to this host, each with its serial port, the command that flashes it, optional
// power and reset commands, what it declares (flash, RAM, board name), an optional PPK2 for
// energy, and its measurement defaults (MLPerf Tiny performance mode: 5 windows of ≥ 10 s).
import { z } from 'zod';

const command = z.string().min(1).max(4000);

export const measurementSchema = z.strictObject({
  /** Timed windows per job (MLPerf Tiny: 5); the median of the windows is the headline figure. */
  windows: z.number().int().min(1).max(100).default(5),
  /** Minimum length of each window on the DUT's clock, s (MLPerf Tiny: 10); a job's min_duration_ms > 0 replaces it. */
  min_window_s: z.number().positive().max(3600).default(10),
  /** Upper bound on the inferences of one window (`infer N W`). */
  max_iterations: z.number().int().min(1).max(100_000_000).default(1_000_000),
  /** Windows are sized for this multiple of the minimum, so drift does not make them short. */
  margin: z.number().min(1).max(3).default(1.1),
  /** Per-line timeout of ordinary commands, ms (the MLCommons runner's 5 s). */
  line_timeout_ms: z.number().int().min(100).max(600_000).default(5000),
  /** Per-line timeout of `infer` beyond the window's expected length, ms. */
  infer_slack_ms: z.number().int().min(1000).max(3_600_000).default(30_000),
});
export type MeasurementConfig = z.infer<typeof measurementSchema>;

export const ppk2BoardSchema = z.strictObject({
  /** The PPK2's serial port: a device path or a /dev/serial/by-id link. */
  port: z.string().min(1),
  /** Supply voltage, mV: the PPK2's output in source mode, the external supply in ampere mode. */
  voltage_mv: z.number().int().min(800).max(5000).default(3300),
  /** source: the PPK2 powers the board (DUT power switched on by the driver); ampere: in series with the board's own supply. */
  mode: z.enum(['source', 'ampere']).default('source'),
});
export type Ppk2BoardConfig = z.infer<typeof ppk2BoardSchema>;

export const boardSchema = z.strictObject({
  /** Device name and identity under this agent. */
  name: z.string().min(1).max(128).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, . _ - only'),
  /** The board's UART: a device path, a /dev/serial/by-id link (full path or name), or a symlink. */
  port: z.string().min(1),
  baud: z.number().int().positive().default(115200),
  protocol: z.literal('mlperf-tiny').default('mlperf-tiny'),
  /**
   * Flashes a firmware image; run with `sh -c` after substituting {image} (the ELF, named
   * <sha256>.elf), {port}, {name}, {board}, {baud}. Exit status 0 = flashed.
   */
  flash: command,
  flash_timeout_ms: z.number().int().min(1000).max(3_600_000).default(120_000),
  /** Time allowed after flashing for the port to (re)appear and the firmware to answer. */
  boot_timeout_ms: z.number().int().min(100).max(600_000).default(10_000),
  /** Powers the board (run at driver start, and when a job finds its port missing). */
  power_on: command.optional(),
  /** Cuts the board's power (run when the agent stops). */
  power_off: command.optional(),
  /** Resets the board: run when the firmware does not answer, and after a canceled job. */
  reset: command.optional(),
  /** Time allowed for power_on / power_off / reset. */
  command_timeout_ms: z.number().int().min(100).max(600_000).default(30_000),
  /** Flash and RAM of the board, bytes: the server refuses images that do not fit. */
  flash_bytes: z.number().int().positive().optional(),
  ram_bytes: z.number().int().positive().optional(),
  /** Board name for the labels, e.g. nucleo-l4r5zi. */
  board: z.string().min(1).max(128).optional(),
  /** Input tensor size in bytes when the job gives none (default: from the DUT's model id). */
  input_bytes: z.number().int().positive().max(1_000_000).optional(),
  /** A Nordic PPK2 measuring the board's current: energy per inference. */
  ppk2: ppk2BoardSchema.optional(),
  measurement: measurementSchema.default(measurementSchema.parse({})),
});
export type BoardConfig = z.infer<typeof boardSchema>;

export const serialConfigSchema = z.strictObject({
  boards: z.array(boardSchema).min(1).max(64).refine(
    (boards) => new Set(boards.map((b) => b.name)).size === boards.length,
    'board names must be unique',
  ),
  /** How often the boards' ports are checked for presence, ms. */
  poll_ms: z.number().int().min(100).max(60_000).default(1000),
  /** File that remembers the image last flashed on each board (default <agent data>/serial-boards.json). */
  state_file: z.string().optional(),
});
export type SerialConfig = z.infer<typeof serialConfigSchema>;
