import { ApiError, currentUser, del, get, logIn, logOut, newIdempotencyKey, patch, post, put } from "./api.js";
import { appendBounded, lineChart, ratesPerSecond, series } from "./chart.js";
import { field, focusHeading, formValues, h, message, replace } from "./dom.js";
import {
  dateTime, isoToLocalInput, keepRecent, localInputToIso, money, ratePerSecond, saleSummary, waitText,
} from "./format.js";

const main = document.getElementById("main");
const nav = document.getElementById("console-nav");
let user = null;
let stopView = () => {};

const isAdmin = () => user?.role === "admin";
const describe = (error) => (error instanceof ApiError ? error.message : String(error));

function renderNav() {
  if (!user) {
    replace(nav, h("a", { href: "/" }, "Shop"));
    return;
  }
  const current = location.hash.split("/")[1] ?? "events";
  const link = (href, label, key) => h("a", { href, "aria-current": current === key ? "page" : null }, label);
  replace(nav,
    link("#/events", "Events", "events"),
    link("#/venues", "Venues", "venues"),
    isAdmin() ? link("#/health", "Health", "health") : null,
    isAdmin() ? link("#/dead-letters", "Dead letters", "dead-letters") : null,
    h("a", { href: "/" }, "Shop"),
    h("span", { class: "who" }, `${user.name} (${user.role})`),
    h("button", { type: "button", class: "link", onclick: async () => {
      await logOut().catch(() => {});
      user = null;
      route();
    } }, "Log out"));
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

function table(caption, headings, rows) {
  return h("div", { class: "table-wrap" }, h("table", {},
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, headings.map((heading) => h("th", { scope: "col", class: heading.number ? "number" : null }, heading.label ?? heading)))),
    h("tbody", {}, rows)));
}

// Runs a write, reloads the view when it worked, then shows the outcome in `feedback` (after
// the reload, so nothing typed once the outcome shows is lost to it).
async function act(feedback, work, done) {
  try {
    await work();
    await route({ keepFeedback: feedback });
    replace(feedback, message("success", done));
  } catch (error) {
    replace(feedback, message("error", describe(error)));
  }
}

// ---------------------------------------------------------------- login
function loginView() {
  const feedback = h("div", { "aria-live": "assertive" });
  const form = h("form", { class: "stack narrow", id: "console-login", onsubmit: async (submitted) => {
    submitted.preventDefault();
    const values = formValues(form);
    try {
      user = await logIn(values.email, values.password);
      if (user.role === "user") replace(feedback, message("error", "The console is for managers and admins."));
      else route();
    } catch (error) {
      replace(feedback, message("error", error.status === 401 ? "Wrong email or password." : describe(error)));
    }
  } },
  field("Email", "input", { name: "email", type: "email", autocomplete: "username", required: true }),
  field("Password", "input", { name: "password", type: "password", autocomplete: "current-password", required: true }),
  h("button", { type: "submit" }, "Log in"));
  replace(main, h("h1", {}, "Console: log in"), form, feedback);
}

// ---------------------------------------------------------------- venues
async function venuesView(feedback) {
  const page = await get("/api/v1/venues?size=100");
  const form = h("form", { class: "stack", id: "venue-form", onsubmit: (submitted) => {
    submitted.preventDefault();
    const values = formValues(form);
    act(feedback, () => post("/api/v1/venues", { name: values.name, capacity: Number(values.capacity), address: values.address },
      { idempotencyKey: newIdempotencyKey() }), `Venue “${values.name}” created.`);
  } },
  h("h2", {}, "New venue"),
  field("Venue name", "input", { name: "name", required: true, maxlength: 200 }),
  field("Capacity", "input", { name: "capacity", type: "number", min: 1, required: true }),
  field("Address", "input", { name: "address", required: true, maxlength: 500 }),
  h("button", { type: "submit" }, "Create venue"));
  const rows = page.items.map((venue) => {
    const edit = h("form", { class: "row-form", onsubmit: (submitted) => {
      submitted.preventDefault();
      const values = formValues(edit);
      act(feedback, () => put(`/api/v1/venues/${venue.id}`, { name: values.name, capacity: Number(values.capacity), address: values.address }), "Venue updated.");
    } },
    field(`Name of ${venue.name}`, "input", { name: "name", value: venue.name, required: true }),
    field(`Capacity of ${venue.name}`, "input", { name: "capacity", type: "number", value: venue.capacity, min: 1, required: true }),
    field(`Address of ${venue.name}`, "input", { name: "address", value: venue.address, required: true }),
    h("button", { type: "submit", class: "secondary" }, "Save"));
    return h("tr", {}, h("td", {}, venue.name), h("td", { class: "number" }, String(venue.capacity)), h("td", {}, venue.address),
      h("td", {}, h("details", {}, h("summary", {}, `Edit ${venue.name}`), edit)));
  });
  replace(main, h("h1", {}, "Venues"), feedback, form,
    table(`${page.total} venue(s)`, ["Name", { label: "Capacity", number: true }, "Address", "Edit"], rows));
}

