// The one error catalogue: stable codes, their HTTP status, and the error type every layer above
// `protocol` throws. The center's error handler (center/http/errors.ts) is the one place that turns
// these into `{"error":{"code","message"}}` responses; the CLI turns them into exit codes.

export const ERROR_CATALOGUE = {
  bad_request: 400,
  validation_failed: 400,
  criteria_required: 400,
  unknown_agents: 400,
  disabled_agents: 400,
  no_agents_selected: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  session_not_found: 404,
  share_not_found: 404,
  no_packets: 404,
  session_running: 409,
  session_not_running: 409,
  conflict: 409,
  gone: 410,
  payload_too_large: 413,
  uri_too_long: 414,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export class TunaError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details?: unknown;

  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = 'TunaError';
    this.code = code;
    this.status = ERROR_CATALOGUE[code];
    this.details = details;
  }
}

export const isTunaError = (e: unknown): e is TunaError => e instanceof TunaError;
