import {
  ApiError, currentUser, declineOffer, followBooking, get, joinWaitingRoom, joinWaitlist, leaveWaitlist, logIn, logOut,
  newIdempotencyKey, post, signUp, waitingRoomPlace, waitlistEntries,
} from "./api.js";
import { field, focusHeading, formValues, h, message, replace } from "./dom.js";
import { qrSvg } from "./qr.js";
import { ticketStatusText } from "./tickets.js";
import {
  PAYMENT_TEST_CARDS, availabilityLabel, clockText, countdownText, dateTime, errorMessage, isFinal, isOpenWaitlistEntry,
  limitText, money, saleState, saleWindowText, shortDateTime, statusText, waitText, waitlistPlaceText,
} from "./format.js";

const main = document.getElementById("main");
const nav = document.getElementById("account-nav");
let user = null;
let stopView = () => {};

function describe(error) {
  return error instanceof ApiError ? error.message : errorMessage(0, { detail: String(error) });
}

function renderNav() {
  const links = [h("a", { href: "#/" }, "Events")];
  if (user) {
    links.push(h("a", { href: "#/bookings" }, "My bookings"));
    links.push(h("a", { href: "#/waitlist" }, "My waitlist"));
    if (user.role === "admin" || user.role === "manager") links.push(h("a", { href: "/console" }, "Console"));
    links.push(h("span", { class: "who" }, `Signed in as ${user.name}`));
    links.push(h("button", { type: "button", class: "link", onclick: async () => {
      await logOut().catch(() => {});
      user = null;
      renderNav();
      location.hash = "#/";
    } }, "Log out"));
  } else {
    links.push(h("a", { href: "#/login" }, "Log in"), h("a", { href: "#/signup" }, "Sign up"));
  }
  replace(nav, links);
}

function every(milliseconds, work) {
  let timer = null;
  let stopped = false;
  const tick = async () => {
    if (stopped) return;
    await work().catch(() => {});
    if (!stopped) timer = setTimeout(tick, milliseconds);
  };
  tick();
  return () => { stopped = true; clearTimeout(timer); };
}

// ---------------------------------------------------------------- events list
async function eventsView(params) {
  const query = params.get("q") ?? "";
  const results = h("div", { id: "results", "aria-live": "polite" });
  const form = h("form", { class: "search", role: "search", onsubmit: (submitted) => {
    submitted.preventDefault();
    const q = formValues(form).q.trim();
    location.hash = q ? `#/?q=${encodeURIComponent(q)}` : "#/";
  } },
  field("Search events", "input", { name: "q", type: "search", value: query, placeholder: "Artist, event or venue" }),
  h("button", { type: "submit" }, "Search"));
  replace(main, h("h1", {}, "Events on sale"), form, results);
  let page;
  try {
    const search = new URLSearchParams({ status: "published", sort: "starts_at", size: "20" });
    if (query) search.set("q", query);
    page = await get(`/api/v1/events?${search}`);
  } catch (error) {
    replace(results, message("error", describe(error)));
    return;
  }
  if (!page.items.length) {
    replace(results, message("info", query ? `No events match “${query}”.` : "No events are on sale yet."));
    return;
  }
  // List items carry no ticket types: each card reads its event once, then polls availability.
  const cards = page.items.map((event) => {
    const slot = h("div", { class: "availability-slot" }, h("p", { class: "hint" }, "Loading tickets…"));
    const card = h("article", { class: "card event" },
      h("h2", {}, h("a", { href: `#/event/${event.id}` }, event.name)),
      h("p", { class: "when" }, `${dateTime(event.starts_at)}${event.venue_name ? ` · ${event.venue_name}` : ""}`),
      slot,
      h("a", { class: "button", href: `#/event/${event.id}`, "aria-label": `Book tickets for ${event.name}` }, "Book tickets"));
    return { event, details: null, slot, card };
  });
  replace(results, h("p", { class: "count" }, `${page.total} event${page.total === 1 ? "" : "s"}`), cards.map((item) => item.card));
  stopView = every(3000, async () => {
    await Promise.all(cards.map(async (item) => {
      item.details ??= await get(`/api/v1/events/${item.event.id}`);
      const availability = await get(`/api/v1/events/${item.event.id}/availability`);
      replace(item.slot, availabilityList(item.details, availability));
    }));
  });
}

// ---------------------------------------------------------------- one event and booking
// Each bound a ticket type's window takes from the event when it sets none of its own.
function effectiveWindow(type, event) {
  return {
    sale_starts_at: type.sale_starts_at ?? event.sale_starts_at ?? null,
    sale_ends_at: type.sale_ends_at ?? event.sale_ends_at ?? null,
  };
}

