// The door device: pair with a code, then scan with a handheld (keyboard-wedge) scanner, the
// camera where the browser has BarcodeDetector, or a search by name or code. Online, the
// server answers each scan; offline, the device judges from the bundle (door-rules.js),
// queues the scan and uploads the queue in batches when the network is back.

import { OfflineDoor } from "./door-rules.js";

const API = document.body.dataset.api;
const TEXTS = JSON.parse(document.getElementById("texts").textContent);
// The page's language as the organiser's texts name it ("zh_Hant_HK"), for the event's
// title and ticket type names in it (the bundle's and the pairing's `texts`).
const LOCALE = document.documentElement.lang.replaceAll("-", "_");
let eventTexts = {};
const PAIRING = "loopgate.scanner.pairing";
const QUEUE = "loopgate.scanner.queue";
const SETTINGS = "loopgate.scanner.settings";
const COUNTER = "loopgate.scanner.counter";
const ONLINE_TIMEOUT_MS = 3000;
const SYNC_EVERY_MS = 5000;
const BUNDLE_EVERY_MS = 60000;
const BATCH_SIZE = 500;
const MAX_PAYLOAD = 1000;
const COLOURS = {
  ok: "good",
  already_checked_in: "warn",
  not_yet_valid: "warn",
  not_allowed_here: "warn",
  unverifiable: "warn",
};

const $ = (selector) => document.querySelector(selector);
const stored = (name, fallback) => JSON.parse(localStorage.getItem(name) || "null") ?? fallback;
const store = (name, value) => localStorage.setItem(name, JSON.stringify(value));
const fill = (template, values) => template.replace(/%\((\w+)\)s/g, (_, name) => values[name] ?? "");

let door = null;
let syncing = false;

