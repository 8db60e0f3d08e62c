// The PeerPower API client (API-key authentication), on fetch.
//
// Sending is safe to retry: send and sendBulk carry an Idempotency-Key (yours, or a new UUID per call) that every
// retry of that call reuses, so a message is stored, sent and billed once however often the request goes out.
//
// Retries: 429 and 503 are retried after Retry-After (when the server sends one; else exponential backoff with
// jitter), up to maxRetries times; a wait longer than maxRetryWaitMs (a daily quota that resets at midnight) is not
// waited for but thrown. Network errors, timeouts and other 5xx answers are retried too, but only for requests that
// are safe to repeat: reads, and sends (idempotency key).
import { randomUUID } from "node:crypto";

import { PeerPowerError, TransportError, errorClass } from "./errors.js";

export const VERSION = "0.1.0";
const RETRY_STATUSES = new Set([429, 503]);
// Answered by a server that may have done the work: repeated only when the request is idempotent.
const RETRY_STATUSES_IF_IDEMPOTENT = new Set([500, 502, 504]);

export class PeerPower {
  /**
   * @param {import("../index.d.ts").PeerPowerOptions} [options]
   */
  constructor(options = {}) {
    const env = globalThis.process?.env ?? {};
    const apiKey = options.apiKey ?? env.PEERPOWER_API_KEY;
    const baseUrl = options.baseUrl ?? env.PEERPOWER_URL;
    if (!apiKey) throw new PeerPowerError("No API key: pass apiKey or set PEERPOWER_API_KEY.");
    if (!baseUrl) throw new PeerPowerError("No API address: pass baseUrl or set PEERPOWER_URL.");
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.maxRetries = options.maxRetries ?? 3;
    this.backoffBaseMs = options.backoffBaseMs ?? 500;
    this.backoffMaxMs = options.backoffMaxMs ?? 30_000;
    this.maxRetryWaitMs = options.maxRetryWaitMs ?? 60_000;
    this.fetch = options.fetch ?? globalThis.fetch;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.headers = { Authorization: `Bearer ${apiKey}`, Accept: "application/json" };
    if (options.language) this.headers["Accept-Language"] = options.language;
  }

  // --- Messages ---------------------------------------------------------------------------------------------------

  /** Send one SMS (POST /api/messages/send); the stored message, `queued` (or `held`, or scheduled). */
  async send(message, { idempotencyKey } = {}) {
    return this.request("POST", "/api/messages/send", {
      body: messageBody(message),
      idempotencyKey: idempotencyKey ?? randomUUID(),
    });
  }

  /** Send up to 1,000 messages in one request; each is accepted or refused on its own. */
  async sendBulk(messages, { idempotencyKey } = {}) {
    return this.request("POST", "/api/messages/bulk", {
      body: { messages: [...messages].map(messageBody) },
      idempotencyKey: idempotencyKey ?? randomUUID(),
    });
  }

  /** One of your messages, with its current status. */
  async get(messageId) {
    return this.request("GET", `/api/messages/${messagePathId(messageId)}`);
  }

  /** One page of your messages, newest first: {results, nextCursor, previousCursor}. */
  async list({ status, reference, createdAfter, createdBefore, limit, cursor } = {}) {
    const query = {
      status,
      reference,
      created_after: timeText(createdAfter),
      created_before: timeText(createdBefore),
      limit,
      cursor,
    };
    const page = await this.request("GET", "/api/messages", { query });
    return { results: page.results, nextCursor: cursorOf(page.next), previousCursor: cursorOf(page.previous) };
  }

  /** Every message matching the filters of list(), page after page. */
  async *iterMessages(filters = {}) {
    let cursor = filters.cursor;
    for (;;) {
      const page = await this.list({ ...filters, cursor });
      yield* page.results;
      if (!page.nextCursor) return;
      cursor = page.nextCursor;
    }
  }

  /** Cancel a message no phone has sent yet; ConflictError `message_not_cancellable` otherwise. */
  async cancel(messageId) {
    return this.request("POST", `/api/messages/${messagePathId(messageId)}/cancel`, { idempotent: true });
  }

  // --- Money ------------------------------------------------------------------------------------------------------

  /** The organisation's wallet: available, pending in and pending out (GET /api/wallet). */
  async balance({ ledger = "PPT" } = {}) {
    return this.request("GET", "/api/wallet", { query: { ledger } });
  }

