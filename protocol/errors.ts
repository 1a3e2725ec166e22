// One error type for the whole system. Every failure that crosses a boundary (HTTP, WebSocket,
// CLI exit, job error) carries a stable `code`; decisions are made on the code, never on text.
import { z } from 'zod';

/** HTTP-facing error codes and the status each maps to. */
export const HTTP_ERROR_STATUS = {
  bad_request: 400,
  invalid_json: 400,
  validation_failed: 400,
  unsupported_media_type: 415,
  payload_too_large: 413,
  hash_mismatch: 400,
  truncated_upload: 400,
  unsupported_format: 422,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  no_matching_device: 422,
  /** An MCU firmware image needs more flash or RAM than a chosen device declares. */
  does_not_fit: 422,
  invalid_state: 409,
  internal: 500,
} as const;
export type HttpErrorCode = keyof typeof HTTP_ERROR_STATUS;

/**
 * Job error codes reported by agents (or the server on their behalf). `deviceFault` errors
 * count towards the device's consecutive-failure streak; `retryable` ones requeue the job.
 */
export const JOB_ERROR_CODES = {
  lease_expired: { retryable: true, deviceFault: false, text: 'the agent stopped renewing its lease (agent crashed or lost its connection)' },
  agent_disconnected: { retryable: true, deviceFault: false, text: 'the agent disconnected during the job' },
  device_unavailable: { retryable: true, deviceFault: true, text: 'the device is not reachable' },
  device_unauthorized: { retryable: false, deviceFault: true, text: 'the phone has not authorized this computer for USB debugging' },
  push_failed: { retryable: false, deviceFault: true, text: 'copying files to the device failed' },
  device_too_hot: { retryable: true, deviceFault: true, text: 'the device did not cool down in time' },
  /** The board's flash command exited with an error or timed out (serial MCU boards). */
  flash_failed: { retryable: true, deviceFault: true, text: 'flashing the firmware image onto the board failed' },
  /** Flashing succeeded but the firmware does not speak the benchmark protocol (likely the image's fault). */
  firmware_unresponsive: { retryable: false, deviceFault: false, text: 'the flashed firmware did not answer the benchmark protocol' },
  runner_crashed: { retryable: true, deviceFault: true, text: 'the runner process crashed' },
  runner_failed: { retryable: false, deviceFault: false, text: 'the runner exited with an error' },
  model_fetch_failed: { retryable: true, deviceFault: false, text: 'the model could not be fetched' },
  model_hash_mismatch: { retryable: true, deviceFault: false, text: 'the fetched model did not match its sha256' },
  model_load_failed: { retryable: false, deviceFault: false, text: 'the runtime could not load the model' },
  invalid_input_spec: { retryable: false, deviceFault: false, text: 'the model inputs could not be generated' },
  /** The runner program is missing (not on the phone, or the configured binary is not on the agent's host); the message names the config key to set. */
  runner_not_found: { retryable: false, deviceFault: false, text: 'the runner program is not installed on the device' },
  unsupported_runtime: { retryable: false, deviceFault: false, text: 'the device has no runner for this runtime' },
  output_unparseable: { retryable: false, deviceFault: false, text: 'the runner output could not be read' },
  result_too_large: { retryable: false, deviceFault: false, text: 'the result holds more samples than one result may carry (8 MiB of JSON); lower the iterations' },
  timed_out: { retryable: false, deviceFault: false, text: 'the job exceeded its timeout' },
  canceled: { retryable: false, deviceFault: false, text: 'the job was canceled' },
  internal: { retryable: true, deviceFault: false, text: 'internal agent error' },
} as const;
export type JobErrorCode = keyof typeof JOB_ERROR_CODES;
export const jobErrorCodeSchema = z.enum(Object.keys(JOB_ERROR_CODES) as [JobErrorCode, ...JobErrorCode[]]);

export const errorBodySchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
});
export type ErrorBody = z.infer<typeof errorBodySchema>;

/** The single error class. `status` is only meaningful at the HTTP boundary. */
export class BenchfleetError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details: unknown;
  constructor(code: HttpErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = 'BenchfleetError';
    this.code = code;
    this.status = HTTP_ERROR_STATUS[code];
    this.details = details;
  }
  toBody(): ErrorBody {
    return { error: { code: this.code, message: this.message, ...(this.details === undefined ? {} : { details: this.details }) } };
  }
}

/** A job failure as carried in the protocol and stored with the job. */
export const jobErrorSchema = z
  .object({
    code: jobErrorCodeSchema,
    message: z.string().max(4000),
    retryable: z.boolean().optional(),
  })
  .strict();
export type JobError = z.infer<typeof jobErrorSchema>;

export function jobError(code: JobErrorCode, message?: string): JobError {
  return { code, message: message ?? JOB_ERROR_CODES[code].text, retryable: JOB_ERROR_CODES[code].retryable };
}

/** Formats zod issues as one readable line: `settings.iterations: Expected number, received string`. */
export function describeZodError(err: z.ZodError): string {
  return err.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}