// ---------------------------------------------------------------- events
function ticketTypeFields(index) {
  return h("fieldset", { class: "row-form" },
    h("legend", {}, `Ticket type ${index + 1}`),
    field("Name", "input", { name: `tt_name_${index}`, required: index === 0, maxlength: 200 }),
    field("Price", "input", { name: `tt_price_${index}`, inputmode: "decimal", pattern: "\\d+(\\.\\d{1,2})?", required: index === 0, placeholder: "49.50" }),
    field("Currency", "input", { name: `tt_currency_${index}`, value: "EUR", maxlength: 3, required: index === 0 }),
    field("Quantity", "input", { name: `tt_quantity_${index}`, type: "number", min: 1, required: index === 0 }));
}

function eventActions(event, feedback) {
  const id = event.id;
  const actions = [];
  if (event.status === "draft") {
    actions.push(h("button", { type: "button", onclick: () => act(feedback, () => post(`/api/v1/events/${id}/publish`, undefined, { idempotencyKey: newIdempotencyKey() }), `“${event.name}” is on sale.`) }, `Publish ${event.name}`));
  }
  if (event.status !== "cancelled") {
    const edit = h("form", { class: "row-form", onsubmit: (submitted) => {
      submitted.preventDefault();
      const values = formValues(edit);
      act(feedback, () => put(`/api/v1/events/${id}`, { name: values.name, description: values.description }), "Event details saved.");
    } },
    field("Name", "input", { name: "name", value: event.name, required: true }),
    field("Description", "input", { name: "description", value: event.description ?? "" }),
    h("button", { type: "submit", class: "secondary" }, "Save details"));
    const reschedule = h("form", { class: "row-form", onsubmit: (submitted) => {
      submitted.preventDefault();
      act(feedback, () => post(`/api/v1/events/${id}/reschedule`, { starts_at: localInputToIso(formValues(reschedule).starts_at) }, { idempotencyKey: newIdempotencyKey() }), "Event rescheduled.");
    } },
    field("New start (UTC)", "input", { name: "starts_at", type: "datetime-local", required: true }),
    h("button", { type: "submit", class: "secondary" }, "Reschedule"));
    const addType = h("form", { class: "row-form", onsubmit: (submitted) => {
      submitted.preventDefault();
      const values = formValues(addType);
      act(feedback, () => post(`/api/v1/events/${id}/ticket-types`, { name: values.tt_name_0, price: values.tt_price_0, currency: values.tt_currency_0, quantity: Number(values.tt_quantity_0) }, { idempotencyKey: newIdempotencyKey() }), "Ticket type added.");
    } }, ticketTypeFields(0), h("button", { type: "submit", class: "secondary" }, "Add ticket type"));
    actions.push(h("details", {}, h("summary", {}, `Change ${event.name}`), edit, reschedule, addType));
    if (isAdmin()) {
      actions.push(h("button", { type: "button", class: "danger", onclick: () => {
        if (confirm(`Cancel “${event.name}”? Its bookings are cancelled and refunded, and their tickets released.`)) {
          act(feedback, () => post(`/api/v1/events/${id}/cancel`, {}, { idempotencyKey: newIdempotencyKey() }), "Event cancelled.");
        }
      } }, `Cancel ${event.name}`));
    }
  }
  actions.push(h("a", { href: `#/on-sale/${id}` }, `On-sale settings of ${event.name}`));
  actions.push(h("a", { href: `#/ticket-types/${id}` }, `Ticket types and waitlist of ${event.name}`));
  actions.push(h("a", { href: `#/sale/${id}` }, `Live sale of ${event.name}`));
  actions.push(h("a", { href: `#/check-in/${id}` }, `Check-in of ${event.name}`));
  return h("div", { class: "actions" }, actions);
}