  /** Buy PPT through Baray: pay at the answer's checkout_url (or its KHQR for method "aba_khqr"). */
  async topUp({ amount, currency, method }) {
    const body = { amount, currency };
    if (method !== undefined) body.method = method;
    return this.request("POST", "/api/billing/topups", { body });
  }

  /** A top-up and its status (pending, succeeded, failed, expired). */
  async getTopUp(topUpId) {
    return this.request("GET", `/api/billing/topups/${encodeURIComponent(topUpId)}`);
  }

  // --- Plumbing ---------------------------------------------------------------------------------------------------

  /**
   * Send a request, retrying as the module says; the decoded JSON answer, or an ApiError / TransportError.
   * @param {string} method
   * @param {string} path
   * @param {{body?: unknown, query?: Record<string, unknown>, idempotencyKey?: string, idempotent?: boolean}} [options]
   */
  async request(method, path, { body, query, idempotencyKey, idempotent } = {}) {
    const headers = { ...this.headers };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (idempotencyKey !== undefined) headers["Idempotency-Key"] = idempotencyKey;
    const safe = idempotent ?? (method === "GET" || idempotencyKey !== undefined);
    const url = new URL(this.baseUrl + path);
    for (const [name, value] of Object.entries(query ?? {})) {
      if (value !== undefined && value !== null) url.searchParams.set(name, String(value));
    }
    for (let attempt = 0; ; attempt += 1) {
      let response;
      try {
        response = await this.fetch(url, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(this.timeoutMs),
        });
      } catch (error) {
        if (safe && attempt < this.maxRetries) {
          await this.sleep(this.backoffMs(attempt));
          continue;
        }
        throw new TransportError(`${method} ${path}: ${error.message}`, { cause: error });
      }
      if (response.ok) {
        const text = await response.text();
        return text ? JSON.parse(text) : null;
      }
      const error = await apiError(response);
      const retryable =
        RETRY_STATUSES.has(response.status) || (safe && RETRY_STATUSES_IF_IDEMPOTENT.has(response.status));
      if (!retryable || attempt >= this.maxRetries) throw error;
      const delay =
        error.retryAfter === null
          ? this.backoffMs(attempt)
          : error.retryAfter * 1000 + Math.random() * (this.backoffBaseMs / 5); // spread clients told the same time
      if (delay > this.maxRetryWaitMs) throw error;
      await this.sleep(delay);
    }
  }

  /** Exponential backoff with full jitter: a random wait up to base x 2^attempt (capped), in milliseconds. */
  backoffMs(attempt) {
    return Math.random() * Math.min(this.backoffMaxMs, this.backoffBaseMs * 2 ** attempt);
  }
}

function messageBody(message) {
  const body = {};
  for (const [name, value] of Object.entries(message)) {
    if (value === undefined || value === null) continue;
    body[name] = value instanceof Date ? value.toISOString() : value;
  }
  return body;
}

function messagePathId(id) {
  const text = String(id);
  if (!/^[0-9]+$/.test(text)) throw new PeerPowerError(`Not a message id: ${text}`);
  return text;
}

function timeText(value) {
  return value instanceof Date ? value.toISOString() : value;
}

function cursorOf(url) {
  return url ? new URL(url).searchParams.get("cursor") : null;
}

/** The API's {code, message, details} as an error of the status's class; any code, known or new. */
async function apiError(response) {
  const text = await response.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON (a proxy's page): the status speaks for it.
  }
  if (!body || typeof body !== "object" || !("code" in body)) {
    body = { code: `http_${response.status}`, message: text.slice(0, 200) || response.statusText };
  }
  const ErrorClass = errorClass(response.status);
  return new ErrorClass({
    status: response.status,
    code: String(body.code),
    message: String(body.message ?? ""),
    details: body.details && typeof body.details === "object" ? body.details : {},
    requestId: response.headers.get("X-Request-ID"),
    retryAfter: retryAfterSeconds(response.headers.get("Retry-After")),
  });
}

/** Retry-After in seconds (PeerPower sends whole seconds; an HTTP date from a proxy is read too). */
function retryAfterSeconds(value) {
  if (!value) return null;
  if (/^[0-9]+$/.test(value.trim())) return Number(value.trim());
  const when = Date.parse(value);
  return Number.isNaN(when) ? null : Math.max(0, (when - Date.now()) / 1000);
}

