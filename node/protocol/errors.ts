/** The error codes of the wire protocol (PROTOCOL.md, "Errors"). */
export const ERROR_CODES = [
  'bad_request',
  'unauthorized',
  'forbidden',
  'not_found',
  'conflict',
  'too_large',
  'rate_limited',
  'unavailable',
  'internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** A failure a client is told about: a protocol code and a message for people. */
export class ChatError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ChatError';
  }
}

/** A dependency was away or did not answer in time: trying again later may succeed (a write may also have landed). */
export function isUnavailable(error: unknown): boolean {
  return error instanceof ChatError && error.code === 'unavailable';
}

/** The HTTP status of each code, for the HTTP API. */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  rate_limited: 429,
  unavailable: 503,
  internal: 500,
};

/** Any thrown value as a ChatError; what is not one already is `internal`. */
export function asChatError(error: unknown): ChatError {
  if (error instanceof ChatError) return error;
  return new ChatError('internal', 'internal error', { cause: error });
}