async function eventsView(feedback) {
  const [events, venues] = await Promise.all([get("/api/v1/events?size=50&sort=-starts_at"), get("/api/v1/venues?size=100")]);
  const types = [0, 1, 2].map(ticketTypeFields);
  const form = h("form", { class: "stack", id: "event-form", onsubmit: (submitted) => {
    submitted.preventDefault();
    const values = formValues(form);
    const ticketTypes = [0, 1, 2].filter((index) => values[`tt_name_${index}`]).map((index) => ({
      name: values[`tt_name_${index}`],
      price: values[`tt_price_${index}`],
      currency: values[`tt_currency_${index}`] || "EUR",
      quantity: Number(values[`tt_quantity_${index}`]),
    }));
    act(feedback, () => post("/api/v1/events", {
      venue_id: values.venue_id, name: values.name, description: values.description,
      starts_at: localInputToIso(values.starts_at), ticket_types: ticketTypes,
    }, { idempotencyKey: newIdempotencyKey() }), `Event “${values.name}” created as a draft: publish it to start the sale.`);
  } },
  h("h2", {}, "New event"),
  field("Venue", "select", { name: "venue_id", required: true }, venues.items.map((venue) => ({ value: venue.id, label: venue.name }))),
  field("Event name", "input", { name: "name", required: true, maxlength: 200 }),
  field("Description", "textarea", { name: "description", rows: 2 }),
  field("Starts at (UTC)", "input", { name: "starts_at", type: "datetime-local", required: true }),
  types,
  h("button", { type: "submit" }, "Create event"));
  const rows = events.items.map((event) => h("tr", { dataset: { eventId: event.id } },
    h("td", {}, event.name),
    h("td", {}, dateTime(event.starts_at)),
    h("td", {}, h("span", { class: `badge ${event.status === "published" ? "ok" : event.status === "cancelled" ? "bad" : "warn"}` }, event.status)),
    h("td", {}, event.venue_name ?? ""),
    h("td", { class: "number" }, String(event.tickets_sold ?? 0)),
    h("td", {}, eventActions(event, feedback))));
  replace(main, h("h1", {}, "Events"), feedback,
    venues.items.length ? form : message("info", "Create a venue first."),
    table(`${events.total} event(s), latest first`, ["Event", "Starts", "Status", "Venue", { label: "Tickets sold", number: true }, "Actions"], rows));
}

// ---------------------------------------------------------------- on-sale settings
const nullableNumber = (value) => (value === "" || value === undefined ? null : Number(value));

// The three sale terms of an event or a ticket type; empty fields clear a bound or the limit.
// An event's form also sets its hold and waitlist offer windows (`windows`).
function saleTermsForm(id, legend, terms, save, { windows = false } = {}) {
  const form = h("form", { class: "row-form", id, onsubmit: (submitted) => {
    submitted.preventDefault();
    const values = formValues(form);
    save({
      sale_starts_at: values.sale_starts_at ? localInputToIso(values.sale_starts_at) : null,
      sale_ends_at: values.sale_ends_at ? localInputToIso(values.sale_ends_at) : null,
      max_tickets_per_account: nullableNumber(values.max_tickets_per_account),
      ...(windows ? {
        hold_minutes: nullableNumber(values.hold_minutes),
        waitlist_offer_minutes: nullableNumber(values.waitlist_offer_minutes),
      } : {}),
    });
  } },
  h("fieldset", { class: "row-form" }, h("legend", {}, legend),
    field("Sale starts (UTC)", "input", { name: "sale_starts_at", type: "datetime-local", value: isoToLocalInput(terms?.sale_starts_at) }),
    field("Sale ends (UTC)", "input", { name: "sale_ends_at", type: "datetime-local", value: isoToLocalInput(terms?.sale_ends_at) }),
    field("Most tickets per person", "input", { name: "max_tickets_per_account", type: "number", min: 1, value: terms?.max_tickets_per_account ?? "" }),
    windows ? field("Minutes a booking's tickets are held for payment", "input", { name: "hold_minutes", type: "number", min: 1, max: 10080,
      value: terms?.hold_minutes ?? "", hint: "Empty: the platform's default." }) : null,
    windows ? field("Minutes a waitlist offer holds its tickets", "input", { name: "waitlist_offer_minutes", type: "number", min: 1, max: 10080,
      value: terms?.waitlist_offer_minutes ?? "", hint: "Empty: the platform's default." }) : null,
    h("button", { type: "submit", class: "secondary" }, `Save ${legend.toLowerCase()}`)));
  return form;
}