function saleTerms(type, event) {
  const terms = [saleWindowText(effectiveWindow(type, event)), limitText(type.max_tickets_per_account, "ticket_type")].filter(Boolean);
  return terms.length ? h("span", { class: "terms", dataset: { saleTerms: type.ticket_type_id } }, terms.join(" · ")) : null;
}

function availabilityList(event, availability) {
  const byId = new Map((availability?.ticket_types ?? []).map((type) => [type.ticket_type_id, type]));
  return h("ul", { class: "ticket-types" }, (event.ticket_types ?? []).map((type) => {
    const left = byId.get(type.ticket_type_id);
    const soldOut = left && (left.sold_out || left.available <= 0);
    return h("li", { class: soldOut ? "sold-out" : "" },
      h("span", {}, `${type.name} · ${money(type.price, type.currency)}`, saleTerms(type, event)),
      h("span", { class: "availability", dataset: { ticketType: type.ticket_type_id } }, left ? availabilityLabel(left) : "…"));
  }));
}

// A live "in 4 minutes 5 seconds" until `iso`; calls `done` once it is reached.
function countdown(iso, done) {
  const target = new Date(iso).getTime();
  const text = h("strong", { class: "countdown-value" }, countdownText(target - Date.now()));
  const timer = setInterval(() => {
    const left = target - Date.now();
    text.textContent = countdownText(left);
    if (left <= 0) {
      clearInterval(timer);
      done();
    }
  }, 1000);
  return { text, stop: () => clearInterval(timer) };
}

function isSoldOut(type, availability) {
  const left = availability?.ticket_types?.find((line) => line.ticket_type_id === type.ticket_type_id);
  return Boolean(left && (left.sold_out || left.available <= 0));
}

// The most tickets one fan may ask for of these types (their limits and the event's).
function mostTickets(event, types) {
  const limits = [event.max_tickets_per_account, ...types.map((type) => type.max_tickets_per_account)].filter(Boolean);
  return { most: Math.min(10, ...limits), limits };
}

// A live "9:41" until `iso` in `element`; calls `done` once it is reached. Returns a stop function.
function clock(element, iso, done) {
  const target = new Date(iso).getTime();
  const tick = () => {
    const left = target - Date.now();
    element.textContent = clockText(left);
    if (left <= 0) {
      clearInterval(timer);
      done?.();
    }
  };
  const timer = setInterval(tick, 1000);
  tick();
  return () => clearInterval(timer);
}

function soldOutNotice() {
  return h("p", { id: "sold-out", class: "message error", role: "alert" }, "Sorry, this event is sold out: no tickets are left.");
}

