// The door scanner: for phones of an event's door staff. Online, each scan asks entry
// (through the gateway); offline (no network, or the gateway cannot answer) it decides from
// the downloaded scanner data (the event's public key and ticket list), queues what it
// admitted and syncs the queue when the network is back, listing the conflicts.
import { ApiError, currentUser, get, logIn, logOut, post } from "./api.js";
import { field, formValues, h, message, replace } from "./dom.js";
import {
  answerText, batches, decideOffline, importPublicKey, offlineScan, readScan, scanCode, signatureHolds,
} from "./tickets.js";

const main = document.getElementById("main");
const nav = document.getElementById("scanner-nav");
const describe = (error) => (error instanceof ApiError ? error.message : String(error));
const DEFAULT_ENTRANCE = "Main entrance";

// What the scanner keeps per event in localStorage, so a reload offline loses nothing.
const saved = {
  read(key, fallback) {
    try {
      return JSON.parse(localStorage.getItem(key)) ?? fallback;
    } catch {
      return fallback;
    }
  },
  write(key, value) {
    localStorage.setItem(key, JSON.stringify(value));
  },
};
const keyFor = (eventId, what) => `scanner:${eventId}:${what}`;

function renderNav(user) {
  replace(nav,
    h("a", { href: "/" }, "Shop"),
    user ? h("span", { class: "who" }, user.name) : null,
    user ? h("button", { type: "button", class: "link", onclick: async () => {
      await logOut().catch(() => {});
      location.hash = "";
      location.reload();
    } }, "Log out") : null);
}

function loginView() {
  const feedback = h("div", { "aria-live": "assertive" });
  const form = h("form", { class: "stack narrow", id: "scanner-login", onsubmit: async (submitted) => {
    submitted.preventDefault();
    const values = formValues(form);
    try {
      renderNav(await logIn(values.email, values.password));
      await route();
    } catch (error) {
      replace(feedback, message("error", error.status === 401 ? "Wrong email or password." : describe(error)));
    }
  } },
  field("Email", "input", { name: "email", type: "email", autocomplete: "username", required: true }),
  field("Password", "input", { name: "password", type: "password", autocomplete: "current-password", required: true }),
  h("button", { type: "submit" }, "Log in"));
  replace(main, h("h1", {}, "Door scanner: log in"), form, feedback);
}

async function pickEventView() {
  const feedback = h("div", { "aria-live": "assertive" });
  const events = h("datalist", { id: "scanner-events" });
  const form = h("form", { class: "stack narrow", id: "scanner-event", onsubmit: async (submitted) => {
    submitted.preventDefault();
    const eventId = formValues(form).event_id.trim().toLowerCase();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    replace(feedback, message("info", "Downloading the event's tickets…"));
    try {
      await download(eventId);
      location.hash = `#/event/${eventId}`;
    } catch (error) {
      replace(feedback, message("error", describe(error)));
      button.disabled = false;
    }
  } },
  field("Event id", "input", { name: "event_id", required: true, list: "scanner-events", autocomplete: "off",
    hint: "Pick an event or paste its id: you can scan at events you are door staff of." }),
  events,
  h("button", { type: "submit" }, "Download and start scanning"));
  replace(main, h("h1", {}, "Door scanner"), form, feedback);
  const page = await get("/api/v1/events?status=published&sort=starts_at&size=50").catch(() => null);
  replace(events, (page?.items ?? []).map((event) => h("option", { value: event.id }, event.name)));
}

async function download(eventId) {
  const data = await get(`/api/v1/events/${encodeURIComponent(eventId)}/scanner-data`);
  await importPublicKey(data.public_key); // refuse a key this browser cannot use before relying on it
  saved.write(keyFor(eventId, "data"), data);
  return data;
}