function roomForm(eventId, room, feedback) {
  const form = h("form", { class: "row-form", id: "waiting-room-form", onsubmit: (submitted) => {
    submitted.preventDefault();
    const values = formValues(form);
    act(feedback, () => put(`/api/v1/events/${eventId}/waiting-room`, {
      opens_at: values.opens_at ? localInputToIso(values.opens_at) : null,
      admission_per_minute: Number(values.admission_per_minute),
      max_admitted_at_once: Number(values.max_admitted_at_once),
      session_minutes: Number(values.session_minutes),
      booking_attempts_per_pass: Number(values.booking_attempts_per_pass),
    }), room ? "Waiting room settings saved." : "Waiting room is on: fans queue before they book.");
  } },
  field("Queue opens (UTC)", "input", { name: "opens_at", type: "datetime-local", value: isoToLocalInput(room?.opens_at),
    hint: "Empty: at once. Fans who join before the sale starts are put in a random order at the start." }),
  field("Fans let in per minute", "input", { name: "admission_per_minute", type: "number", min: 1, required: true, value: room?.admission_per_minute ?? 600 }),
  field("Most fans booking at once", "input", { name: "max_admitted_at_once", type: "number", min: 1, required: true, value: room?.max_admitted_at_once ?? 500 }),
  field("Minutes a fan has to book", "input", { name: "session_minutes", type: "number", min: 1, max: 240, required: true, value: room?.session_minutes ?? 10 }),
  field("Booking attempts per turn", "input", { name: "booking_attempts_per_pass", type: "number", min: 1, max: 100, required: true, value: room?.booking_attempts_per_pass ?? 3 }),
  h("button", { type: "submit" }, room ? "Save waiting room" : "Turn on waiting room"));
  return form;
}

async function readRoom(eventId) {
  try {
    return await get(`/api/v1/events/${eventId}/waiting-room`);
  } catch (error) {
    if (error.status === 404 && error.body?.error_type === "no_waiting_room") return null;
    throw error;
  }
}

async function onSaleView(eventId, feedback) {
  const [event, room] = await Promise.all([get(`/api/v1/events/${eventId}`), readRoom(eventId)]);
  const saveEvent = (terms) => act(feedback, () => put(`/api/v1/events/${eventId}/sale`, terms, { idempotencyKey: newIdempotencyKey() }),
    "Sale terms of the event saved.");
  const typeForms = (event.ticket_types ?? []).map((type) => saleTermsForm(`sale-${type.ticket_type_id}`, `${type.name} terms`,
    { ...(type.sale_window_override ?? {}), max_tickets_per_account: type.max_tickets_per_account },
    (terms) => act(feedback, () => put(`/api/v1/events/${eventId}/ticket-types/${type.ticket_type_id}/sale`, terms,
      { idempotencyKey: newIdempotencyKey() }), `Sale terms of ${type.name} saved.`)));
  const roomState = room
    ? h("p", { id: "waiting-room-state" }, h("span", { class: `badge ${room.paused ? "warn" : "ok"}` }, room.paused ? "Paused" : "On"),
      ` ${room.waiting} waiting, ${room.admitted_now} booking now, ${room.admitted_total} let in so far.`)
    : h("p", { id: "waiting-room-state" }, h("span", { class: "badge warn" }, "Off"), " Fans book without queueing.");
  const roomActions = room ? h("div", { class: "actions" },
    room.paused
      ? h("button", { type: "button", onclick: () => act(feedback, () => post(`/api/v1/events/${eventId}/waiting-room/resume`), "Entry resumed.") }, "Resume entry")
      : h("button", { type: "button", class: "secondary", onclick: () => act(feedback, () => post(`/api/v1/events/${eventId}/waiting-room/pause`), "Entry paused: fans keep their places.") }, "Pause entry"),
    h("button", { type: "button", class: "danger", onclick: () => {
      if (confirm("Turn the waiting room off? Fans waiting lose their places and anyone may book at once.")) {
        act(feedback, () => del(`/api/v1/events/${eventId}/waiting-room`), "Waiting room is off.");
      }
    } }, "Turn off waiting room")) : null;
  replace(main, h("h1", {}, `On-sale settings: ${event.name}`), feedback,
    h("p", {}, h("a", { href: `#/sale/${eventId}` }, `Live sale of ${event.name}`)),
    h("section", { class: "stack wide", "aria-labelledby": "terms-heading" },
      h("h2", { id: "terms-heading" }, "Sale window and purchase limit"),
      h("p", { class: "hint" }, "Bookings before the start or from the end on are refused; a ticket type's own times replace the event's, "
        + "and both limits apply. Empty fields clear a time or a limit."),
      saleTermsForm("event-sale-form", "Event terms", event, saveEvent, { windows: true }),
      typeForms),
    h("section", { class: "stack wide", "aria-labelledby": "room-heading" },
      h("h2", { id: "room-heading" }, "Waiting room"),
      roomState, roomActions, roomForm(eventId, room, feedback)));
}

