// Pure presentation rules, shared by the shop and the console (unit-tested with node --test).

export const FINAL_STATUSES = new Set(["CONFIRMED", "REJECTED", "CANCELLED", "EXPIRED"]);

export const PAYMENT_TEST_CARDS = [
  { value: "tok_visa", label: "Test Visa card: payment succeeds (tok_visa)" },
  { value: "tok_chargeDeclined", label: "Test card that is declined (tok_chargeDeclined)" },
];

export function isFinal(status) {
  return FINAL_STATUSES.has(status);
}

export function money(amount, currency) {
  const value = Number(amount);
  if (!Number.isFinite(value)) return `${amount} ${currency ?? ""}`.trim();
  try {
    return new Intl.NumberFormat("en-GB", { style: "currency", currency: currency || "EUR" }).format(value);
  } catch {
    return `${value.toFixed(2)} ${currency}`;
  }
}

export function dateTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return date.toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" }) + " UTC";
}

export function availabilityLabel(ticketType) {
  if (!ticketType) return "";
  if (ticketType.sold_out || ticketType.available <= 0) return "Sold out";
  if (ticketType.available < 10) return `Only ${ticketType.available} left`;
  return `${ticketType.available} available`;
}

const STATUS_TEXT = {
  PENDING: "Pending: we are reserving your tickets…",
  CONFIRMED: "Confirmed: your tickets are booked.",
  REJECTED: "Rejected: the booking did not go through.",
  CANCELLED: "Cancelled: your payment is refunded in full and the tickets went back on sale.",
  EXPIRED: "Expired: the hold ran out before the booking completed.",
};

const REASON_TEXT = {
  sold_out: "Those tickets sold out before your booking was reserved.",
  not_enough_tickets: "Not enough tickets were left for that quantity.",
  event_not_on_sale: "That event is not on sale.",
  payment_declined: "Your card was declined. No money was taken.",
  event_cancelled: "The event was cancelled; nothing stays charged.",
  hold_expired: "The hold on your tickets ran out.",
};

export function statusText(status, reason) {
  const text = STATUS_TEXT[status] ?? status;
  const why = reason ? REASON_TEXT[reason] ?? `Reason: ${reason.replaceAll("_", " ")}.` : "";
  return why ? `${text} ${why}` : text;
}

function seconds(retryAfter) {
  const value = Number.parseInt(retryAfter ?? "", 10);
  return Number.isFinite(value) && value > 0 ? value : null;
}

// What a person should read for a failed request: never a raw status code alone.
export function errorMessage(status, body, retryAfter) {
  const type = body?.error_type;
  const detail = typeof body?.detail === "string" ? body.detail : null;
  if (status === 429) {
    const wait = seconds(retryAfter);
    return wait
      ? `Lots of people are trying right now. Please wait ${wait} second${wait === 1 ? "" : "s"} and try again.`
      : "Lots of people are trying right now. Please wait a moment and try again.";
  }
  if (type === "sold_out" || (status === 409 && /sold out/i.test(detail ?? ""))) {
    return "Sorry, these tickets are sold out.";
  }
  if (status === 401) return "Please log in to continue.";
  if (status === 403 && type === "csrf_failed") return "Your session is out of date: reload the page and try again.";
  if (status === 403) return "You are not allowed to do that.";
  if (status === 404) return "We could not find that. It may have been removed.";
  if (status === 503 || status === 502) {
    const wait = seconds(retryAfter);
    return `The ticket service is busy or restarting. Please try again${wait ? ` in ${wait} seconds` : " shortly"}.`;
  }
  if (status === 422 || status === 400 || status === 409) {
    if (Array.isArray(body?.errors) && body.errors.length) {
      return body.errors
        .map((error) => `${String(error.field ?? "").split(".").pop() || "input"}: ${error.message ?? error.msg}`)
        .join("; ");
    }
    if (Array.isArray(body?.detail)) {
      return body.detail.map((error) => `${(error.loc ?? []).slice(-1)[0] ?? "input"}: ${error.msg}`).join(" ");
    }
    if (Array.isArray(body?.reasons) && body.reasons.length) return body.reasons.join(" ");
    return detail ?? "Please check what you entered.";
  }
  return detail ?? `Something went wrong (${status}). Please try again.`;
}

// Confirmed bookings per second between the first and last of recent samples
// ({at: milliseconds, confirmed: count}); null until two samples span some time.
export function ratePerSecond(samples, windowMs = 5000) {
  if (samples.length < 2) return null;
  const last = samples[samples.length - 1];
  const first = samples.find((sample) => last.at - sample.at <= windowMs) ?? samples[0];
  const elapsed = (last.at - first.at) / 1000;
  if (elapsed <= 0) return null;
  return Math.max(0, (last.confirmed - first.confirmed) / elapsed);
}

export function keepRecent(samples, sample, windowMs = 10000) {
  return [...samples, sample].filter((kept) => sample.at - kept.at <= windowMs);
}

export function saleSummary(sale) {
  const types = sale?.ticket_types ?? [];
  const quantity = types.reduce((sum, type) => sum + type.quantity, 0);
  const sold = types.reduce((sum, type) => sum + type.sold, 0);
  const reserved = types.reduce((sum, type) => sum + type.reserved, 0);
  return { quantity, sold, reserved, soldOut: types.length > 0 && types.every((type) => type.sold_out || type.available <= 0) };
}

// A datetime-local value (no zone; read as UTC in the console) as an ISO string with offset.
export function localInputToIso(value) {
  if (!value) return "";
  const withSeconds = value.length === 16 ? `${value}:00` : value;
  return `${withSeconds}Z`;
}