function scannerView(eventId) {
  let data = saved.read(keyFor(eventId, "data"), null);
  if (!data) {
    location.hash = "";
    return () => {};
  }
  let tickets = new Map(data.tickets.map((ticket) => [ticket.code, ticket]));
  let key = importPublicKey(data.public_key);
  const admitted = new Set(saved.read(keyFor(eventId, "admitted"), []));
  let queue = saved.read(keyFor(eventId, "queue"), []);
  let conflicts = saved.read(keyFor(eventId, "conflicts"), []);
  let syncing = false;
  const save = () => {
    saved.write(keyFor(eventId, "admitted"), [...admitted]);
    saved.write(keyFor(eventId, "queue"), queue);
    saved.write(keyFor(eventId, "conflicts"), conflicts);
  };

  const connection = h("span", { id: "connection", class: "badge" });
  const queueLength = h("strong", { id: "queue-length" });
  const downloaded = h("span", { id: "data-age" });
  const result = h("section", { id: "scan-result", class: "scan-result", "aria-live": "assertive", "aria-atomic": "true" });
  const feedback = h("div", { id: "scanner-feedback", "aria-live": "polite" });
  const conflictList = h("div", { id: "conflicts" });
  const entrance = h("input", { id: "entrance", name: "entrance", required: true, maxlength: 40,
    value: saved.read("scanner:entrance", DEFAULT_ENTRANCE), onchange: () => saved.write("scanner:entrance", entrance.value.trim()) });
  const input = h("input", { id: "scan-input", name: "scan", autocomplete: "off", autocapitalize: "characters", spellcheck: "false",
    placeholder: "Type a code or scan a QR code", required: true });
  const form = h("form", { class: "scan-form", id: "scan-form", onsubmit: async (submitted) => {
    submitted.preventDefault();
    const text = input.value;
    input.value = "";
    input.focus();
    await scan(text);
  } },
  h("div", { class: "field" }, h("label", { for: "entrance" }, "Entrance"), entrance),
  h("div", { class: "field" }, h("label", { for: "scan-input" }, "Ticket code or QR payload"), input),
  h("button", { type: "submit" }, "Check in"));

  const renderStatus = () => {
    const online = navigator.onLine;
    connection.textContent = online ? "Online" : "Offline";
    connection.className = `badge ${online ? "online" : "offline"}`;
    queueLength.textContent = String(queue.length);
    downloaded.textContent = new Date(data.generated_at).toLocaleTimeString("en-GB");
  };
  const renderConflicts = () => {
    replace(conflictList, conflicts.length ? [
      h("h2", {}, `Conflicts (${conflicts.length})`),
      h("p", { class: "hint" }, "Admitted offline, but the server says otherwise:"),
      h("ul", { class: "conflicts" }, conflicts.map((conflict) => {
        const said = answerText(conflict.answer);
        return h("li", { dataset: { code: conflict.code } },
          h("strong", {}, conflict.holder_name ?? "Unknown holder"), ` · ${conflict.code} · server said: ${said.title}`,
          said.detail ? ` (${said.detail})` : "");
      })),
      h("button", { type: "button", class: "secondary", onclick: () => { conflicts = []; save(); renderConflicts(); } }, "Clear conflicts"),
    ] : []);
  };
  const show = (answer, offline) => {
    const text = answerText(answer);
    result.className = `scan-result result-${answer.result.replaceAll("_", "-")}`;
    result.dataset.result = answer.result;
    replace(result, h("p", { class: "scan-title" }, text.title), text.detail ? h("p", { class: "scan-detail" }, text.detail) : null,
      offline ? h("p", { class: "scan-mode" }, "Decided offline: it is checked with the server when you sync.") : null);
  };

  const decideHere = async (scanned) => {
    const signatureValid = scanned.parsed ? await signatureHolds(await key, scanned.parsed) : false;
    const answer = decideOffline({ scan: scanned, eventId, signatureValid, tickets, admitted });
    if (answer.result === "admitted") {
      const code = scanCode(scanned);
      admitted.add(code);
      queue.push({ scan: offlineScan(scanned, new Date().toISOString(), crypto.randomUUID()),
        entrance: entrance.value.trim() || DEFAULT_ENTRANCE, code, holder_name: answer.holder_name ?? null });
      save();
      renderStatus();
    }
    show(answer, true);
  };

  const scan = async (text) => {
    const scanned = readScan(text);
    if (!scanned || (scanned.qrPayload !== undefined && !scanned.parsed)) {
      show({ result: "not_a_ticket" }, false);
      return;
    }
    replace(feedback);
    if (navigator.onLine) {
      const body = scanned.parsed ? { qr_payload: scanned.qrPayload } : { code: scanned.code };
      try {
        const answer = await post(`/api/v1/events/${eventId}/check-ins`, { ...body, entrance: entrance.value.trim() || DEFAULT_ENTRANCE });
        if (answer.result === "admitted") {
          admitted.add(scanCode(scanned));
          save();
        }
        show(answer, false);
        return;
      } catch (error) {
        // No answer, or entry cannot answer now: the door keeps working from the downloaded data.
        if (!(error.network || error.status === 503)) {
          replace(feedback, message("error", describe(error)));
          return;
        }
      }
    }
    await decideHere(scanned);
  };

  const sync = async () => {
    if (syncing || !navigator.onLine) {
      renderStatus();
      return;
    }
    syncing = true;
    try {
      const byEntrance = Map.groupBy(queue, (item) => item.entrance);
      for (const [door, items] of byEntrance) {
        for (const batch of batches(items)) {
          const answer = await post(`/api/v1/events/${eventId}/check-ins/sync`, { entrance: door, scans: batch.map((item) => item.scan) });
          const byId = new Map(batch.map((item) => [item.scan.scan_id, item]));
          for (const synced of answer.results) {
            const item = byId.get(synced.scan_id);
            if (synced.conflict && item) {
              conflicts.push({ code: item.code, holder_name: synced.answer.holder_name ?? item.holder_name, answer: synced.answer });
            }
          }
          const done = new Set(answer.results.map((synced) => synced.scan_id));
          queue = queue.filter((item) => !done.has(item.scan.scan_id));
          save();
          renderStatus();
        }
      }
      renderConflicts();
      data = await download(eventId);
      tickets = new Map(data.tickets.map((ticket) => [ticket.code, ticket]));
      key = importPublicKey(data.public_key);
      replace(feedback, message("success", "Synced with the server."));
    } catch (error) {
      replace(feedback, message("error", `Sync failed: ${describe(error)}`));
    } finally {
      syncing = false;
      renderStatus();
    }
  };

  const camera = cameraScanner(scan);
  replace(main,
    h("h1", {}, data.event_name),
    h("p", { class: "scanner-status" }, connection, " · Waiting to sync: ", queueLength, " · Tickets downloaded at ", downloaded,
      " ", h("a", { href: "#/" }, "Change event")),
    form,
    camera.controls,
    result,
    feedback,
    h("p", { class: "actions" },
      h("button", { type: "button", id: "sync-now", onclick: sync }, "Sync now"),
      h("button", { type: "button", class: "secondary", onclick: async () => {
        if (!navigator.onLine) return;
        try {
          data = await download(eventId);
          tickets = new Map(data.tickets.map((ticket) => [ticket.code, ticket]));
          key = importPublicKey(data.public_key);
          renderStatus();
        } catch (error) {
          replace(feedback, message("error", describe(error)));
        }
      } }, "Download tickets again")),
    conflictList);
  renderStatus();
  renderConflicts();
  input.focus();
  const online = () => sync();
  window.addEventListener("online", online);
  window.addEventListener("offline", renderStatus);
  if (queue.length) sync();
  return () => {
    window.removeEventListener("online", online);
    window.removeEventListener("offline", renderStatus);
    camera.stop();
  };
}

