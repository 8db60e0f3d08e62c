// Types of peerpower-client (src/*.js). Answers are the API's JSON as it sends it (snake_case fields); a field the
// API adds later is there before these types name it.

export declare const VERSION: string;
export declare const SIGNATURE_HEADER: "PeerPower-Signature";
export declare const DEFAULT_TOLERANCE_SECONDS: number;

export type Priority = "high" | "normal" | "low";
export type MessageStatus =
  | "held"
  | "queued"
  | "assigned"
  | "sent"
  | "delivered"
  | "failed"
  | "expired"
  | "cancelled"
  | "rejected"
  | "unknown"
  | (string & {});

export interface PeerPowerOptions {
  /** `pp_live_...`; default: the environment's PEERPOWER_API_KEY. */
  apiKey?: string;
  /** The API's address; default: the environment's PEERPOWER_URL. */
  baseUrl?: string;
  /** Per request (default 10,000). */
  timeoutMs?: number;
  /** Retries of one call (default 3). */
  maxRetries?: number;
  /** Backoff: a random wait up to backoffBaseMs x 2^attempt, capped at backoffMaxMs (defaults 500, 30,000). */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** A Retry-After longer than this is thrown, not waited for (default 60,000). */
  maxRetryWaitMs?: number;
  /** Accept-Language of error messages: "km" (default) or "en". */
  language?: string;
  fetch?: typeof fetch;
  sleep?: (milliseconds: number) => Promise<void>;
}

export interface MessageRequest {
  to: string;
  body: string;
  priority?: Priority;
  reference?: string;
  callback_url?: string;
  scheduled_at?: string | Date;
  validity_seconds?: number;
}

export interface Message {
  id: number;
  status: MessageStatus;
  status_reason: string;
  to: string;
  carrier: string;
  encoding: "gsm7" | "ucs2" | (string & {});
  segments: number;
  priority: Priority;
  reference: string;
  created_at: string;
  scheduled_at: string | null;
  expires_at: string | null;
  sent_at: string | null;
  delivered_at: string | null;
  [field: string]: unknown;
}

export interface ErrorBody {
  code: string;
  message: string;
  details: Record<string, unknown>;
}

export interface BulkItem {
  index: number;
  ok: boolean;
  message?: Message;
  error?: ErrorBody;
}

export interface BulkResult {
  accepted: number;
  refused: number;
  results: BulkItem[];
}

export interface MessageFilters {
  status?: MessageStatus;
  reference?: string;
  createdAfter?: string | Date;
  createdBefore?: string | Date;
  limit?: number;
  cursor?: string | null;
}

export interface MessagePage {
  results: Message[];
  nextCursor: string | null;
  previousCursor: string | null;
}

export interface Amount {
  /** In the smallest unit (10⁻⁶ PPT, riel, US cents). */
  amount: number;
  decimal: string;
}

export interface Wallet {
  ledger: string;
  scale: number;
  owner: "client" | "provider";
  organization: number | null;
  available: Amount;
  pending_in: Amount;
  pending_out: Amount;
  [field: string]: unknown;
}

export interface TopUpRequest {
  /** In whole units of the currency: "10.50" (USD) or "40000" (KHR). */
  amount: string | number;
  currency: "KHR" | "USD";
  method?: "checkout" | "aba_khqr" | (string & {});
}

export interface TopUp {
  id: string;
  organization: number;
  status: "pending" | "succeeded" | "failed" | "expired" | (string & {});
  method: string;
  amount: Amount;
  currency: string;
  ppt: Amount;
  rate: { ppt_per_unit: string; rate_id: number };
  checkout_url: string;
  khqr: string;
  deeplink: string;
  failure_reason: string;
  created_at: string;
  expires_at: string;
  settled_at: string | null;
  [field: string]: unknown;
}

export interface WebhookEvent {
  id: string;
  type: string;
  created_at: string;
  data: { message?: Message; topup?: TopUp; [field: string]: unknown };
}

export declare class PeerPower {
  constructor(options?: PeerPowerOptions);
  readonly baseUrl: string;
  send(message: MessageRequest, options?: { idempotencyKey?: string }): Promise<Message>;
  sendBulk(messages: Iterable<MessageRequest>, options?: { idempotencyKey?: string }): Promise<BulkResult>;
  get(messageId: number | string): Promise<Message>;
  list(filters?: MessageFilters): Promise<MessagePage>;
  iterMessages(filters?: MessageFilters): AsyncGenerator<Message, void, undefined>;
  cancel(messageId: number | string): Promise<Message>;
  balance(options?: { ledger?: "PPT" | "KHR" | "USD" }): Promise<Wallet>;
  topUp(request: TopUpRequest): Promise<TopUp>;
  getTopUp(topUpId: string): Promise<TopUp>;
  request<T = unknown>(
    method: string,
    path: string,
    options?: { body?: unknown; query?: Record<string, unknown>; idempotencyKey?: string; idempotent?: boolean },
  ): Promise<T>;
}

export declare class PeerPowerError extends Error {}
export declare class TransportError extends PeerPowerError {}
export declare class SignatureVerificationError extends PeerPowerError {}
export declare class ApiError extends PeerPowerError {
  constructor(fields: {
    status: number;
    code: string;
    message: string;
    details?: Record<string, unknown>;
    requestId?: string | null;
    retryAfter?: number | null;
  });
  readonly status: number;
  /** Stable and machine-readable: branch on it. */
  readonly code: string;
  /** The API's message for people (Khmer, or English with language "en"). */
  readonly apiMessage: string;
  readonly details: Record<string, unknown>;
  readonly requestId: string | null;
  /** Seconds, from Retry-After. */
  readonly retryAfter: number | null;
}
export declare class BadRequestError extends ApiError {}
export declare class AuthenticationError extends ApiError {}
export declare class InsufficientBalanceError extends ApiError {}
export declare class PermissionDeniedError extends ApiError {}
export declare class NotFoundError extends ApiError {}
export declare class ConflictError extends ApiError {}
export declare class UnprocessableError extends ApiError {}
export declare class RateLimitError extends ApiError {}
export declare class ServerError extends ApiError {}

export interface VerifyOptions {
  /** The replay window in seconds (default 300). */
  tolerance?: number;
  /** Seconds since the epoch (default: now). */
  now?: number;
}

/** Whether `header` (PeerPower-Signature) signs `payload`, the request body exactly as received. */
export declare function verifySignature(
  payload: Uint8Array | string,
  header: string,
  secret: string,
  options?: VerifyOptions,
): boolean;

/** The verified event; throws SignatureVerificationError when the signature does not verify. */
export declare function constructEvent(
  payload: Uint8Array | string,
  header: string,
  secret: string,
  options?: VerifyOptions,
): WebhookEvent;