// ---------------------------------------------------------------- ticket types and waitlist
// One ticket type's edit form: only the fields changed are sent (PATCH), so a rename never
// touches the quantity inventory decides on.
function ticketTypeEditor(eventId, type, feedback) {
  const path = `/api/v1/events/${eventId}/ticket-types/${type.ticket_type_id}`;
  const form = h("form", { class: "row-form", dataset: { ticketTypeEdit: type.ticket_type_id }, onsubmit: (submitted) => {
    submitted.preventDefault();
    const values = formValues(form);
    const changes = {};
    if (values.name !== type.name) changes.name = values.name;
    if (Number(values.price) !== Number(type.price)) changes.price = values.price;
    if (Number(values.quantity) !== type.quantity) changes.quantity = Number(values.quantity);
    if (!Object.keys(changes).length) {
      replace(feedback, message("info", `Nothing changed in ${type.name}.`));
      return;
    }
    act(feedback, () => patch(path, changes), `${values.name} saved.`);
  } },
  h("fieldset", { class: "row-form" }, h("legend", {}, type.name),
    field(`Name of ${type.name}`, "input", { name: "name", value: type.name, required: true, maxlength: 200 }),
    field(`Price of ${type.name} (${type.currency})`, "input", { name: "price", value: type.price, inputmode: "decimal",
      pattern: "\\d+(\\.\\d{1,2})?", required: true, hint: "For bookings made from now on; earlier bookings keep their price." }),
    field(`Quantity of ${type.name}`, "input", { name: "quantity", type: "number", min: 1, value: type.quantity, required: true,
      hint: "Never below the tickets sold, held and offered. Added tickets go to the waitlist first." }),
    h("button", { type: "submit", class: "secondary" }, `Save ${type.name}`)));
  const closed = Boolean(type.sales_closed);
  const toggle = h("button", { type: "button", class: closed ? null : "secondary", onclick: () => act(feedback,
    () => patch(path, { sales_closed: !closed }), closed ? `Sales of ${type.name} reopened.` : `Sales of ${type.name} closed.`) },
  closed ? `Reopen sales of ${type.name}` : `Close sales of ${type.name}`);
  const remove = h("button", { type: "button", class: "danger", onclick: () => {
    if (confirm(`Remove “${type.name}”? Only a ticket type nothing was sold of can be removed.`)) {
      act(feedback, () => del(path), `${type.name} removed.`);
    }
  } }, `Remove ${type.name}`);
  return h("section", { class: "card", dataset: { ticketType: type.ticket_type_id } },
    h("h3", {}, type.name, " ", closed ? h("span", { class: "badge bad" }, "Sales closed") : h("span", { class: "badge ok" }, "Selling"),
      ` · ${money(type.price, type.currency)} · ${type.quantity} tickets`),
    form, h("div", { class: "actions" }, toggle, remove));
}

function waitlistTable(event, waitlist) {
  const names = new Map((event.ticket_types ?? []).map((type) => [type.ticket_type_id, type.name]));
  const cell = (value) => h("td", { class: "number" }, String(value));
  return table("Waitlist per ticket type", ["Ticket type", { label: "Waiting", number: true }, { label: "Tickets wanted", number: true },
    { label: "Offers open", number: true }, { label: "Tickets offered", number: true }, { label: "Accepted", number: true },
    { label: "Expired or declined", number: true }],
  waitlist.ticket_types.map((type) => h("tr", { dataset: { waitlistTicketType: names.get(type.ticket_type_id) ?? type.ticket_type_id } },
    h("td", {}, names.get(type.ticket_type_id) ?? type.ticket_type_id),
    cell(type.waiting), cell(type.tickets_wanted), cell(type.offers_open), cell(type.tickets_offered), cell(type.accepted),
    cell(type.expired_or_declined))));
}

async function ticketTypesView(eventId, feedback) {
  const event = await get(`/api/v1/events/${eventId}`);
  const waitlist = h("section", { id: "waitlist", "aria-live": "polite" });
  replace(main, h("h1", {}, `Ticket types: ${event.name}`), feedback,
    h("p", {}, h("a", { href: `#/on-sale/${eventId}` }, `On-sale settings of ${event.name}`), " (hold and offer windows)"),
    h("section", { class: "stack wide", "aria-labelledby": "types-heading" },
      h("h2", { id: "types-heading" }, "Edit ticket types"),
      (event.ticket_types ?? []).map((type) => ticketTypeEditor(eventId, type, feedback))),
    h("h2", {}, "Waitlist"),
    h("p", { class: "hint" }, "Tickets that come back go to each type's waitlist first, in the order fans joined."),
    waitlist);
  stopView = every(3000, async () => {
    if (document.hidden) return;
    try {
      replace(waitlist, waitlistTable(event, await get(`/api/v1/events/${eventId}/waitlist`)),
        h("p", { class: "hint" }, `Updated ${new Date().toLocaleTimeString("en-GB")}.`));
    } catch (error) {
      replace(waitlist, message("error", describe(error)));
    }
  });
}