// Scanning by the camera where the browser can read QR codes itself (BarcodeDetector).
function cameraScanner(onText) {
  if (!("BarcodeDetector" in window)) return { controls: null, stop: () => {} };
  const video = h("video", { class: "camera", playsinline: true, muted: true, hidden: true });
  let stream = null;
  let timer = null;
  let last = { text: "", at: 0 };
  const stop = () => {
    clearTimeout(timer);
    stream?.getTracks().forEach((track) => track.stop());
    stream = null;
    video.hidden = true;
    button.textContent = "Scan with the camera";
  };
  const look = async (detector) => {
    if (!stream) return;
    try {
      const [found] = await detector.detect(video);
      // The same code held in front of the camera is one scan, not one per frame.
      if (found && (found.rawValue !== last.text || Date.now() - last.at > 3000)) {
        last = { text: found.rawValue, at: Date.now() };
        await onText(found.rawValue);
      }
    } catch {
      // a frame that could not be read: try the next
    }
    timer = setTimeout(() => look(detector), 250);
  };
  const button = h("button", { type: "button", class: "secondary", id: "camera-toggle", onclick: async () => {
    if (stream) {
      stop();
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
      video.srcObject = stream;
      video.hidden = false;
      await video.play();
      button.textContent = "Stop the camera";
      look(new BarcodeDetector({ formats: ["qr_code"] }));
    } catch (error) {
      stop();
      button.after(message("error", `The camera could not start: ${error.message}`));
    }
  } }, "Scan with the camera");
  return { controls: h("div", { class: "camera-controls" }, button, video), stop };
}

let stopView = () => {};

async function route() {
  stopView();
  stopView = () => {};
  const parts = location.hash.slice(1).split("/").filter(Boolean);
  if (parts[0] === "event" && parts[1]) {
    stopView = scannerView(parts[1]);
    return;
  }
  await pickEventView();
}

async function start() {
  window.addEventListener("hashchange", route);
  // Offline, the page works from what it saved; it cannot ask who is logged in.
  if (!navigator.onLine) {
    renderNav(null);
    await route();
    return;
  }
  const user = await currentUser().catch(() => null);
  renderNav(user);
  if (!user) {
    loginView();
    return;
  }
  await route();
}

start();
