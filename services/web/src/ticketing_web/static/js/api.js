// Calls to this site's backend: /session for logging in and out, /api/v1 for the gateway's API.
// The session lives in an httpOnly cookie; state-changing calls echo the CSRF cookie.
import { errorMessage } from "./format.js";

const CSRF_COOKIE = "ticketing_csrf";

function csrfToken() {
  const entry = document.cookie.split("; ").find((part) => part.startsWith(`${CSRF_COOKIE}=`));
  return entry ? decodeURIComponent(entry.slice(CSRF_COOKIE.length + 1)) : "";
}

export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    super(errorMessage(status, body, retryAfter));
    this.status = status;
    this.body = body;
    this.retryAfter = retryAfter;
  }
}

export async function request(method, path, body, { idempotencyKey, admissionPass } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRF-Token"] = csrfToken();
  if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
  if (admissionPass) headers["X-Admission-Pass"] = admissionPass;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch {
    const error = new ApiError(503, { detail: "The network connection failed." }, null);
    error.network = true; // no answer at all: a scanner at the door goes offline on this
    throw error;
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { detail: text };
  }
  if (!response.ok) throw new ApiError(response.status, data, response.headers.get("Retry-After"));
  return data;
}

export const get = (path) => request("GET", path);
export const post = (path, body, options) => request("POST", path, body, options);
export const put = (path, body, options) => request("PUT", path, body, options);
export const patch = (path, body) => request("PATCH", path, body);
export const del = (path) => request("DELETE", path);

export async function currentUser() {
  try {
    return await get("/session");
  } catch (error) {
    if (error.status === 401) return null;
    throw error;
  }
}

export const logIn = (email, password) => post("/session/login", { email, password });
export const signUp = (name, email, password) => post("/session/register", { name, email, password });
export const logOut = () => post("/session/logout");

// Follows a booking's status stream until it is final; returns a function that stops it.
export function followBooking(bookingId, onStatus, onTrouble) {
  const source = new EventSource(`/api/v1/bookings/${encodeURIComponent(bookingId)}/events`);
  let finished = false;
  source.addEventListener("status", (event) => {
    const change = JSON.parse(event.data);
    onStatus(change);
    if (["CONFIRMED", "REJECTED", "CANCELLED", "EXPIRED"].includes(change.status)) {
      finished = true;
      source.close();
    }
  });
  source.addEventListener("error", () => {
    // The server ends the stream after a final status or its time bound; EventSource would
    // reconnect, so poll once instead and let the caller decide.
    source.close();
    if (!finished) onTrouble?.();
  });
  return () => source.close();
}

// Takes the caller's place in an event's waiting room (the same place again if it holds one).
export const joinWaitingRoom = (eventId) => post(`/api/v1/events/${encodeURIComponent(eventId)}/waiting-room/places`);
export const waitingRoomPlace = (placeToken) => get(`/api/v1/waiting-room/places/${encodeURIComponent(placeToken)}`);

// The caller's waitlist entries (with their places and open offers), joining, leaving, declining.
export const waitlistEntries = () => get("/api/v1/waitlist/entries");
export const joinWaitlist = (eventId, ticketTypeId, body) =>
  post(`/api/v1/events/${encodeURIComponent(eventId)}/ticket-types/${encodeURIComponent(ticketTypeId)}/waitlist`, body);
export const leaveWaitlist = (entryId) => del(`/api/v1/waitlist/entries/${encodeURIComponent(entryId)}`);
export const declineOffer = (entryId) => post(`/api/v1/waitlist/entries/${encodeURIComponent(entryId)}/decline`);

export function newIdempotencyKey() {
  return crypto.randomUUID();
}
