// The organiser's live view of an event's doors: figures, per list and per ticket type, an
// arrivals chart drawn as inline SVG, door devices, the CSV of scans. Live updates come as
// server-sent events, read with fetch.
// Opened from the organiser area (data-signed-in), the page's own sign-in cookie goes with
// every call and the feeds are the organiser pages' own; pairing and the devices are on the
// doors page there. Opened alone (?event=), it asks for an organiser token, which travels in
// a header, not in the URL, and lives in this page's memory only, never in the browser's
// storage, where it would outlive the page and be open to every script of the site; the
// browser's password manager may keep it instead.

const BOARD = document.querySelector("[data-api]");
const API = BOARD.dataset.api;
const SIGNED_IN = "signedIn" in BOARD.dataset;
const TEXTS = JSON.parse(document.getElementById("texts").textContent);
const RECONNECT_MS = 2000;
// Time labels under the chart: at most this many, and at least this many pixels apart, room
// for "06:00 PM" or "下午06:00" and a gap, on a phone as on a laptop.
const MOST_LABELS = 6;
const LABEL_SPACING_PX = 96;
const HALF_LABEL_PX = 32;
const SVG = "http://www.w3.org/2000/svg";

const $ = (selector) => document.querySelector(selector);
const fill = (template, values) => template.replace(/%\((\w+)\)s/g, (_, name) => values[name] ?? "");
const eventId = BOARD.dataset.event || new URLSearchParams(location.search).get("event");
let timezone = "UTC";
let token = null;
let shownArrivals = [];

async function api(method, path) {
  const response = await fetch(API + path, {
    method,
    headers: SIGNED_IN ? {} : { Authorization: `Bearer ${token}` },
    // A signed-in page whose sign-in ended is sent to the sign-in page: not followed here.
    redirect: "manual",
  });
  const turnedAway = response.type === "opaqueredirect" || response.status === 401 || response.status === 403;
  if (turnedAway) throw new Error("unauthorised");
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response;
}

function cells(row, values) {
  row.replaceChildren(
    ...values.map((value) => {
      const cell = document.createElement("td");
      if (value instanceof Node) cell.append(value);
      else cell.textContent = value;
      return cell;
    }),
  );
  return row;
}

function button(text, onClick) {
  const element = Object.assign(document.createElement("button"), { type: "button", textContent: text });
  element.addEventListener("click", onClick);
  return element;
}

function render(stats) {
  timezone = stats.timezone;
  $("#title").textContent = stats.title;
  $("#checked-in").textContent = stats.checked_in;
  $("#inside").textContent = stats.inside;
  $("#tickets").textContent = stats.tickets;
  $("#per-list").replaceChildren(
    ...stats.lists.map((item) =>
      cells(document.createElement("tr"), [
        item.name,
        item.checked_in,
        item.inside,
        ...(SIGNED_IN ? [] : [button(TEXTS.pair, () => pairDevice(item))]),
      ]),
    ),
  );
  $("#per-type").replaceChildren(
    ...stats.ticket_types.map((type) =>
      cells(document.createElement("tr"), [type.name, type.checked_in, type.inside, type.tickets]),
    ),
  );
  drawArrivals(stats.arrivals);
}

function clock(iso) {
  return new Date(iso).toLocaleTimeString(document.documentElement.lang, {
    hour: "2-digit",
    minute: "2-digit",
    timeZone: timezone,
  });
}

function svg(name, attributes, text) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  if (text !== undefined) element.textContent = text;
  return element;
}

// Bars of arrivals per five minutes; a label every so many bars so they never overlap. The
// chart is drawn at the width it is shown, so its units are pixels and its text keeps its size.
function drawArrivals(buckets) {
  shownArrivals = buckets;
  const width = Math.max(240, Math.round($("#arrivals").clientWidth || 720));
  const height = 220;
  const margin = { left: 36, right: 8, bottom: 28, top: 12 };
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": TEXTS.arrivals_axis });
  const most = Math.max(1, ...buckets.map((bucket) => bucket.count));
  const plotHeight = height - margin.bottom - margin.top;
  // A bar never wider than 40 pixels, so one busy five minutes is not a wall of green.
  const slot = Math.min(40, (width - margin.left - margin.right) / Math.max(buckets.length, 1));
  const every = Math.max(Math.ceil(buckets.length / MOST_LABELS), Math.ceil(LABEL_SPACING_PX / slot));
  chart.append(svg("text", { x: 0, y: margin.top + 4, class: "axis" }, most));
  chart.append(svg("line", { x1: margin.left, x2: width, y1: height - margin.bottom, y2: height - margin.bottom, class: "axis-line" }));
  buckets.forEach((bucket, index) => {
    const barHeight = (bucket.count / most) * plotHeight;
    const x = margin.left + index * slot;
    const bar = svg("rect", {
      x: x + slot * 0.1,
      y: height - margin.bottom - barHeight,
      width: Math.max(slot * 0.8, 1),
      height: barHeight,
      class: "bar",
    });
    bar.append(svg("title", {}, `${clock(bucket.starts_at)}: ${bucket.count}`));
    chart.append(bar);
    const middle = x + slot / 2;
    const fits = middle - HALF_LABEL_PX >= 0 && middle + HALF_LABEL_PX <= width;
    if (index % every === 0 && fits) {
      const label = { x: middle, y: height - 8, class: "axis tick", "text-anchor": "middle" };
      chart.append(svg("text", label, clock(bucket.starts_at)));
    }
  });
  $("#arrivals").replaceChildren(chart);
}