// ---------------------------------------------------------------- live sale
function tile(label, value, id) {
  return h("div", { class: "tile" }, h("div", { class: "value", id }, value), h("div", { class: "label" }, label));
}

const HISTORY_SAMPLES = 120;
const SAMPLE_MS = 1000;
const count = (value) => (Number.isInteger(value) ? String(value) : value.toFixed(1));

// What an operator watches over time, from the samples of the last two minutes.
function saleCharts(history) {
  const spanMs = HISTORY_SAMPLES * SAMPLE_MS;
  return h("div", { class: "charts" },
    lineChart({ id: "chart-bookings", title: "Bookings per second", points: ratesPerSecond(history, "bookings"), format: count, spanMs }),
    lineChart({ id: "chart-waiting", title: "Fans waiting", points: series(history, "waiting"), format: count, spanMs }),
    lineChart({ id: "chart-admission", title: "Admission rate (fans per minute)", points: series(history, "admissionRate"), format: count, spanMs }),
    lineChart({ id: "chart-tickets-left", title: "Tickets left", points: series(history, "ticketsLeft"), format: count, spanMs }));
}

function roomTiles(room) {
  if (!room) return h("p", { class: "hint" }, "No waiting room: fans book without queueing.");
  return h("div", { class: "tiles" },
    tile("Fans waiting", String(room.waiting), "room-waiting"),
    tile("Booking now (let in)", String(room.admitted_now), "room-admitted-now"),
    tile("Let in so far", String(room.admitted_total), "room-admitted-total"),
    tile("Admission rate per minute", `${count(room.effective_admission_per_minute)} of ${room.admission_per_minute}`, "room-rate"),
    tile("Time to clear the queue", room.paused ? "Paused" : waitText(room.estimated_seconds_to_clear) ?? "–", "room-clear"));
}

async function saleView(eventId) {
  const body = h("div", { "aria-live": "polite", "aria-busy": "false" });
  const charts = h("section", { "aria-labelledby": "charts-heading" });
  const room = h("section", { "aria-labelledby": "room-heading" });
  replace(main, h("h1", {}, "Live sale"), body,
    h("h2", { id: "room-heading" }, "Waiting room"), room,
    h("h2", { id: "charts-heading" }, "Over the last two minutes"), charts);
  let samples = [];
  let history = [];
  stopView = every(SAMPLE_MS, async () => {
    let sale;
    let waiting;
    try {
      [sale, waiting] = await Promise.all([get(`/api/v1/admin/events/${eventId}/sale`), readRoom(eventId).catch(() => undefined)]);
    } catch (error) {
      replace(body, message("error", describe(error)));
      return;
    }
    samples = keepRecent(samples, { at: Date.now(), confirmed: sale.bookings.CONFIRMED });
    const rate = ratePerSecond(samples);
    const summary = saleSummary(sale);
    const rejected = sale.bookings.REJECTED;
    history = appendBounded(history, {
      at: Date.now(),
      bookings: Object.values(sale.bookings).reduce((sum, value) => sum + value, 0),
      waiting: waiting?.waiting ?? null,
      admissionRate: waiting ? (waiting.paused ? 0 : waiting.effective_admission_per_minute) : null,
      ticketsLeft: sale.ticket_types.reduce((sum, type) => sum + Math.max(0, type.available), 0),
    }, HISTORY_SAMPLES);
    if (waiting !== undefined) replace(room, roomTiles(waiting));
    replace(charts, saleCharts(history));
    replace(body,
      h("h2", {}, sale.name, " ", sale.sold_out ? h("span", { class: "badge bad", id: "sold-out" }, "Sold out") : h("span", { class: "badge ok" }, "On sale")),
      h("div", { class: "tiles" },
        tile("Tickets sold", `${summary.sold} / ${summary.quantity}`, "tickets-sold"),
        tile("Tickets reserved", String(summary.reserved), "tickets-reserved"),
        tile("Confirmed bookings", String(sale.bookings.CONFIRMED), "bookings-confirmed"),
        tile("Confirmed per second", rate === null ? "…" : rate.toFixed(1), "confirmed-rate"),
        tile("Rejected bookings", String(rejected), "bookings-rejected"),
        tile("Pending bookings", String(sale.bookings.PENDING), "bookings-pending")),
      table("Per ticket type", ["Ticket type", { label: "Quantity", number: true }, { label: "Sold", number: true },
        { label: "Reserved", number: true }, { label: "Available", number: true }, "State"],
      sale.ticket_types.map((type) => h("tr", { dataset: { ticketType: type.name } },
        h("td", {}, type.name),
        h("td", { class: "number" }, String(type.quantity)),
        h("td", { class: "number" }, String(type.sold)),
        h("td", { class: "number" }, String(type.reserved)),
        h("td", { class: "number" }, String(type.available)),
        h("td", {}, type.sold_out ? h("span", { class: "badge bad" }, "Sold out") : h("span", { class: "badge ok" }, "On sale"))))),
      h("p", { class: "hint" }, `Updated ${new Date(sale.observed_at).toLocaleTimeString("en-GB")}; bookings also cancelled: ${sale.bookings.CANCELLED}, expired: ${sale.bookings.EXPIRED}.`));
  });
}

