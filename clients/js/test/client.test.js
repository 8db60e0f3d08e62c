// The client against a live PeerPower. clients/tests/test_live_server.py starts one and runs these tests with its
// address and keys in the environment: PEERPOWER_URL, PEERPOWER_API_KEY, PEERPOWER_SLOW_API_KEY (one send request
// a second), PEERPOWER_WEBHOOK ({body (base64), header, secret} of a real signed webhook request).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";

import * as library from "../src/index.js";

const { PeerPower, ApiError, BadRequestError, ConflictError, NotFoundError, AuthenticationError, RateLimitError } =
  library;
const env = process.env;
const live = env.PEERPOWER_URL ? false : "no server: run through clients/tests/test_live_server.py";
const KHMER = "សួស្តី! ការកម្មង់លេខ 1042 របស់អ្នករួចរាល់ហើយ។";

function client(options = {}) {
  return new PeerPower({ language: "en", ...options });
}

describe("messages", { skip: live }, () => {
  test("send, get, list, cancel", async () => {
    const peerpower = client();
    const sent = await peerpower.send({ to: "012 345 678", body: KHMER, reference: "js-1042", priority: "high" });
    assert.deepEqual([sent.status, sent.to, sent.encoding, sent.segments], ["queued", "+85512345678", "ucs2", 1]);
    assert.deepEqual(await peerpower.get(sent.id), sent);
    const listed = await peerpower.list({ reference: "js-1042" });
    assert.deepEqual(
      listed.results.map((message) => message.id),
      [sent.id],
    );
    const cancelled = await peerpower.cancel(sent.id);
    assert.equal(cancelled.status, "cancelled");
    await assert.rejects(peerpower.cancel(sent.id), (error) => {
      assert.ok(error instanceof ConflictError);
      assert.equal(error.code, "message_not_cancellable");
      assert.equal(error.details.status, "cancelled");
      return true;
    });
  });

  test("bulk, each message on its own, and pages", async () => {
    const peerpower = client();
    const bulk = await peerpower.sendBulk([
      { to: "010 234 567", body: "Your order #1043 is ready.", reference: "js-bulk" },
      { to: "+85599", body: "Hello" },
    ]);
    assert.deepEqual([bulk.accepted, bulk.refused], [1, 1]);
    assert.equal(bulk.results[1].error.code, "phone_invalid");
    const first = await peerpower.list({ limit: 1 });
    assert.equal(first.results.length, 1);
    assert.ok(first.nextCursor);
    const all = [];
    for await (const message of peerpower.iterMessages({ limit: 1 })) all.push(message.id);
    assert.ok(all.length >= 2 && new Set(all).size === all.length);
  });

  test("an idempotent replay gets the first answer; a reused key with another body is refused", async () => {
    const peerpower = client();
    const message = { to: "012 345 678", body: "Your order #7 is ready." };
    const first = await peerpower.send(message, { idempotencyKey: "js-order-7" });
    assert.deepEqual(await peerpower.send(message, { idempotencyKey: "js-order-7" }), first);
    await assert.rejects(peerpower.send({ ...message, body: "other" }, { idempotencyKey: "js-order-7" }), {
      code: "idempotency_key_reused",
    });
  });

  test("errors carry the stable code, details and request id", async () => {
    await assert.rejects(client().send({ to: "012", body: "Hello" }), (error) => {
      assert.ok(error instanceof BadRequestError && error instanceof ApiError);
      assert.deepEqual([error.status, error.code], [400, "phone_invalid"]);
      assert.ok(error.apiMessage && error.requestId);
      return true;
    });
    await assert.rejects(client().get(999999), NotFoundError);
    await assert.rejects(client({ apiKey: "pp_live_not-a-key" }).balance(), (error) => {
      assert.ok(error instanceof AuthenticationError);
      assert.equal(error.code, "api_key_invalid");
      return true;
    });
  });

  test("429 is retried after Retry-After with the same idempotency key", async () => {
    const keys = [];
    const statuses = [];
    const waits = [];
    const recording = async (url, init) => {
      const response = await fetch(url, init);
      keys.push(init.headers["Idempotency-Key"]);
      statuses.push(response.status);
      return response;
    };
    const sleep = (ms) => {
      waits.push(ms);
      return new Promise((resolve) => setTimeout(resolve, ms));
    };
    const peerpower = client({ apiKey: env.PEERPOWER_SLOW_API_KEY, fetch: recording, sleep });
    // One request a second: of three sent one after the other at once, the second (or, across a window's end, the
    // third) is refused, then retried after Retry-After. One at a time: the test server's SQLite takes one writer.
    const sent = [];
    for (const n of [1, 2, 3]) sent.push(await peerpower.send({ to: "012 345 678", body: `retry ${n}` }));
    assert.equal(new Set(sent.map((message) => message.id)).size, 3);
    assert.ok(statuses.includes(429), String(statuses));
    assert.ok(waits.length >= 1 && waits.every((ms) => ms >= 1000 && ms < 1200), String(waits));
    // Each call has its own key, which its retries reuse.
    assert.equal(new Set(keys).size, 3);
    assert.equal(keys.length, statuses.length);
    const noRetries = client({ apiKey: env.PEERPOWER_SLOW_API_KEY, maxRetries: 0 });
    const refused = [];
    for (const n of [1, 2, 3]) {
      await noRetries.send({ to: "012 345 678", body: `no retry ${n}` }).catch((error) => refused.push(error));
    }
    assert.ok(refused.length >= 1);
    assert.ok(refused.every((error) => error instanceof RateLimitError && error.retryAfter >= 1));
  });
});

