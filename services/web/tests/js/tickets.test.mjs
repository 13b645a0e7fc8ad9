import assert from "node:assert/strict";
import { test } from "node:test";

import {
  answerText, batches, decideOffline, importPublicKey, normalizeCode, offlineScan, parseQrPayload, readScan,
  signatureHolds, ticketStatusText,
} from "../../src/ticketing_web/static/js/tickets.js";

const EVENT = "5f0c6a3e-2b1d-4c8e-9a7f-0e1d2c3b4a59";
const OTHER_EVENT = "0b0b0b0b-2b1d-4c8e-9a7f-0e1d2c3b4a59";
const CODE = "K7QW2M4XZT5R6YB3N5P2H4LC";

const b64url = (bytes) => Buffer.from(bytes).toString("base64url");

async function eventKeys() {
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]);
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  return { pair, publicKey: b64url(raw) };
}

async function payload(keys, eventId = EVENT, code = CODE) {
  const message = new TextEncoder().encode(`TKT1:${eventId}:${code}`);
  const signature = new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, keys.pair.privateKey, message));
  return `TKT1:${eventId}:${code}:${b64url(signature)}`;
}

const ticket = (status, extra = {}) => ({ code: CODE, holder_name: "Zoë O'Brien", ticket_type_name: "Standing", status, ...extra });

async function decide(text, { keys, tickets = new Map(), admitted = new Set() }) {
  const scan = readScan(text);
  const key = await importPublicKey(keys.publicKey);
  const signatureValid = scan?.parsed ? await signatureHolds(key, scan.parsed) : false;
  return decideOffline({ scan, eventId: EVENT, signatureValid, tickets, admitted });
}

test("a QR payload's parts are read back, and anything else is not a payload", async () => {
  const keys = await eventKeys();
  const parsed = parseQrPayload(await payload(keys));
  assert.equal(parsed.eventId, EVENT);
  assert.equal(parsed.code, CODE);
  assert.equal(parsed.signature.length, 64);
  assert.equal(new TextDecoder().decode(parsed.message), `TKT1:${EVENT}:${CODE}`);
  for (const text of ["", "TKT1:x:y:z", `TKT2:${EVENT}:${CODE}:${"A".repeat(86)}`, `TKT1:${EVENT}:${CODE}:short`,
    `TKT1:${EVENT}:K7QW2M4XZT5R6YB3N8P2H4LC:${"A".repeat(86)}`, `TKT1:not-a-uuid:${CODE}:${"A".repeat(86)}`]) {
    assert.equal(parseQrPayload(text), null, text);
  }
});

test("a typed code is read in any case, with spaces or dashes", () => {
  assert.equal(normalizeCode("k7qw-2m4x zt5r-6yb3 n5p2-h4lc"), CODE);
  assert.equal(normalizeCode("K7QW2M4XZT5R6YB3N5P2H4L"), null);
  assert.deepEqual(readScan(` ${CODE} `), { code: CODE });
  assert.equal(readScan("hello"), null);
  assert.equal(readScan("TKT1:garbage").parsed, null);
});

test("offline, a well-signed ticket of the event is admitted with its holder", async () => {
  const keys = await eventKeys();
  const answer = await decide(await payload(keys), { keys, tickets: new Map([[CODE, ticket("valid")]]) });
  assert.deepEqual(answer, { result: "admitted", holder_name: "Zoë O'Brien", ticket_type_name: "Standing" });
});

test("offline, a well-signed code issued after the download is admitted", async () => {
  const keys = await eventKeys();
  assert.equal((await decide(await payload(keys), { keys })).result, "admitted");
});

test("offline, a forged or tampered payload is not a ticket", async () => {
  const keys = await eventKeys();
  const forger = await eventKeys();
  assert.equal((await decide(await payload(forger), { keys })).result, "not_a_ticket");
  const genuine = await payload(keys);
  const tampered = genuine.replace(CODE, "A".repeat(24));
  assert.equal((await decide(tampered, { keys })).result, "not_a_ticket");
  assert.equal((await decide("TKT1:nonsense", { keys })).result, "not_a_ticket");
});