async function eventView(eventId) {
  replace(main, h("p", {}, "Loading…"));
  let event;
  let availability = null;
  try {
    [event, availability] = await Promise.all([
      get(`/api/v1/events/${eventId}`),
      get(`/api/v1/events/${eventId}/availability`).catch(() => null),
    ]);
  } catch (error) {
    replace(main, h("h1", {}, "Event"), message("error", describe(error)));
    return;
  }
  const stops = [];
  stopView = () => stops.splice(0).forEach((stop) => stop());
  const lines = h("div", { class: "availability-slot" }, availabilityList(event, availability));
  const body = h("div", { id: "event-body" });
  const eventLimit = limitText(event.max_tickets_per_account);
  replace(main,
    h("h1", {}, event.name),
    h("p", { class: "when" }, `${dateTime(event.starts_at)}${event.venue ? ` · ${event.venue.name}` : ""}`),
    event.description ? h("p", {}, event.description) : null,
    eventLimit ? h("p", { id: "purchase-limit", class: "limit" }, eventLimit) : null,
    lines,
    body);
  stops.push(every(3000, async () => {
    availability = await get(`/api/v1/events/${event.id}/availability`);
    replace(lines, availabilityList(event, availability));
  }));
  if (event.status !== "published") {
    replace(body, message("info", `This event is ${event.status}: tickets are not on sale.`));
    return;
  }
  const types = event.ticket_types ?? [];
  const states = types.map((type) => saleState(effectiveWindow(type, event)));
  const soldOut = availability?.ticket_types?.length > 0
    && availability.ticket_types.every((type) => type.sold_out || type.available <= 0);
  const soldOutTypes = types.filter((type, index) => states[index] === "open" && isSoldOut(type, availability));
  if (soldOutTypes.length) {
    const waitlist = h("section", { id: "waitlist", "aria-labelledby": "waitlist-heading" });
    main.append(waitlist);
    stops.push(showWaitlist(waitlist, event, soldOutTypes));
  }
  if (soldOut) {
    replace(body, soldOutNotice());
    return;
  }
  if (states.length && states.every((state) => state === "ended")) {
    replace(body, message("info", "Sale ended: these tickets are no longer on sale."));
    return;
  }
  const upcoming = types
    .filter((_, index) => states[index] === "upcoming")
    .map((type) => effectiveWindow(type, event).sale_starts_at)
    .sort((a, b) => new Date(a) - new Date(b));
  const opening = !states.includes("open") && upcoming.length ? upcoming[0] : null;
  let openingNotice = null;
  const untilOpening = () => {
    if (!opening) return null;
    if (!openingNotice) {
      const clock = countdown(opening, () => route());
      stops.push(clock.stop);
      openingNotice = h("p", { id: "sale-countdown", class: "countdown", role: "timer" },
        `The sale opens on ${shortDateTime(opening)}, in `, clock.text, ".");
    }
    return openingNotice;
  };
  // One live region for the whole wait, told only what changed.
  const position = h("p", { id: "queue-position", class: "status-line", role: "status", "aria-live": "polite" });
  if (!user) {
    replace(body, untilOpening(), h("p", { class: "message info" }, "To book, ",
      h("a", { href: `#/login?next=${encodeURIComponent(`#/event/${eventId}`)}` }, "log in"), " or ",
      h("a", { href: `#/signup?next=${encodeURIComponent(`#/event/${eventId}`)}` }, "sign up"), "."));
    return;
  }
  const bookable = () => types.filter((_, index) => states[index] === "open");

  // No waiting room: the booking form (once the sale has opened).
  const withoutQueue = () => {
    if (opening) replace(body, untilOpening(), message("info", "You can book as soon as the sale opens."));
    else replace(body, bookingForm(event, bookable(), {}));
  };

  const showPlace = (place, placeToken) => {
    if (place.state === "closed") {
      enter();
      return;
    }
    if (place.state === "admitted") {
      replace(body, h("p", { id: "queue-admitted", class: "message success", role: "status" },
        `It's your turn! Book before ${new Date(place.pass_expires_at).toLocaleTimeString("en-GB", { timeZone: "UTC", hour: "2-digit", minute: "2-digit" })} UTC`
          + ` (${place.attempts_left} booking attempt${place.attempts_left === 1 ? "" : "s"} left).`),
      opening ? [untilOpening(), message("info", "You can book as soon as the sale opens.")]
        : bookingForm(event, bookable(), { admissionPass: place.pass, onNotAdmitted: enter }));
      return;
    }
    if (place.state === "expired") {
      replace(body, message("info", "Your turn to book has ended (its time ran out or its booking attempts were used)."),
        h("button", { type: "button", onclick: enter }, "Join the queue again"));
      return;
    }
    replace(body, queuePanel(place, position, untilOpening));
    const wait = Math.max(1, place.poll_after_seconds ?? 2) * 1000;
    const timer = setTimeout(() => follow(placeToken), wait);
    stops.push(() => clearTimeout(timer));
  };

  const follow = async (placeToken) => {
    try {
      showPlace(await waitingRoomPlace(placeToken), placeToken);
    } catch (error) {
      if (error.status === 404) {
        enter();
        return;
      }
      const retry = Math.max(1, Number.parseInt(error.retryAfter ?? "", 10) || 2) * 1000;
      const timer = setTimeout(() => follow(placeToken), retry);
      stops.push(() => clearTimeout(timer));
    }
  };

  // Opening the event joins its queue when it has one (the same place again on a revisit).
  const enter = async () => {
    let joined;
    try {
      joined = await joinWaitingRoom(event.id);
    } catch (error) {
      if (error.status === 404 && error.body?.error_type === "no_waiting_room") {
        withoutQueue();
      } else if (error.body?.error_type === "waiting_room_not_open") {
        const clock = countdown(error.body.opens_at, enter);
        stops.push(clock.stop);
        replace(body, h("p", { id: "queue-countdown", class: "countdown", role: "timer" }, "The queue for this event opens in ", clock.text,
          ` (${shortDateTime(error.body.opens_at)}). Keep this page open: you join it then.`));
      } else {
        replace(body, message("error", describe(error)),
          h("button", { type: "button", onclick: enter }, "Try again"));
      }
      return;
    }
    showPlace(joined, joined.place_token);
  };
  await enter();
}

function queuePanel(place, position, untilOpening) {
  const soldOut = place.state === "sold_out";
  const where = place.position === null
    ? "You are in the queue. Your place is drawn at random when the sale opens, so every fan who joined before then has the same chance."
    : place.position === 1 ? "You are next in the queue." : `You are number ${place.position} in the queue: ${place.ahead} fan${place.ahead === 1 ? "" : "s"} ahead of you.`;
  const wait = waitText(place.estimated_wait_seconds);
  if (position.textContent !== where) position.textContent = where;
  return h("section", { id: "queue", class: "queue", dataset: { state: place.state }, "aria-labelledby": "queue-heading" },
    h("h2", { id: "queue-heading" }, "Waiting room"),
    soldOut ? soldOutNotice() : null,
    position,
    place.order_decided_at_start && place.sale_starts_at ? untilOpening() : null,
    place.paused ? message("info", "The organiser has paused entry for a moment. You keep your place.") : null,
    h("dl", { class: "facts" },
      h("dt", {}, "Your position"), h("dd", { id: "queue-number" }, place.position === null ? "drawn when the sale opens" : String(place.position)),
      h("dt", {}, "Fans ahead of you"), h("dd", {}, place.ahead === null ? "–" : String(place.ahead)),
      h("dt", {}, "Estimated wait"), h("dd", { id: "queue-wait" }, soldOut ? "–" : wait ?? "unknown while entry is paused"),
      h("dt", {}, "Tickets left"), h("dd", { id: "queue-tickets-left" }, place.tickets_left === null ? "…" : String(place.tickets_left))),
    h("p", { class: "hint" }, "Keep this page open: when it is your turn, it takes you to booking."));
}

function bookingForm(event, types, { admissionPass, onNotAdmitted }) {
  const status = h("div", { id: "booking-feedback", "aria-live": "assertive" });
  if (!types.length) return message("info", "None of these tickets are on sale right now.");
  const idempotencyKey = newIdempotencyKey();
  const limits = [event.max_tickets_per_account, ...types.map((type) => type.max_tickets_per_account)].filter(Boolean);
  const most = Math.min(10, ...limits);
  const form = h("form", { class: "stack", id: "booking-form", onsubmit: async (submitted) => {
    submitted.preventDefault();
    const values = formValues(form);
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    replace(status, message("info", "Sending your booking…"));
    try {
      const booking = await post("/api/v1/bookings", {
        event_id: event.id,
        ticket_type_id: values.ticket_type_id,
        quantity: Number(values.quantity),
        customer_name: values.customer_name,
        customer_email: values.customer_email,
        payment_token: values.payment_token,
      }, { idempotencyKey, admissionPass });
      location.hash = `#/booking/${booking.id}`;
    } catch (error) {
      const rejoin = error.body?.error_type === "not_admitted" && onNotAdmitted
        ? h("button", { type: "button", class: "secondary", onclick: onNotAdmitted }, "Join the queue again") : null;
      replace(status, message("error", describe(error)), rejoin);
      button.disabled = false;
    }
  } },
  h("h2", {}, "Book tickets"),
  field("Ticket type", "select", { name: "ticket_type_id", required: true },
    types.map((type) => ({ value: type.ticket_type_id, label: `${type.name} · ${money(type.price, type.currency)}` }))),
  field("Quantity", "input", {
    name: "quantity", type: "number", min: 1, max: most, value: 1, required: true, inputmode: "numeric",
    hint: limits.length ? `${limitText(Math.min(...limits))}.` : undefined,
  }),
  field("Name on the tickets", "input", { name: "customer_name", autocomplete: "name", required: true, value: user.name, maxlength: 200 }),
  field("Email for the tickets", "input", { name: "customer_email", type: "email", autocomplete: "email", required: true, value: user.email }),
  field("Payment card", "select", {
    name: "payment_token",
    required: true,
    hint: "This is a test shop: no real card is charged. Pick the test Visa card to pay successfully, "
      + "or the declined card to see what happens when a payment fails (your tickets are released).",
  }, PAYMENT_TEST_CARDS),
  h("button", { type: "submit" }, "Book now"));
  return [form, status];
}

// ---------------------------------------------------------------- the waitlist
// The sold-out ticket types of an event: join a waitlist, or see the place held on it (and an
// offer once tickets come back). Polls the fan's entries; returns a stop function.
function showWaitlist(container, event, types) {
  const feedback = h("div", { id: "waitlist-feedback", "aria-live": "polite" });
  const panels = h("div");
  replace(container, h("h2", { id: "waitlist-heading" }, "Waitlist"),
    h("p", { class: "hint" }, "When tickets of a sold-out type come back, they are offered to the fans on its waitlist, in the order they joined."),
    feedback, panels);
  if (!user) {
    replace(panels, h("p", { class: "message info" }, "To join the waitlist, ",
      h("a", { href: `#/login?next=${encodeURIComponent(`#/event/${event.id}`)}` }, "log in"), "."));
    return () => {};
  }
  let shown = null;
  const stops = [];
  const render = (entries) => {
    const mine = types.map((type) => entries.find((entry) => entry.ticket_type_id === type.ticket_type_id && isOpenWaitlistEntry(entry)));
    const signature = JSON.stringify(mine);
    if (signature === shown) return;
    shown = signature;
    replace(feedback); // what it said was about the entries as they were
    stops.splice(0).forEach((stop) => stop());
    replace(panels, types.map((type, index) => waitlistPanel(event, type, mine[index], feedback, stops, refresh)));
  };
  const refresh = async () => render((await waitlistEntries()).entries);
  const stopPolling = every(3000, refresh);
  return () => { stopPolling(); stops.splice(0).forEach((stop) => stop()); };
}

function waitlistPanel(event, type, entry, feedback, stops, refresh) {
  const title = h("h3", {}, `${type.name} · sold out`);
  if (!entry) {
    const { most, limits } = mostTickets(event, [type]);
    const form = h("form", { class: "row-form", dataset: { waitlistJoin: type.ticket_type_id }, onsubmit: async (submitted) => {
      submitted.preventDefault();
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        await joinWaitlist(event.id, type.ticket_type_id, {
          quantity: Number(formValues(form).quantity), customer_name: user.name, customer_email: user.email,
        });
        await refresh(); // the panel shows the place
      } catch (error) {
        replace(feedback, message("error", describe(error)));
        button.disabled = false;
      }
    } },
    field(`Tickets wanted of ${type.name}`, "input", {
      name: "quantity", type: "number", min: 1, max: most, value: 1, required: true, inputmode: "numeric",
      hint: limits.length ? `${limitText(Math.min(...limits))}.` : undefined,
    }),
    h("button", { type: "submit" }, "Join the waitlist"));
    return h("div", { class: "card waitlist" }, title, form);
  }
  const leave = h("button", { type: "button", class: "secondary", onclick: async () => {
    if (!confirm("Leave the waitlist? You lose your place (and any tickets held for you).")) return;
    try {
      await leaveWaitlist(entry.entry_id);
      await refresh();
      replace(feedback, message("success", "You left the waitlist."));
    } catch (error) {
      replace(feedback, message("error", describe(error)));
    }
  } }, "Leave the waitlist");
  return h("div", { class: "card waitlist", dataset: { waitlistEntry: entry.entry_id, state: entry.state } },
    title,
    h("p", { class: "waitlist-place", role: "status" }, waitlistPlaceText(entry)),
    h("p", {}, `Tickets wanted: ${entry.quantity}`),
    entry.offer ? offerSummary(entry, stops) : null,
    h("div", { class: "actions" }, leave));
}

// An open offer in short: its tickets, a live countdown and the way to book them.
function offerSummary(entry, stops) {
  const left = h("strong", { class: "countdown-value" });
  stops.push(clock(left, entry.offer.expires_at));
  return h("div", { class: "offer", dataset: { offerId: entry.offer.offer_id } },
    h("p", { class: "countdown", role: "timer" }, `${entry.offer.quantity} ticket${entry.offer.quantity === 1 ? " is" : "s are"} held for you for `, left, "."),
    h("a", { class: "button", href: `#/offer/${entry.offer.offer_id}` }, "Book these tickets"));
}

async function offerView(offerId) {
  if (!user) {
    location.hash = `#/login?next=${encodeURIComponent(`#/offer/${offerId}`)}`;
    return;
  }
  replace(main, h("p", {}, "Loading…"));
  let entry;
  let event;
  try {
    entry = (await waitlistEntries()).entries.find((candidate) => candidate.offer?.offer_id === offerId);
    event = entry ? await get(`/api/v1/events/${entry.event_id}`) : null;
  } catch (error) {
    replace(main, h("h1", {}, "Your offer"), message("error", describe(error)));
    return;
  }
  if (!entry) {
    replace(main, h("h1", {}, "Your offer"),
      message("info", "This offer is no longer open: it was booked, declined, or ran out."),
      h("p", {}, h("a", { href: "#/waitlist" }, "See my waitlist"), " · ", h("a", { href: "#/bookings" }, "See my bookings")));
    return;
  }
  const type = (event.ticket_types ?? []).find((candidate) => candidate.ticket_type_id === entry.ticket_type_id);
  const typeName = type?.name ?? "tickets";
  const left = h("strong", { class: "countdown-value", id: "offer-countdown" });
  const stops = [];
  stopView = () => stops.splice(0).forEach((stop) => stop());
  const feedback = h("div", { id: "offer-feedback", "aria-live": "assertive" });
  const form = offerBookingForm(event, entry, feedback);
  stops.push(clock(left, entry.offer.expires_at, () => {
    form.querySelectorAll("button").forEach((button) => { button.disabled = true; });
    replace(feedback, message("info", "The offer ran out: the tickets passed to the next fan on the waitlist."));
  }));
  const decline = h("button", { type: "button", class: "secondary", id: "decline-offer", onclick: async () => {
    if (!confirm("Decline these tickets? They pass to the next fan on the waitlist and you leave it.")) return;
    try {
      await declineOffer(entry.entry_id);
      stopView();
      replace(main, h("h1", {}, "Offer declined"), message("success", "The tickets pass to the next fan on the waitlist."),
        h("p", {}, h("a", { href: "#/" }, "Back to the events")));
    } catch (error) {
      replace(feedback, message("error", describe(error)));
    }
  } }, "Decline");
  replace(main,
    h("h1", {}, `Tickets held for you: ${event.name}`),
    h("p", { class: "when" }, dateTime(event.starts_at)),
    h("p", { id: "offer-tickets" }, `${entry.offer.quantity} × ${typeName}${type ? ` · ${money(type.price, type.currency)} each` : ""}`),
    h("p", { class: "countdown", role: "timer" }, "Held for you for ", left, ` (until ${shortDateTime(entry.offer.expires_at)}).`),
    form, decline, feedback);
}

function offerBookingForm(event, entry, feedback) {
  const idempotencyKey = newIdempotencyKey();
  const form = h("form", { class: "stack", id: "offer-form", onsubmit: async (submitted) => {
    submitted.preventDefault();
    const values = formValues(form);
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    replace(feedback, message("info", "Sending your booking…"));
    try {
      const booking = await post("/api/v1/bookings", {
        event_id: event.id,
        ticket_type_id: entry.ticket_type_id,
        quantity: entry.offer.quantity,
        customer_name: values.customer_name,
        customer_email: values.customer_email,
        payment_token: values.payment_token,
        offer_id: entry.offer.offer_id,
      }, { idempotencyKey });
      location.hash = `#/booking/${booking.id}`;
    } catch (error) {
      replace(feedback, message("error", describe(error)));
      button.disabled = false;
    }
  } },
  field("Name on the tickets", "input", { name: "customer_name", autocomplete: "name", required: true, value: user.name, maxlength: 200 }),
  field("Email for the tickets", "input", { name: "customer_email", type: "email", autocomplete: "email", required: true, value: user.email }),
  field("Payment card", "select", { name: "payment_token", required: true, hint: "This is a test shop: no real card is charged." }, PAYMENT_TEST_CARDS),
  h("button", { type: "submit" }, "Book these tickets"));
  return form;
}

async function myWaitlistView() {
  if (!user) {
    location.hash = `#/login?next=${encodeURIComponent("#/waitlist")}`;
    return;
  }
  const feedback = h("div", { "aria-live": "polite" });
  const list = h("div", { id: "waitlist-entries" });
  const events = new Map();
  const stops = [];
  let shown = null;
  replace(main, h("h1", {}, "My waitlist"), feedback, list);
  const load = async () => {
    const { entries } = await waitlistEntries();
    const signature = JSON.stringify(entries);
    if (signature === shown) return;
    shown = signature;
    await Promise.all([...new Set(entries.map((entry) => entry.event_id))].filter((id) => !events.has(id))
      .map(async (id) => events.set(id, await get(`/api/v1/events/${id}`).catch(() => null))));
    stops.splice(0).forEach((stop) => stop());
    if (!entries.length) {
      replace(list, message("info", "You are on no waitlist. On a sold-out event, join the waitlist of its tickets."));
      return;
    }
    replace(list, h("ul", { class: "stack" }, entries.map((entry) => {
      const event = events.get(entry.event_id);
      const type = event?.ticket_types?.find((candidate) => candidate.ticket_type_id === entry.ticket_type_id);
      const leave = isOpenWaitlistEntry(entry) ? h("button", { type: "button", class: "secondary", onclick: async () => {
        if (!confirm("Leave the waitlist? You lose your place (and any tickets held for you).")) return;
        try {
          await leaveWaitlist(entry.entry_id);
          replace(feedback, message("success", "You left the waitlist."));
          await load();
        } catch (error) {
          replace(feedback, message("error", describe(error)));
        }
      } }, "Leave the waitlist") : null;
      return h("li", { class: "card waitlist", dataset: { waitlistEntry: entry.entry_id, state: entry.state } },
        h("h2", {}, event ? h("a", { href: `#/event/${event.id}` }, event.name) : "Event"),
        h("p", {}, `${entry.quantity} × ${type?.name ?? "tickets"}`),
        h("p", { class: "waitlist-place" }, waitlistPlaceText(entry)),
        entry.offer ? offerSummary(entry, stops) : null,
        leave);
    })));
  };
  const stopPolling = every(3000, load);
  stopView = () => { stopPolling(); stops.splice(0).forEach((stop) => stop()); };
}

// ---------------------------------------------------------------- tickets
function ticketCard(ticket) {
  const usable = ticket.status !== "voided";
  return h("li", { class: `ticket ${ticket.status}`, dataset: { ticketId: ticket.ticket_id, code: ticket.code } },
    usable ? qrSvg(ticket.qr_payload, `QR code of ticket ${ticket.code}`) : null,
    h("p", {}, h("strong", {}, ticket.ticket_type_name)),
    h("p", {}, ticket.holder_name),
    h("p", { class: "code" }, ticket.code),
    h("p", { class: `ticket-status ${ticket.status}` }, ticketStatusText(ticket)));
}

// A confirmed booking's tickets; entry issues them moments after the confirmation, so a
// "not issued yet" answer is asked again until they are there. Returns a stop function.
function showTickets(container, bookingId) {
  let timer = null;
  let stopped = false;
  const load = async () => {
    try {
      const issued = await get(`/api/v1/bookings/${bookingId}/tickets`);
      const anyValid = issued.tickets.some((ticket) => ticket.status !== "voided");
      replace(container,
        h("h2", {}, `Your tickets for ${issued.event_name}`),
        issued.event_starts_at ? h("p", { class: "when" }, dateTime(issued.event_starts_at)) : null,
        anyValid ? h("p", {}, h("a", { class: "button", id: "tickets-pdf", href: `/api/v1/bookings/${bookingId}/tickets.pdf`,
          download: `tickets-${bookingId}.pdf` }, "Download tickets (PDF)")) : null,
        h("ul", { class: "tickets" }, issued.tickets.map(ticketCard)));
    } catch (error) {
      if (stopped) return;
      if (error.body?.error_type === "tickets_not_issued" || error.status === 503) {
        replace(container, message("info", "Your tickets are being issued…"));
        timer = setTimeout(load, 2000);
      } else {
        replace(container, message("error", describe(error)));
      }
    }
  };
  load();
  return () => { stopped = true; clearTimeout(timer); };
}

async function bookingView(bookingId) {
  const live = h("p", { id: "booking-status", class: "status-line", role: "status", "aria-live": "polite" }, "Loading…");
  const details = h("div");
  replace(main, h("h1", {}, "Your booking"), live, details, h("p", {}, h("a", { href: "#/bookings" }, "See all my bookings")));
  const show = (booking) => {
    live.dataset.status = booking.status;
    live.className = `status-line status-${booking.status.toLowerCase()}`;
    live.textContent = statusText(booking.status, booking.reason);
  };
  let booking;
  try {
    booking = await get(`/api/v1/bookings/${bookingId}`);
  } catch (error) {
    live.textContent = describe(error);
    return;
  }
  const tickets = h("section", { id: "tickets", "aria-live": "polite" });
  const hold = h("p", { id: "hold-countdown", class: "countdown", role: "timer", hidden: true });
  let stopTickets = null;
  let stopHold = null;
  const showHold = (latest) => {
    const held = latest.status === "PENDING" && latest.hold_expires_at;
    hold.hidden = !held;
    if (held && !stopHold) {
      const left = h("strong", { class: "countdown-value" });
      replace(hold, "Your tickets are held for ", left, ": pay before the hold expires.");
      stopHold = clock(left, latest.hold_expires_at);
    } else if (!held && stopHold) {
      stopHold();
      stopHold = null;
    }
  };
  const showStatus = (latest) => {
    show(latest);
    showHold(latest);
    if (latest.status === "CONFIRMED" && !stopTickets) stopTickets = showTickets(tickets, bookingId);
  };
  live.after(hold);
  showStatus(booking);
  replace(details, h("dl", { class: "facts" },
    h("dt", {}, "Booking"), h("dd", {}, booking.id),
    h("dt", {}, "Tickets"), h("dd", {}, String(booking.quantity ?? "")),
    h("dt", {}, "Total"), h("dd", {}, booking.total_price ? money(booking.total_price, booking.currency) : "")), tickets);
  let stopFollowing = () => {};
  stopView = () => { stopFollowing(); stopTickets?.(); stopHold?.(); };
  if (isFinal(booking.status)) return;
  const poll = async () => {
    const latest = await get(`/api/v1/bookings/${bookingId}`).catch(() => null);
    if (latest) showStatus(latest);
    return latest && isFinal(latest.status);
  };
  stopFollowing = followBooking(bookingId, (change) => showStatus({ ...booking, ...change }), () => {
    stopFollowing = every(1000, async () => { if (await poll()) stopFollowing(); });
  });
}

// A confirmed booking's tickets in the list, read when first opened.
function ticketsDisclosure(bookingId, stops) {
  const body = h("div", { class: "booking-tickets" });
  const disclosure = h("details", { dataset: { bookingId } }, h("summary", {}, "Show tickets"), body);
  disclosure.addEventListener("toggle", () => {
    if (disclosure.open && !body.hasChildNodes()) stops.push(showTickets(body, bookingId));
  });
  return disclosure;
}

async function myBookingsView() {
  if (!user) {
    location.hash = `#/login?next=${encodeURIComponent("#/bookings")}`;
    return;
  }
  const feedback = h("div", { "aria-live": "polite" });
  const list = h("div");
  const stops = [];
  stopView = () => stops.splice(0).forEach((stop) => stop());
  replace(main, h("h1", {}, "My bookings"), feedback, list);
  const load = async () => {
    stops.splice(0).forEach((stop) => stop());
    const page = await get("/api/v1/bookings?size=50");
    if (!page.items.length) {
      replace(list, message("info", "You have no bookings yet."));
      return;
    }
    const rows = page.items.map((booking) => h("tr", {},
      h("td", {}, h("a", { href: `#/booking/${booking.id}` }, booking.id.slice(0, 8))),
      h("td", {}, String(booking.quantity ?? "")),
      h("td", {}, booking.total_price ? money(booking.total_price, booking.currency) : ""),
      h("td", { class: `status-${booking.status.toLowerCase()}` }, booking.status),
      h("td", {}, booking.status === "CONFIRMED" ? ticketsDisclosure(booking.id, stops) : ""),
      h("td", {}, booking.status === "CONFIRMED"
        ? h("button", { type: "button", class: "secondary", "aria-label": `Cancel booking ${booking.id.slice(0, 8)}`, onclick: async (click) => {
          if (!confirm("Cancel this booking? Your payment is refunded in full and the tickets go back on sale.")) return;
          click.target.disabled = true;
          try {
            await post(`/api/v1/bookings/${booking.id}/cancel`, {});
            replace(feedback, message("success", "Booking cancelled."));
            await load();
          } catch (error) {
            replace(feedback, message("error", describe(error)));
            click.target.disabled = false;
          }
        } }, "Cancel")
        : "")));
    replace(list, h("div", { class: "table-wrap" }, h("table", {},
      h("caption", {}, "Your bookings, newest first"),
      h("thead", {}, h("tr", {}, ["Booking", "Tickets", "Total", "Status", "Your tickets", "Action"].map((name) => h("th", { scope: "col" }, name)))),
      h("tbody", {}, rows))));
  };
  await load().catch((error) => replace(list, message("error", describe(error))));
}

// ---------------------------------------------------------------- accounts
function accountView(kind, params) {
  const next = params.get("next") || "#/";
  const feedback = h("div", { "aria-live": "assertive" });
  const signingUp = kind === "signup";
  const form = h("form", { class: "stack narrow", id: `${kind}-form`, onsubmit: async (submitted) => {
    submitted.preventDefault();
    const values = formValues(form);
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      user = signingUp
        ? await signUp(values.name, values.email, values.password)
        : await logIn(values.email, values.password);
      renderNav();
      location.hash = next;
    } catch (error) {
      replace(feedback, message("error", error.status === 401 && !signingUp ? "Wrong email or password." : describe(error)));
      button.disabled = false;
    }
  } },
  signingUp ? field("Your name", "input", { name: "name", autocomplete: "name", required: true, maxlength: 200 }) : null,
  field("Email", "input", { name: "email", type: "email", autocomplete: "email", required: true }),
  field("Password", "input", {
    name: "password",
    type: "password",
    autocomplete: signingUp ? "new-password" : "current-password",
    required: true,
    hint: signingUp ? "At least 10 characters, mixing two kinds (letters, digits, symbols)." : undefined,
  }),
  h("button", { type: "submit" }, signingUp ? "Create account" : "Log in"));
  replace(main, h("h1", {}, signingUp ? "Sign up" : "Log in"), form, feedback,
    h("p", {}, signingUp ? "Have an account? " : "New here? ",
      h("a", { href: `#/${signingUp ? "login" : "signup"}?next=${encodeURIComponent(next)}` }, signingUp ? "Log in" : "Sign up")));
}

// ---------------------------------------------------------------- routing
async function route() {
  stopView();
  stopView = () => {};
  const [path, search] = (location.hash.slice(1) || "/").split("?");
  const params = new URLSearchParams(search ?? "");
  const parts = path.split("/").filter(Boolean);
  if (parts[0] === "event" && parts[1]) await eventView(parts[1]);
  else if (parts[0] === "booking" && parts[1]) await bookingView(parts[1]);
  else if (parts[0] === "bookings") await myBookingsView();
  else if (parts[0] === "offer" && parts[1]) await offerView(parts[1]);
  else if (parts[0] === "waitlist") await myWaitlistView();
  else if (parts[0] === "login" || parts[0] === "signup") accountView(parts[0], params);
  else await eventsView(params);
  focusHeading(main);
}

// The e-mailed link to an offer (/offers/{offer_id}) is the shop at that offer.
const OFFER_LINK = /^\/offers\/([0-9a-fA-F-]{36})\/?$/;

async function start() {
  const offerLink = OFFER_LINK.exec(location.pathname);
  if (offerLink) history.replaceState(null, "", `/#/offer/${offerLink[1]}`);
  user = await currentUser().catch(() => null);
  renderNav();
  window.addEventListener("hashchange", route);
  await route();
}

start();