// ---------------------------------------------------------------- check-in at the door
const CHECK_IN_POLL_MS = 2000;

function checkInProgress(progress) {
  const share = (part, whole) => (whole ? `${Math.round((100 * part) / whole)}%` : "–");
  return [
    h("div", { class: "tiles" },
      tile("Checked in", `${progress.checked_in} / ${progress.issued}`, "checked-in"),
      tile("Share checked in", share(progress.checked_in, progress.issued), "checked-in-share")),
    table("Per ticket type", ["Ticket type", { label: "Issued", number: true }, { label: "Checked in", number: true },
      { label: "Voided", number: true }, "Progress"],
    progress.ticket_types.map((type) => h("tr", { dataset: { ticketType: type.name } },
      h("td", {}, type.name),
      h("td", { class: "number" }, String(type.issued)),
      h("td", { class: "number" }, String(type.checked_in)),
      h("td", { class: "number" }, String(type.voided)),
      h("td", {}, h("progress", { class: "check-ins", max: Math.max(type.issued, 1), value: type.checked_in,
        "aria-label": `${type.name}: ${type.checked_in} of ${type.issued} checked in` }))))),
  ];
}

function doorStaffSection(eventId, staff, feedback) {
  const path = (userId) => `/api/v1/events/${eventId}/door-staff/${encodeURIComponent(userId)}`;
  const form = h("form", { class: "row-form", id: "door-staff-form", onsubmit: (submitted) => {
    submitted.preventDefault();
    const userId = formValues(form).user_id.trim();
    act(feedback, () => put(path(userId)), `${userId} can now check tickets in at this event.`);
  } },
  field("Account id", "input", { name: "user_id", required: true, maxlength: 128, pattern: "[A-Za-z0-9._:@\\-]+",
    hint: "The id of any account: it may scan tickets at this event only." }),
  h("button", { type: "submit" }, "Add to door staff"));
  return h("section", { "aria-labelledby": "door-staff-heading" },
    h("h2", { id: "door-staff-heading" }, "Door staff"),
    staff.user_ids.length
      ? h("ul", { id: "door-staff" }, staff.user_ids.map((userId) => h("li", { dataset: { userId } }, h("code", {}, userId), " ",
        h("button", { type: "button", class: "secondary", onclick: () => act(feedback, () => del(path(userId)), `${userId} removed from the door staff.`) },
          `Remove ${userId}`))))
      : message("info", "Nobody is door staff of this event yet (managers and admins can always scan)."),
    form);
}

async function checkInView(eventId, feedback) {
  const staff = await get(`/api/v1/events/${eventId}/door-staff`);
  const progress = h("section", { id: "check-in-progress", "aria-live": "polite" });
  replace(main, h("h1", {}, "Check-in"), feedback, progress,
    h("p", {}, h("a", { href: `/scanner#/event/${eventId}` }, "Open the door scanner for this event")),
    doorStaffSection(eventId, staff, feedback));
  stopView = every(CHECK_IN_POLL_MS, async () => {
    if (document.hidden) return;
    try {
      const latest = await get(`/api/v1/events/${eventId}/check-in-progress`);
      replace(progress, h("h2", {}, latest.event_name), checkInProgress(latest),
        h("p", { class: "hint" }, `Updated ${new Date().toLocaleTimeString("en-GB")}.`));
    } catch (error) {
      replace(progress, message("error", describe(error)));
    }
  });
}

