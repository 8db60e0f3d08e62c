// Webhook signatures: `PeerPower-Signature: t=<unix time>,v1=<hex HMAC-SHA256>[,v1=...]`. The HMAC is keyed with the
// whole secret string (whsec_..., UTF-8) over the timestamp, a dot and the raw request body. A request is genuine
// when exactly one `t` is given, it is within `tolerance` seconds of now (older ones are replays), and any `v1`
// matches (two are sent while a rotated secret is in its grace period): the rules of docs/webhooks.md.
import { createHmac, timingSafeEqual } from "node:crypto";

import { SignatureVerificationError } from "./errors.js";

export const SIGNATURE_HEADER = "PeerPower-Signature";
export const DEFAULT_TOLERANCE_SECONDS = 300;

/**
 * Whether `header` (the PeerPower-Signature value) signs `payload`, the request body exactly as received.
 * @param {Uint8Array | string} payload
 * @param {string} header
 * @param {string} secret
 * @param {{tolerance?: number, now?: number}} [options] `now` in seconds since the epoch
 * @returns {boolean}
 */
export function verifySignature(payload, header, secret, { tolerance = DEFAULT_TOLERANCE_SECONDS, now } = {}) {
  const items = String(header ?? "")
    .split(",")
    .filter((part) => part.includes("="))
    .map((part) => [part.slice(0, part.indexOf("=")), part.slice(part.indexOf("=") + 1)]);
  const timestamps = items.filter(([key]) => key === "t").map(([, value]) => value);
  if (timestamps.length !== 1 || !/^[0-9]+$/.test(timestamps[0])) return false;
  const current = now ?? Date.now() / 1000;
  if (Math.abs(current - Number(timestamps[0])) > tolerance) return false; // a replay
  const expected = createHmac("sha256", secret)
    .update(timestamps[0] + ".")
    .update(typeof payload === "string" ? Buffer.from(payload, "utf8") : payload)
    .digest();
  return items.some(
    ([key, value]) =>
      key === "v1" && /^[0-9a-f]{64}$/.test(value) && timingSafeEqual(expected, Buffer.from(value, "hex")),
  );
}

/**
 * The event a webhook request carries, once its signature verifies; throws SignatureVerificationError otherwise.
 * @param {Uint8Array | string} payload
 * @param {string} header
 * @param {string} secret
 * @param {{tolerance?: number, now?: number}} [options]
 */
export function constructEvent(payload, header, secret, options = {}) {
  if (!verifySignature(payload, header, secret, options)) {
    throw new SignatureVerificationError("The PeerPower-Signature header does not match this body and secret.");
  }
  const text = typeof payload === "string" ? payload : Buffer.from(payload).toString("utf8");
  return JSON.parse(text);
}