class ApiError extends Error {
  constructor(status, body) {
    super(`HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

async function api(method, path, body) {
  const pairing = stored(PAIRING, null);
  const headers = { Accept: "application/json" };
  if (pairing) headers.Authorization = `Bearer ${pairing.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(API + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(ONLINE_TIMEOUT_MS),
  });
  const answer = response.status === 204 ? null : await response.json();
  if (!response.ok) throw new ApiError(response.status, answer);
  return answer;
}

// --- bundle: kept in IndexedDB, it can hold thousands of tickets ---------------------------

function database() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open("loopgate-scanner", 1);
    request.onupgradeneeded = () => request.result.createObjectStore("bundles");
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function keptBundle(eventId, bundle) {
  const db = await database();
  return new Promise((resolve, reject) => {
    const transaction = db.transaction("bundles", bundle ? "readwrite" : "readonly");
    const bundles = transaction.objectStore("bundles");
    const request = bundle ? bundles.put(bundle, eventId) : bundles.get(eventId);
    request.onsuccess = () => resolve(bundle || request.result);
    request.onerror = () => reject(request.error);
  });
}

async function refreshBundle() {
  const { event_id: eventId } = stored(PAIRING, {});
  let bundle = null;
  if (navigator.onLine) {
    try {
      bundle = await keptBundle(eventId, await api("GET", `/events/${eventId}/bundle`));
    } catch (error) {
      if (error.status === 401) return unpair(TEXTS.revoked_device);
    }
  }
  bundle = bundle || (await keptBundle(eventId));
  if (!bundle) return;
  showEventTexts(bundle.texts);
  door = await new OfflineDoor(bundle).prepare();
  // Scans judged here but not uploaded yet still count, so the same ticket is not let in twice.
  for (const queued of stored(QUEUE, [])) remember(queued.scan, queued.answer);
  showLists(bundle.lists);
  document.body.dataset.bundle = "ready";
}

// --- scanning ----------------------------------------------------------------------------

function nextScanId() {
  const counter = stored(COUNTER, 0) + 1;
  store(COUNTER, counter);
  return `${stored(PAIRING, {}).device_id.slice(0, 8)}-${counter}`;
}

function settings() {
  return stored(SETTINGS, { list_id: stored(PAIRING, {}).list_id, direction: "in" });
}

function newScan(fields) {
  const { list_id: listId, direction } = settings();
  return { scan_id: nextScanId(), list_id: listId, direction, scanned_at: new Date().toISOString(), ...fields };
}

async function submit(scan) {
  if (navigator.onLine) {
    try {
      const path = scan.ticket_id ? "/scans/manual" : "/scans";
      const { scanned_at: _, ...body } = scan;
      const answer = await api("POST", path, body);
      remember(scan, answer);
      return show(answer, scan, false);
    } catch (error) {
      if (error.status === 401) return unpair(TEXTS.revoked_device);
      if (error instanceof ApiError) return show({ verdict: "invalid" }, scan, false);
      // No answer from the server: judge here and queue it.
    }
  }
  if (!door) return show({ verdict: "unverifiable" }, scan, true);
  const answer = await door.judge(scan);
  if (answer.verdict !== "unverifiable" && (scan.payload || "").length <= MAX_PAYLOAD) {
    const queue = stored(QUEUE, []);
    queue.push({ scan, answer });
    store(QUEUE, queue);
    showQueue();
  }
  return show(answer, scan, true);
}

function remember(scan, answer) {
  if (!door || answer.verdict !== "ok" || !answer.ticket) return;
  const list = door.lists.get(answer.list_id);
  if (scan.direction === "out") door.leave(answer.list_id, answer.ticket.id);
  else if (list) door.admit(list, answer.ticket.id, scan.scan_id, new Date(scan.scanned_at));
}

// --- syncing -----------------------------------------------------------------------------

async function sync() {
  if (syncing || !navigator.onLine || !stored(PAIRING, null)) return;
  syncing = true;
  try {
    let queue = stored(QUEUE, []);
    while (queue.length) {
      const chunk = queue.slice(0, BATCH_SIZE);
      await api("POST", "/scans/batch", { scans: chunk.map((queued) => queued.scan) });
      const sent = new Set(chunk.map((queued) => queued.scan.scan_id));
      queue = stored(QUEUE, []).filter((queued) => !sent.has(queued.scan.scan_id));
      store(QUEUE, queue);
      showQueue();
    }
    await refreshBundle();
  } catch (error) {
    if (error.status === 401) unpair(TEXTS.revoked_device);
  } finally {
    syncing = false;
    showNetwork();
  }
}

// --- what staff see and hear -------------------------------------------------------------

let audio = null;

function beep(colour) {
  audio = audio || new AudioContext();
  const tones = { good: [[880, 0.12]], warn: [[660, 0.1], [660, 0.1]], bad: [[196, 0.5]] }[colour];
  let start = audio.currentTime;
  for (const [frequency, seconds] of tones) {
    const oscillator = audio.createOscillator();
    const gain = audio.createGain();
    oscillator.type = colour === "bad" ? "square" : "sine";
    oscillator.frequency.value = frequency;
    gain.gain.setValueAtTime(0.25, start);
    gain.gain.exponentialRampToValueAtTime(0.001, start + seconds);
    oscillator.connect(gain).connect(audio.destination);
    oscillator.start(start);
    oscillator.stop(start + seconds);
    start += seconds + 0.07;
  }
}

function timeOf(iso) {
  const zone = door?.lists.values().next().value?.timezone;
  return new Date(iso).toLocaleTimeString(document.documentElement.lang, {
    hour: "2-digit",
    minute: "2-digit",
    timeZone: zone,
  });
}

function show(answer, scan, offline) {
  const colour = COLOURS[answer.verdict] || "bad";
  const panel = $("#verdict");
  panel.className = `verdict ${colour}`;
  panel.dataset.verdict = answer.verdict;
  const label = answer.verdict === "ok" && scan.direction === "out" ? "ok_out" : answer.verdict;
  $("#verdict-label").textContent = TEXTS.verdicts[label];
  $("#verdict-name").textContent = answer.ticket?.attendee_name || "";
  $("#verdict-type").textContent = answer.ticket ? ticketTypeName(answer.ticket) : "";
  let detail = "";
  if (answer.previous) detail = fill(TEXTS.since, { time: timeOf(answer.previous.scanned_at), gate: answer.previous.gate });
  else if (answer.window) detail = fill(TEXTS.window, { opens: timeOf(answer.window.opens_at), closes: timeOf(answer.window.closes_at) });
  else if (answer.was_inside === false) detail = TEXTS.was_not_inside;
  else if (answer.verdict === "unverifiable") detail = TEXTS.needs_https;
  else if (scan.ticket_id && answer.verdict === "ok") detail = TEXTS.manual;
  $("#verdict-detail").textContent = detail;
  $("#verdict-offline").hidden = !offline;
  beep(colour);
}

function showQueue() {
  const count = stored(QUEUE, []).length;
  const queue = $("#queue");
  queue.dataset.count = count;
  $("#queue-count").textContent = count;
  queue.hidden = count === 0;
}

function showNetwork() {
  const status = $("#network");
  status.textContent = navigator.onLine ? TEXTS.online : TEXTS.offline;
  status.className = navigator.onLine ? "online" : "offline";
}

function showLists(lists) {
  const select = $("#list");
  const chosen = settings().list_id;
  select.replaceChildren(
    ...lists.map((item) => {
      const option = new Option(item.name, item.id, false, item.id === chosen);
      return option;
    }),
  );
}

async function searchTickets(text) {
  let tickets;
  try {
    if (!navigator.onLine) throw new Error("offline");
    tickets = await api("GET", `/events/${stored(PAIRING, {}).event_id}/tickets?q=${encodeURIComponent(text)}`);
  } catch (error) {
    if (error.status === 401) return unpair(TEXTS.revoked_device);
    tickets = door ? door.search(text) : [];
  }
  const results = $("#results");
  if (!tickets.length) {
    results.replaceChildren(Object.assign(document.createElement("li"), { textContent: TEXTS.no_results }));
    return;
  }
  results.replaceChildren(
    ...tickets.map((ticket) => {
      const item = document.createElement("li");
      const who = document.createElement("span");
      who.textContent = `${ticket.attendee_name} · ${ticketTypeName(ticket)} · ${ticket.id.slice(0, 8)}`;
      const button = Object.assign(document.createElement("button"), { type: "button", textContent: TEXTS.check_in });
      button.addEventListener("click", () => {
        results.replaceChildren();
        $("#search").value = "";
        submit(newScan({ ticket_id: ticket.id }));
        focusScanner();
      });
      item.append(who, button);
      return item;
    }),
  );
}

// --- the camera, where the browser can read QR codes -------------------------------------

// A pairing QR (the organiser's doors page) holds this page's address with #pair=<code>: read
// by the camera, on the pairing screen or while scanning, it pairs this device.
function pairingCodeIn(text) {
  try {
    const match = /^#pair=([A-Za-z0-9-]+)$/.exec(new URL(text, location.href).hash);
    return match ? match[1] : null;
  } catch {
    return null;
  }
}

function readCode(value) {
  const code = pairingCodeIn(value);
  if (code) return pairWith(code);
  if (!$("#scanner").hidden) submit(newScan({ payload: value }));
}

async function startCamera(video) {
  const detector = new BarcodeDetector({ formats: ["qr_code"] });
  video.srcObject = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
  video.hidden = false;
  await video.play();
  let last = { value: null, at: 0 };
  const look = async () => {
    if (video.hidden) return;
    const [code] = await detector.detect(video);
    const now = Date.now();
    // The same code stays in view for a while: one scan, not one per frame.
    if (code && (code.rawValue !== last.value || now - last.at > 3000)) {
      last = { value: code.rawValue, at: now };
      readCode(code.rawValue);
    }
    setTimeout(look, 200);
  };
  look();
}

function stopCamera(video) {
  video.hidden = true;
  for (const track of video.srcObject?.getTracks() || []) track.stop();
  video.srcObject = null;
}

function offerCamera(button, video) {
  button.hidden = false;
  button.addEventListener("click", () => (video.hidden ? startCamera(video) : stopCamera(video)));
}

// --- pairing and start -------------------------------------------------------------------

function focusScanner() {
  if (!$("#scanner").hidden) $("#code").focus();
}

function unpair(message) {
  localStorage.removeItem(PAIRING);
  localStorage.removeItem(SETTINGS);
  showPairing(message);
}

function showPairing(message) {
  $("#scanner").hidden = true;
  $("#pairing").hidden = false;
  $("#pair-error").textContent = message || "";
  $("#pair-code").focus();
}

// The organiser's names in the door's language, where they gave one; else as first written.
function ticketTypeName(ticket) {
  return eventTexts.ticket_types?.[ticket.ticket_type_id]?.[LOCALE] || ticket.ticket_type_name || "";
}

function showEventTexts(texts) {
  eventTexts = texts || {};
  const title = eventTexts.title?.[LOCALE] || stored(PAIRING, {}).event_title;
  $("#event-title").textContent = fill(TEXTS.paired_as, { event: title });
}

async function showScanner() {
  const pairing = stored(PAIRING, {});
  $("#pairing").hidden = true;
  $("#scanner").hidden = false;
  showEventTexts(pairing.event_texts);
  $("#direction").value = settings().direction;
  showQueue();
  showNetwork();
  focusScanner();
  await refreshBundle();
  sync();
}

async function pairWith(code) {
  for (const video of document.querySelectorAll("video")) stopCamera(video);
  try {
    const paired = await api("POST", "/pairing-codes/redeem", {
      code,
      device_name: $("#device-name").value || "Door device",
    });
    store(PAIRING, paired);
    store(SETTINGS, { list_id: paired.list_id, direction: "in" });
    await showScanner();
  } catch {
    // A device already paired keeps scanning; it only hears that the new code failed.
    if (stored(PAIRING, null) && !$("#scanner").hidden) $("#verdict-detail").textContent = TEXTS.pairing_failed;
    else showPairing(TEXTS.pairing_failed);
  }
}

// Opened from a pairing QR by the phone's own camera app: pair at once, and take the code out
// of the address, so that neither a reload nor the history holds it.
function pairingFromAddress() {
  const code = pairingCodeIn(location.href);
  if (code) history.replaceState(null, "", location.pathname + location.search);
  return code;
}

function start() {
  $("#pair-form").addEventListener("submit", (event) => {
    event.preventDefault();
    pairWith($("#pair-code").value);
  });
  $("#scan-form").addEventListener("submit", (event) => {
    event.preventDefault();
    // Base45 may end in a space: strip only the line end a handheld scanner sends.
    const payload = $("#code").value.replace(/[\r\n]+$/, "");
    $("#code").value = "";
    if (payload) submit(newScan({ payload }));
  });
  $("#search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    searchTickets($("#search").value);
  });
  $("#list").addEventListener("change", () => {
    store(SETTINGS, { ...settings(), list_id: $("#list").value });
    focusScanner();
  });
  $("#direction").addEventListener("change", () => {
    store(SETTINGS, { ...settings(), direction: $("#direction").value });
    focusScanner();
  });
  // A handheld scanner types into whatever has focus: keep it on the code field unless
  // staff are using another control.
  document.addEventListener("focusout", () =>
    setTimeout(() => {
      if (document.activeElement === document.body) focusScanner();
    }, 0),
  );
  if ("BarcodeDetector" in window && navigator.mediaDevices?.getUserMedia) {
    offerCamera($("#camera-button"), $("#camera"));
    offerCamera($("#pair-camera-button"), $("#pair-camera"));
  }
  window.addEventListener("online", () => {
    showNetwork();
    sync();
  });
  window.addEventListener("offline", showNetwork);
  setInterval(sync, SYNC_EVERY_MS);
  setInterval(() => navigator.onLine && stored(PAIRING, null) && !syncing && refreshBundle(), BUNDLE_EVERY_MS);
  // A pairing link opened where this page is open already changes only the address's fragment.
  window.addEventListener("hashchange", () => {
    const code = pairingFromAddress();
    if (code) pairWith(code);
  });
  const code = pairingFromAddress();
  if (code) pairWith(code);
  else if (stored(PAIRING, null)) showScanner();
  else showPairing();
}

start();