// ---------------------------------------------------------------- health and dead letters
async function healthView() {
  const body = h("div", { "aria-live": "polite" });
  replace(main, h("h1", {}, "Platform health"), body);
  stopView = every(3000, async () => {
    const health = await get("/api/v1/admin/health");
    const rows = health.services.map((service) => h("tr", { dataset: { service: service.name } },
      h("th", { scope: "row" }, service.name),
      h("td", {}, h("span", { class: `badge ${service.ready ? "ok" : "bad"}` }, service.ready ? "Ready" : "Not ready"),
        service.error ? h("p", { class: "hint" }, service.error) : null),
      h("td", {}, Object.entries(service.checks ?? {}).map(([name, check]) =>
        h("div", {}, `${name}: ${check.status}${check.error ? ` (${check.error})` : ""}`))),
      h("td", { class: "number" }, service.consumer_lag ?? "–"),
      h("td", { class: "number" }, service.outbox_pending ?? "–"),
      h("td", { class: "number" }, service.projection_lag_seconds_mean == null ? "–" : `${(service.projection_lag_seconds_mean * 1000).toFixed(0)} ms`),
      h("td", {}, Object.entries(service.breakers ?? {}).map(([name, state]) =>
        h("div", {}, h("span", { class: `badge ${state === "closed" ? "ok" : state === "open" ? "bad" : "warn"}` }, state), ` ${name}`)))));
    replace(body,
      message(health.all_ready ? "success" : "error", health.all_ready ? "Every service is ready." : "Some services are not ready."),
      table(`Checked ${dateTime(health.checked_at)}`, ["Service", "Readiness", "Checks", { label: "Consumer lag (messages)", number: true },
        { label: "Outbox backlog", number: true }, { label: "Projection lag (mean)", number: true }, "Circuit breakers"], rows));
  });
}

async function deadLettersView(feedback) {
  const services = await get("/api/v1/admin/dead-letters");
  const sections = services.map((service) => {
    const rows = service.dead_letters.map((letter) => h("tr", { dataset: { deadLetter: letter.dead_letter } },
      h("td", {}, h("code", {}, letter.dead_letter)),
      h("td", {}, h("code", {}, letter.original)),
      h("td", {}, letter.error),
      h("td", {}, h("details", {}, h("summary", {}, "Message"), h("pre", {}, letter.value))),
      h("td", {}, letter.redriven ? h("span", { class: "badge ok" }, "Re-driven") : h("span", { class: "badge warn" }, "Pending")),
      h("td", {}, letter.redriven ? null : h("button", { type: "button", class: "secondary", onclick: () => act(feedback,
        () => post(`/api/v1/admin/dead-letters/${service.service}/redrive`, { dead_letter: letter.dead_letter }),
        `Re-drove dead letter ${letter.dead_letter} of ${service.service}.`) }, `Re-drive ${letter.dead_letter} of ${service.service}`))));
    return h("section", { dataset: { service: service.service } },
      h("h2", {}, `${service.service}: ${service.pending} pending`),
      service.error ? message("error", `Could not read its dead letters: ${service.error}`) : null,
      rows.length ? table(`Dead letters of ${service.consumer_group}`, ["Dead letter", "From", "Error", "Message", "State", "Action"], rows)
        : message("info", "No dead letters."));
  });
  replace(main, h("h1", {}, "Dead letters"), feedback, sections);
}

// ---------------------------------------------------------------- routing
async function route(options = {}) {
  stopView();
  stopView = () => {};
  renderNav();
  if (!user || user.role === "user") {
    loginView();
    return;
  }
  const feedback = options.keepFeedback ?? h("div", { id: "feedback", "aria-live": "polite" });
  const parts = (location.hash.slice(1) || "/events").split("/").filter(Boolean);
  try {
    if (parts[0] === "venues") await venuesView(feedback);
    else if (parts[0] === "sale" && parts[1]) await saleView(parts[1]);
    else if (parts[0] === "on-sale" && parts[1]) await onSaleView(parts[1], feedback);
    else if (parts[0] === "ticket-types" && parts[1]) await ticketTypesView(parts[1], feedback);
    else if (parts[0] === "check-in" && parts[1]) await checkInView(parts[1], feedback);
    else if ((parts[0] === "health" || parts[0] === "dead-letters") && !isAdmin()) {
      replace(main, h("h1", {}, "Admins only"), message("info", "Platform health and dead letters are for admins."));
    } else if (parts[0] === "health") await healthView();
    else if (parts[0] === "dead-letters") await deadLettersView(feedback);
    else await eventsView(feedback);
  } catch (error) {
    replace(main, h("h1", {}, "Console"), message("error", describe(error)));
  }
  if (!options.keepFeedback) focusHeading(main);
}

async function start() {
  user = await currentUser().catch(() => null);
  window.addEventListener("hashchange", () => route());
  await route();
}

start();
