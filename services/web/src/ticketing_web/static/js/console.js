import { ApiError, currentUser, get, logIn, logOut, newIdempotencyKey, post, put } from "./api.js";
import { field, focusHeading, formValues, h, message, replace } from "./dom.js";
import { dateTime, keepRecent, localInputToIso, ratePerSecond, saleSummary } from "./format.js";

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

// Runs a write, shows its outcome in `feedback`, and reloads the view when it worked.
async function act(feedback, work, done) {
  try {
    await work();
    replace(feedback, message("success", done));
    await route({ keepFeedback: feedback });
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
  actions.push(h("a", { href: `#/sale/${id}` }, `Live sale of ${event.name}`));
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

// ---------------------------------------------------------------- live sale
function tile(label, value, id) {
  return h("div", { class: "tile" }, h("div", { class: "value", id }, value), h("div", { class: "label" }, label));
}

async function saleView(eventId) {
  const body = h("div", { "aria-live": "polite", "aria-busy": "false" });
  replace(main, h("h1", {}, "Live sale"), body);
  let samples = [];
  stopView = every(1000, async () => {
    let sale;
    try {
      sale = await get(`/api/v1/admin/events/${eventId}/sale`);
    } catch (error) {
      replace(body, message("error", describe(error)));
      return;
    }
    samples = keepRecent(samples, { at: Date.now(), confirmed: sale.bookings.CONFIRMED });
    const rate = ratePerSecond(samples);
    const summary = saleSummary(sale);
    const rejected = sale.bookings.REJECTED;
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