async function pairDevice(item) {
  const pairing = await (await api("POST", `/lists/${item.id}/pairing-codes`)).json();
  $("#pairing-code").textContent = fill(TEXTS.code_for, { list: item.name, code: pairing.code });
  showDevices();
}

async function showDevices() {
  const [devices, lists] = await Promise.all([
    api("GET", `/events/${eventId}/devices`).then((response) => response.json()),
    api("GET", `/events/${eventId}/lists`).then((response) => response.json()),
  ]);
  const names = new Map(lists.map((item) => [item.id, item.name]));
  $("#devices").replaceChildren(
    ...devices.map((device) =>
      cells(document.createElement("tr"), [
        device.name,
        names.get(device.list_id) || "",
        new Date(device.paired_at).toLocaleString(document.documentElement.lang, { timeZone: timezone }),
        device.revoked_at
          ? TEXTS.revoked
          : button(TEXTS.revoke, async () => {
              await api("POST", `/devices/${device.id}/revoke`);
              showDevices();
            }),
      ]),
    ),
  );
}

async function downloadCsv() {
  const blob = await (await api("GET", `/events/${eventId}/scans.csv`)).blob();
  const link = Object.assign(document.createElement("a"), {
    href: URL.createObjectURL(blob),
    download: `scans-${eventId}.csv`,
  });
  link.click();
  URL.revokeObjectURL(link.href);
}

// Server-sent events over fetch: "event: stats" blocks carry the figures; comments are the
// heartbeat. The server ends the stream after a while; we reconnect.
async function follow() {
  for (;;) {
    try {
      const response = await api("GET", `/events/${eventId}/stats/live`);
      $("#live-status").textContent = TEXTS.live;
      $("#live-status").className = "online";
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const lines = block.split("\n");
          if (lines.includes("event: stats")) {
            const data = lines.filter((line) => line.startsWith("data: ")).map((line) => line.slice(6));
            render(JSON.parse(data.join("\n")));
          }
        }
      }
    } catch (error) {
      if (error.message === "unauthorised") return refused(error);
    }
    $("#live-status").textContent = TEXTS.reconnecting;
    $("#live-status").className = "offline";
    await new Promise((resolve) => setTimeout(resolve, RECONNECT_MS));
  }
}

function askForToken(message) {
  token = null;
  $("#board").hidden = true;
  $("#token-form").hidden = false;
  $("#token-error").textContent = message || "";
}

function refused(error) {
  const unauthorised = error.message === "unauthorised";
  // Signed in, the sign-in ended meanwhile: reloading the page leads to the sign-in and back.
  if (SIGNED_IN && unauthorised) return location.reload();
  if (SIGNED_IN) return ($("#live-status").textContent = error.message);
  askForToken(unauthorised ? TEXTS.unauthorised : error.message);
}

async function open() {
  if (!SIGNED_IN) {
    $("#token-form").hidden = true;
    $("#board").hidden = false;
  }
  try {
    render(await (await api("GET", `/events/${eventId}/stats`)).json());
    if (!SIGNED_IN) await showDevices();
  } catch (error) {
    return refused(error);
  }
  follow();
}

window.addEventListener("resize", () => drawArrivals(shownArrivals));
if (SIGNED_IN) open();
else {
  $("#token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    token = $("#token").value.trim();
    open();
  });
  // Signed in, the page's CSV is a plain link; here the download needs the token.
  $("#csv").addEventListener("click", downloadCsv);
  // Earlier versions kept the token in localStorage: take it out of browsers that still hold it.
  localStorage.removeItem("loopgate.organiser.token");
  if (!eventId) document.body.replaceChildren(Object.assign(document.createElement("p"), { textContent: TEXTS.no_event }));
  else askForToken();
}
