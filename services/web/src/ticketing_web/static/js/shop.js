import { ApiError, currentUser, followBooking, get, logIn, logOut, newIdempotencyKey, post, signUp } from "./api.js";
import { field, focusHeading, formValues, h, message, replace } from "./dom.js";
import {
  PAYMENT_TEST_CARDS, availabilityLabel, dateTime, errorMessage, isFinal, money, statusText,
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
function availabilityList(event, availability) {
  const byId = new Map((availability?.ticket_types ?? []).map((type) => [type.ticket_type_id, type]));
  return h("ul", { class: "ticket-types" }, (event.ticket_types ?? []).map((type) => {
    const left = byId.get(type.ticket_type_id);
    const soldOut = left && (left.sold_out || left.available <= 0);
    return h("li", { class: soldOut ? "sold-out" : "" },
      h("span", {}, `${type.name} · ${money(type.price, type.currency)}`),
      h("span", { class: "availability", dataset: { ticketType: type.ticket_type_id } }, left ? availabilityLabel(left) : "…"));
  }));
}

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
async function eventView(eventId) {
  replace(main, h("p", {}, "Loading…"));
  let event;
  try {
    event = await get(`/api/v1/events/${eventId}`);
  } catch (error) {
    replace(main, h("h1", {}, "Event"), message("error", describe(error)));
    return;
  }
  const status = h("div", { id: "booking-feedback", "aria-live": "assertive" });
  const availability = h("div", { class: "availability-slot" }, availabilityList(event, null));
  const header = [
    h("h1", {}, event.name),
    h("p", { class: "when" }, `${dateTime(event.starts_at)}${event.venue ? ` · ${event.venue.name}` : ""}`),
    event.description ? h("p", {}, event.description) : null,
    availability,
  ];
  stopView = every(3000, async () => {
    replace(availability, availabilityList(event, await get(`/api/v1/events/${event.id}/availability`)));
  });
  if (event.status !== "published") {
    replace(main, header, message("info", `This event is ${event.status}: tickets are not on sale.`));
    return;
  }
  if (!user) {
    replace(main, header, h("p", { class: "message info" }, "To book, ",
      h("a", { href: `#/login?next=${encodeURIComponent(`#/event/${eventId}`)}` }, "log in"), " or ",
      h("a", { href: `#/signup?next=${encodeURIComponent(`#/event/${eventId}`)}` }, "sign up"), "."));
    return;
  }
  const idempotencyKey = newIdempotencyKey();
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
      }, { idempotencyKey });
      location.hash = `#/booking/${booking.id}`;
    } catch (error) {
      replace(status, message("error", describe(error)));
      button.disabled = false;
    }
  } },
  h("h2", {}, "Book tickets"),
  field("Ticket type", "select", { name: "ticket_type_id", required: true },
    event.ticket_types.map((type) => ({ value: type.ticket_type_id, label: `${type.name} · ${money(type.price, type.currency)}` }))),
  field("Quantity", "input", { name: "quantity", type: "number", min: 1, max: 10, value: 1, required: true, inputmode: "numeric" }),
  field("Name on the tickets", "input", { name: "customer_name", autocomplete: "name", required: true, value: user.name, maxlength: 200 }),
  field("Email for the tickets", "input", { name: "customer_email", type: "email", autocomplete: "email", required: true, value: user.email }),
  field("Payment card", "select", {
    name: "payment_token",
    required: true,
    hint: "This is a test shop: no real card is charged. Pick the test Visa card to pay successfully, "
      + "or the declined card to see what happens when a payment fails (your tickets are released).",
  }, PAYMENT_TEST_CARDS),
  h("button", { type: "submit" }, "Book now"));
  replace(main, header, form, status);
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
  show(booking);
  replace(details, h("dl", { class: "facts" },
    h("dt", {}, "Booking"), h("dd", {}, booking.id),
    h("dt", {}, "Tickets"), h("dd", {}, String(booking.quantity ?? "")),
    h("dt", {}, "Total"), h("dd", {}, booking.total_price ? money(booking.total_price, booking.currency) : "")));
  if (isFinal(booking.status)) return;
  const poll = async () => {
    const latest = await get(`/api/v1/bookings/${bookingId}`).catch(() => null);
    if (latest) show(latest);
    return latest && isFinal(latest.status);
  };
  stopView = followBooking(bookingId, (change) => show({ ...booking, ...change }), () => {
    stopView = every(1000, async () => { if (await poll()) stopView(); });
  });
}

async function myBookingsView() {
  if (!user) {
    location.hash = `#/login?next=${encodeURIComponent("#/bookings")}`;
    return;
  }
  const feedback = h("div", { "aria-live": "polite" });
  const list = h("div");
  replace(main, h("h1", {}, "My bookings"), feedback, list);
  const load = async () => {
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
      h("thead", {}, h("tr", {}, ["Booking", "Tickets", "Total", "Status", "Action"].map((name) => h("th", { scope: "col" }, name)))),
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
  else if (parts[0] === "login" || parts[0] === "signup") accountView(parts[0], params);
  else await eventsView(params);
  focusHeading(main);
}

async function start() {
  user = await currentUser().catch(() => null);
  renderNav();
  window.addEventListener("hashchange", route);
  await route();
}

start();
