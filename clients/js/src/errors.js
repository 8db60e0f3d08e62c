// Errors. Every error the API answers has one shape, {code, message, details}: ApiError carries it whole. Branch on
// `code` (stable; new codes may be added and need no new client) or on the class, chosen by HTTP status only, so an
// unknown code still lands in the right family.

/** Anything this client throws. */
export class PeerPowerError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** No answer from the API: a network error or a timeout (after the client's own retries, where it may retry). */
export class TransportError extends PeerPowerError {}

/** A webhook request whose PeerPower-Signature does not verify (wrong secret, changed body, or too old). */
export class SignatureVerificationError extends PeerPowerError {}

/** The API answered with an error status. */
export class ApiError extends PeerPowerError {
  /**
   * @param {{status: number, code: string, message: string, details?: object, requestId?: string | null,
   *   retryAfter?: number | null}} fields
   */
  constructor({ status, code, message, details = {}, requestId = null, retryAfter = null }) {
    super(`${status} ${code}: ${message}`);
    this.status = status;
    this.code = code;
    this.apiMessage = message;
    this.details = details;
    this.requestId = requestId;
    this.retryAfter = retryAfter;
  }
}

/** 400, 413, 415: the request is wrong (`details` says what to fix). */
export class BadRequestError extends ApiError {}
/** 401: no API key, or a wrong or revoked one. */
export class AuthenticationError extends ApiError {}
/** 402: the wallet cannot pay for this (top up first). */
export class InsufficientBalanceError extends ApiError {}
/** 403: the key or organisation may not do this. */
export class PermissionDeniedError extends ApiError {}
/** 404: no such object for you. */
export class NotFoundError extends ApiError {}
/** 409: conflicts with the current state (idempotency_key_reused, message_not_cancellable, ...). */
export class ConflictError extends ApiError {}
/** 422: valid but refused (content_rejected, recipient_opted_out, ...): do not retry. */
export class UnprocessableError extends ApiError {}
/** 429: too many requests; `retryAfter` (seconds) says how long to wait. */
export class RateLimitError extends ApiError {}
/** 5xx: the service failed or is unavailable; retry later with the same idempotency key. */
export class ServerError extends ApiError {}

const BY_STATUS = {
  400: BadRequestError,
  401: AuthenticationError,
  402: InsufficientBalanceError,
  403: PermissionDeniedError,
  404: NotFoundError,
  409: ConflictError,
  413: BadRequestError,
  415: BadRequestError,
  422: UnprocessableError,
  429: RateLimitError,
};

/** The error class for an HTTP error status. */
export function errorClass(status) {
  if (status >= 500) return ServerError;
  return BY_STATUS[status] ?? ApiError;
}