describe("money", { skip: live }, () => {
  test("balance and a top-up", async () => {
    const peerpower = client();
    const wallet = await peerpower.balance();
    assert.deepEqual([wallet.ledger, wallet.owner, typeof wallet.available.amount], ["PPT", "client", "number"]);
    const topUp = await peerpower.topUp({ amount: "10.50", currency: "USD" });
    assert.deepEqual([topUp.status, topUp.amount.decimal, topUp.currency], ["pending", "10.50", "USD"]);
    assert.ok(topUp.checkout_url);
    assert.equal((await peerpower.getTopUp(topUp.id)).id, topUp.id);
    await assert.rejects(peerpower.topUp({ amount: "-1", currency: "USD" }), BadRequestError);
  });
});

describe("webhooks", { skip: env.PEERPOWER_WEBHOOK ? false : "no signed webhook in PEERPOWER_WEBHOOK" }, () => {
  const webhook = env.PEERPOWER_WEBHOOK ? JSON.parse(env.PEERPOWER_WEBHOOK) : {};
  const body = Buffer.from(webhook.body ?? "", "base64");
  const timestamp = Number((webhook.header ?? "").split(",")[0].slice(2));

  test("a request PeerPower signed verifies; forgeries do not", () => {
    assert.ok(library.verifySignature(body, webhook.header, webhook.secret));
    assert.ok(!library.verifySignature(body, webhook.header, "whsec_not_the_secret"));
    const changed = Buffer.from(body.toString().replace('"failed"', '"delivered"'));
    assert.ok(!library.verifySignature(changed, webhook.header, webhook.secret));
    assert.ok(!library.verifySignature(body, "", webhook.secret));
    const event = library.constructEvent(body, webhook.header, webhook.secret);
    assert.deepEqual([event.type, event.data.message.status], ["message.failed", "failed"]);
  });

  test("the replay window is five minutes", () => {
    assert.ok(library.verifySignature(body, webhook.header, webhook.secret, { now: timestamp + 299 }));
    assert.ok(!library.verifySignature(body, webhook.header, webhook.secret, { now: timestamp + 301 }));
    assert.throws(
      () => library.constructEvent(body, webhook.header, webhook.secret, { now: timestamp + 301 }),
      library.SignatureVerificationError,
    );
  });
});

test("index.d.ts declares every export", () => {
  const declarations = readFileSync(new URL("../index.d.ts", import.meta.url), "utf8");
  for (const name of Object.keys(library)) {
    assert.match(declarations, new RegExp(`export declare (?:const|class|function) ${name}\\b`), name);
  }
});