test("offline, a ticket of another event is the wrong event", async () => {
  const keys = await eventKeys();
  assert.equal((await decide(await payload(keys, OTHER_EVENT), { keys })).result, "wrong_event");
});

test("offline, a code the list says is voided is refused", async () => {
  const keys = await eventKeys();
  const tickets = new Map([[CODE, ticket("voided")]]);
  assert.equal((await decide(await payload(keys), { keys, tickets })).result, "voided");
  assert.equal((await decide(CODE, { keys, tickets })).result, "voided");
});

test("offline, a ticket this scanner already admitted is refused the second time", async () => {
  const keys = await eventKeys();
  const answer = await decide(await payload(keys), { keys, admitted: new Set([CODE]) });
  assert.equal(answer.result, "already_checked_in");
});

test("offline, a ticket the list says was checked in elsewhere is refused with when", async () => {
  const keys = await eventKeys();
  const tickets = new Map([[CODE, ticket("checked_in", { checked_in_at: "2030-01-01T20:00:00Z" })]]);
  const answer = await decide(CODE, { keys, tickets });
  assert.equal(answer.result, "already_checked_in");
  assert.equal(answer.checked_in_at, "2030-01-01T20:00:00Z");
});

test("offline, a typed code is checked against the downloaded list", async () => {
  const keys = await eventKeys();
  assert.equal((await decide(CODE, { keys, tickets: new Map([[CODE, ticket("valid")]]) })).result, "admitted");
  assert.equal((await decide(CODE, { keys })).result, "not_a_ticket");
});

test("an admitted offline scan is queued in the sync body's shape", async () => {
  const keys = await eventKeys();
  const text = await payload(keys);
  assert.deepEqual(offlineScan(readScan(text), "2030-01-01T20:00:00.000Z", "id-1"),
    { scan_id: "id-1", qr_payload: text, scanned_at: "2030-01-01T20:00:00.000Z", admitted_offline: true });
  assert.deepEqual(offlineScan(readScan(CODE), "2030-01-01T20:00:00.000Z", "id-2"),
    { scan_id: "id-2", code: CODE, scanned_at: "2030-01-01T20:00:00.000Z", admitted_offline: true });
});

test("a long queue is synced in batches", () => {
  assert.deepEqual(batches([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4], [5]]);
  assert.deepEqual(batches([], 2), []);
});

test("answers read as what door staff must do", () => {
  assert.deepEqual(answerText({ result: "admitted", holder_name: "Ann", ticket_type_name: "VIP" }), { title: "Admitted", detail: "Ann · VIP" });
  assert.match(answerText({ result: "already_checked_in", entrance: "North gate" }).detail, /North gate/);
  assert.match(answerText({ result: "voided", voided_reason: "reissued" }).detail, /new code/);
  assert.equal(answerText({ result: "wrong_event" }).title, "Wrong event");
  assert.equal(answerText({ result: "not_a_ticket" }).title, "Not a ticket");
});

test("a ticket's status reads valid, checked in with when and where, or voided with why", () => {
  assert.equal(ticketStatusText({ status: "valid" }), "Valid");
  assert.equal(ticketStatusText({ status: "checked_in", checked_in_at: "2030-01-01T20:05:00Z", entrance: "North gate" }),
    "Checked in at 01/01/2030, 20:05:00 UTC (North gate)");
  assert.equal(ticketStatusText({ status: "voided", voided_reason: "booking_cancelled" }), "Voided: the booking was cancelled");
});

test("a ticket's QR code is drawn from its payload with a quiet zone", async () => {
  const { qrPath } = await import("../../src/ticketing_web/static/js/qr.js");
  const keys = await eventKeys();
  const { path, size } = qrPath(await payload(keys));
  assert.ok(size >= 21 + 8 && (size - 8 - 17) % 4 === 0, `a QR code is 17 + 4n modules wide, got ${size - 8}`);
  assert.match(path, /^M4 4h1v1h-1z/); // the top-left finder pattern starts at the quiet zone
});
