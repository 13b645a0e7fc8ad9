// Tickets at the door: what a scanned text is (a QR payload or a typed code), how its
// signature is checked with the event's public key, and what the scanner decides while it
// has no network. Pure apart from WebCrypto (node tests: tests/js/tickets.test.mjs).
//
// A QR payload is TKT1:<event id>:<code>:<signature>; the signature is Ed25519 over
// "TKT1:<event id>:<code>" with the event's key, base64url without padding (the contract:
// libs/contracts/src/ticketing_contracts/tickets.py).

export const QR_PREFIX = "TKT1";
const CODE = /^[A-Z2-7]{24}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
export const SYNC_BATCH = 100; // scans per sync call: well within the gateway's body limit

export function b64urlDecode(text) {
  if (!BASE64URL.test(text)) return null;
  const base64 = text.replaceAll("-", "+").replaceAll("_", "/") + "=".repeat((4 - (text.length % 4)) % 4);
  try {
    return Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
  } catch {
    return null;
  }
}

// The parts of a QR payload, or null when the text is not one (its form, not its signature).
export function parseQrPayload(text) {
  const parts = String(text).trim().split(":");
  if (parts.length !== 4 || parts[0] !== QR_PREFIX) return null;
  const [, eventId, code, signatureText] = parts;
  if (!UUID.test(eventId) || !CODE.test(code)) return null;
  const signature = b64urlDecode(signatureText);
  if (!signature || signature.length !== 64) return null;
  return {
    eventId: eventId.toLowerCase(),
    code,
    signature,
    message: new TextEncoder().encode(`${QR_PREFIX}:${eventId}:${code}`),
  };
}

// A code as people type it: any case, with spaces or dashes between groups.
export function normalizeCode(text) {
  const code = String(text).toUpperCase().replace(/[\s-]/g, "");
  return CODE.test(code) ? code : null;
}

// What was scanned: {qrPayload, parsed} for a payload, {code} for a code, null for neither.
export function readScan(text) {
  const trimmed = String(text).trim();
  if (trimmed.toUpperCase().startsWith(`${QR_PREFIX}:`)) {
    return { qrPayload: trimmed, parsed: parseQrPayload(trimmed) };
  }
  const code = normalizeCode(trimmed);
  return code ? { code } : null;
}

export async function importPublicKey(publicKey, subtle = globalThis.crypto.subtle) {
  const raw = b64urlDecode(publicKey);
  if (!raw || raw.length !== 32) throw new Error("The event's public key is not a raw Ed25519 key");
  return subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
}

export async function signatureHolds(key, parsed, subtle = globalThis.crypto.subtle) {
  try {
    return await subtle.verify({ name: "Ed25519" }, key, parsed.signature, parsed.message);
  } catch {
    return false;
  }
}

// The scanner's answer without a network, in the shape of the server's ScanAnswer.
// `scan` is readScan's; `signatureValid` whether a payload's signature held with the event's
// key; `tickets` maps code -> the downloaded ticket; `admitted` is the codes this scanner
// let in. A well-signed code missing from the list was issued after the download: admitted.
export function decideOffline({ scan, eventId, signatureValid, tickets, admitted }) {
  if (!scan || (scan.qrPayload !== undefined && !scan.parsed)) return { result: "not_a_ticket" };
  let code = scan.code;
  if (scan.parsed) {
    if (scan.parsed.eventId !== String(eventId).toLowerCase()) return { result: "wrong_event" };
    if (!signatureValid) return { result: "not_a_ticket" };
    code = scan.parsed.code;
  }
  const ticket = tickets.get(code);
  if (!ticket && !scan.parsed) return { result: "not_a_ticket" };
  const about = ticket ? { holder_name: ticket.holder_name, ticket_type_name: ticket.ticket_type_name } : {};
  if (ticket?.status === "voided") return { result: "voided", ...about };
  if (admitted.has(code)) return { result: "already_checked_in", ...about, entrance: "this scanner" };
  if (ticket?.status === "checked_in") {
    return { result: "already_checked_in", ...about, checked_in_at: ticket.checked_in_at ?? null };
  }
  return { result: "admitted", ...about };
}

// The queued offline scan for a scan the scanner admitted (the sync body's OfflineScan).
export function offlineScan(scan, scannedAt, scanId) {
  const what = scan.parsed ? { qr_payload: scan.qrPayload } : { code: scan.code };
  return { scan_id: scanId, ...what, scanned_at: scannedAt, admitted_offline: true };
}

export function scanCode(scan) {
  return scan?.parsed ? scan.parsed.code : scan?.code ?? null;
}

export function batches(items, size = SYNC_BATCH) {
  const out = [];
  for (let index = 0; index < items.length; index += size) out.push(items.slice(index, index + size));
  return out;
}

// What the page says for an answer, online or offline.
export function answerText(answer) {
  switch (answer.result) {
    case "admitted":
      return { title: "Admitted", detail: [answer.holder_name, answer.ticket_type_name].filter(Boolean).join(" · ") };
    case "already_checked_in": {
      const when = answer.checked_in_at ? new Date(answer.checked_in_at).toLocaleTimeString("en-GB") : null;
      const where = answer.entrance ? `at ${answer.entrance}` : null;
      return { title: "Already checked in", detail: [when ? `at ${when}` : null, where, answer.holder_name].filter(Boolean).join(" · ") };
    }
    case "voided":
      return { title: "Voided", detail: [VOID_REASONS[answer.voided_reason], answer.holder_name].filter(Boolean).join(" · ") };
    case "wrong_event":
      return { title: "Wrong event", detail: "This ticket is for another event." };
    default:
      return { title: "Not a ticket", detail: "Unknown code or a QR code that is not one of ours." };
  }
}

const VOID_REASONS = {
  booking_cancelled: "the booking was cancelled",
  payment_refunded: "the payment was refunded",
  event_cancelled: "the event was cancelled",
  reissued: "replaced by a new code",
};

export function ticketStatusText(ticket) {
  if (ticket.status === "checked_in") {
    const at = ticket.checked_in_at ? new Date(ticket.checked_in_at).toLocaleString("en-GB", { timeZone: "UTC" }) : "";
    return `Checked in${at ? ` at ${at} UTC` : ""}${ticket.entrance ? ` (${ticket.entrance})` : ""}`;
  }
  if (ticket.status === "voided") return `Voided${ticket.voided_reason ? `: ${VOID_REASONS[ticket.voided_reason]}` : ""}`;
  return "Valid";
}
