// ambience phone page: sign in with the API token, watch and run the rooms.
// Plain JavaScript, no build step; every request goes to this page's own daemon.
"use strict";

(() => {
  const TOKEN_KEY = "ambience.token";
  const LOST = "lost the ambience daemon — retrying";
  const RESYNC_MS = 30000;
  const BOOKINGS_MS = 60000;
  const STATE_LABEL = { idle: "Idle", preconditioning: "Preparing", turnover: "Turnover", running: "Running", paused: "Paused" };
  const DEVICE_ORDER = ["offline", "unconfirmed", "manual", "pending", "confirmed", "idle"];

  const $ = (selector, root = document) => root.querySelector(selector);

  const app = {
    token: null,
    signedIn: false,
    presets: [],
    presetsById: new Map(),
    rooms: new Map(), // room id -> {status, syncedAt, card, els, lastMinute, busy}
    events: null,
    lost: false,
    retryTimer: null,
    retryDelay: 1000,
    backTimer: null,
    resyncTimer: null,
    bookingsTimer: null,
    stopRoom: null,
    forceRetry: null,
  };

  class ApiError extends Error {
    constructor(message, status, code) {
      super(message);
      this.status = status;
      this.code = code || null;
    }
  }

  // ---- talking to the daemon --------------------------------------------------------------

  async function api(method, path, body) {
    const headers = { Authorization: `Bearer ${app.token}` };
    const init = { method, headers, cache: "no-store" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (err) {
      daemonLost();
      throw new ApiError(LOST, 0);
    }
    const text = await response.text().catch(() => "");
    let data = null;
    if (text) {
      try { data = JSON.parse(text); } catch (err) { data = null; }
    }
    if (response.status === 401) {
      if (app.signedIn) signOut("The daemon refused the saved token (wrong token). Enter the token again.");
      throw new ApiError("the daemon refused the token", 401);
    }
    if (!response.ok) {
      const message = data && typeof data.error === "string" && data.error
        ? data.error
        : `the daemon answered ${response.status} ${response.statusText}`.trim();
      if (response.status >= 502 && response.status <= 504) daemonLost();
      throw new ApiError(message, response.status, data && typeof data.code === "string" ? data.code : null);
    }
    return data;
  }

  const roomPath = (room, action) => `/api/rooms/${encodeURIComponent(room)}${action ? `/${action}` : ""}`;

  // ---- formatting -------------------------------------------------------------------------

  function clock(seconds) {
    const s = Math.max(0, Math.ceil(seconds));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const sec = String(s % 60).padStart(2, "0");
    return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
  }

  function timeOf(iso) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return "";
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function dayAndTime(iso) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return "";
    if (d.toDateString() === new Date().toDateString()) return timeOf(iso);
    return `${d.toLocaleDateString([], { weekday: "short", day: "numeric", month: "short" })} ${timeOf(iso)}`;
  }

  function minutes(seconds) {
    const m = seconds / 60;
    return Number.isInteger(m) ? `${m} min` : `${m.toFixed(1)} min`;
  }

  function today() {
    const d = new Date();
    const pad = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  }

  function techniqueLabel(technique) {
    const text = String(technique || "other").replace(/-/g, " ");
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  const presetName = (id) => (app.presetsById.get(id) || {}).name || id;

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  // ---- connection banner ------------------------------------------------------------------

  function banner(text, lost) {
    const node = $("#connection");
    node.textContent = text;
    node.classList.toggle("lost", Boolean(lost));
    node.hidden = !text;
  }

  function daemonLost() {
    if (!app.signedIn) return;
    clearTimeout(app.backTimer);
    if (!app.lost) {
      app.lost = true;
      document.body.classList.add("is-lost");
      for (const room of app.rooms.values()) room.card.classList.add("stale");
    }
    banner(LOST, true);
    scheduleReconnect();
  }

  function daemonBack() {
    if (!app.lost) return;
    app.lost = false;
    app.retryDelay = 1000;
    clearTimeout(app.retryTimer);
    app.retryTimer = null;
    document.body.classList.remove("is-lost");
    for (const room of app.rooms.values()) room.card.classList.remove("stale");
    banner("connected to the ambience daemon again", false);
    clearTimeout(app.backTimer);
    app.backTimer = setTimeout(() => { if (!app.lost) banner("", false); }, 4000);
    loadPresets().catch(() => {});
    loadBookings();
  }

  function scheduleReconnect() {
    if (app.retryTimer || !app.signedIn) return;
    const delay = app.retryDelay;
    app.retryDelay = Math.min(app.retryDelay * 2, 8000);
    app.retryTimer = setTimeout(async () => {
      app.retryTimer = null;
      if (!app.signedIn) return;
      try {
        await loadRooms();
        connectEvents();
      } catch (err) {
        if (err.status !== 401) scheduleReconnect();
      }
    }, delay);
  }

  // ---- live events ------------------------------------------------------------------------

  function closeEvents() {
    if (app.events) {
      app.events.close();
      app.events = null;
    }
  }

  function connectEvents() {
    closeEvents();
    const source = new EventSource(`/api/events?token=${encodeURIComponent(app.token)}`);
    app.events = source;
    source.addEventListener("open", () => {
      if (app.events === source) daemonBack();
    });
    source.addEventListener("room", (event) => {
      if (app.events !== source) return;
      let status;
      try { status = JSON.parse(event.data); } catch (err) { return; }
      applyStatus(status);
    });
    source.addEventListener("error", () => {
      if (app.events !== source) return;
      if (source.readyState === EventSource.CLOSED) {
        // Refused (a wrong token answers 401) or not an event stream: find out by asking.
        closeEvents();
        daemonLost();
      } else {
        daemonLost(); // the browser reconnects by itself; "open" clears the banner
      }
    });
  }

  // ---- rooms --------------------------------------------------------------------------------

  function roomEntry(id) {
    let room = app.rooms.get(id);
    if (room) return room;
    const card = $("#room-template").content.firstElementChild.cloneNode(true);
    card.dataset.room = id;
    const els = {
      name: $(".room-name", card),
      badge: $(".state-badge", card),
      preset: $(".preset-name", card),
      phase: $(".phase", card),
      client: $(".client-line", card),
      countdownBox: $(".countdown-box", card),
      countdown: $(".countdown", card),
      ends: $(".ends", card),
      live: $(".room-live", card),
      devices: $(".devices", card),
      deviceList: $(".device-list ul", card),
      music: $(".music", card),
      temperatureRow: $(".temperature-row", card),
      temperature: $(".temperature", card),
      next: $(".next-booking", card),
      error: $(".room-error", card),
      controls: $(".controls", card),
      pause: $(".pause", card),
      resume: $(".resume", card),
      stop: $(".stop", card),
      extend: [...card.querySelectorAll(".extend")],
      form: $(".start-form", card),
      select: $(".start-form select", card),
      summary: $(".preset-summary", card),
      more: $(".preset-more", card),
      description: $(".preset-description", card),
      bookings: $(".booking-list", card),
    };
    room = { id, card, els, status: null, syncedAt: 0, lastMinute: null };
    app.rooms.set(id, room);
    els.pause.addEventListener("click", () => act(room, "pause"));
    els.resume.addEventListener("click", () => act(room, "resume"));
    for (const button of els.extend) {
      button.addEventListener("click", () => act(room, "extend", { by: `${Number(button.dataset.by)}s` }));
    }
    els.stop.addEventListener("click", () => confirmStop(room));
    els.select.addEventListener("change", () => describePreset(room));
    els.form.addEventListener("submit", (event) => {
      event.preventDefault();
      startSession(room);
    });
    fillPresets(room);
    if (app.lost) card.classList.add("stale");
    $("#rooms").append(card);
    $("#loading").hidden = true;
    return room;
  }

  function applyStatus(status) {
    if (!status || typeof status.room !== "string") return;
    const room = roomEntry(status.room);
    const before = room.status ? room.status.state : null;
    room.status = status;
    room.syncedAt = performance.now();
    render(room);
    if (before !== null && before !== status.state) {
      announce(room, `${status.name || status.room}: ${STATE_LABEL[status.state] || status.state}`);
      loadBookings();
    }
  }

  function remaining(room) {
    const s = room.status;
    if (!s || s.remaining_s === null || s.remaining_s === undefined) return null;
    if (s.state === "paused") return s.remaining_s;
    return Math.max(0, s.remaining_s - (performance.now() - room.syncedAt) / 1000);
  }

  function render(room) {
    const s = room.status;
    const e = room.els;
    const active = s.state !== "idle";
    room.card.dataset.state = s.state;
    e.name.textContent = s.name || s.room;
    e.badge.textContent = STATE_LABEL[s.state] || s.state;
    e.preset.textContent = active ? (s.preset_name || s.preset || "") : "No session";
    e.phase.textContent = active && s.phase ? `· ${s.phase}` : "";
    e.client.hidden = !(active && s.client);
    e.client.textContent = s.client ? `Client: ${s.client}` : "";

    e.countdownBox.hidden = !active || s.remaining_s === null || s.remaining_s === undefined;
    tickRoom(room);
    if (s.waiting_since) {
      e.ends.textContent = `client waiting since ${timeOf(s.waiting_since)}`;
    } else if (s.state === "paused") {
      e.ends.textContent = "paused: the countdown and the music wait";
    } else if (s.state === "turnover") {
      e.ends.textContent = `turning the room over; the session starts at ${timeOf(s.started_at)}, ends at ${timeOf(s.ends_at)}`;
    } else if (s.booked_start) {
      e.ends.textContent = `started late (booked for ${timeOf(s.booked_start)}); ends at ${timeOf(s.ends_at)}`;
    } else if (s.state === "preconditioning" && s.started_at) {
      e.ends.textContent = `preparing the room; the session starts at ${timeOf(s.started_at)}, ends at ${timeOf(s.ends_at)}`;
    } else {
      e.ends.textContent = s.ends_at ? `ends at ${timeOf(s.ends_at)}` : "";
    }

    renderDevices(room);
    renderTemperature(room);
    renderMusic(room);
    const next = s.next_booking;
    if (next && next.start) {
      const who = next.client ? ` · ${next.client}` : "";
      const waiting = next.waiting ? ` (waiting: ${next.waiting})` : "";
      e.next.textContent = `${dayAndTime(next.start)} ${presetName(next.preset)}${who}${waiting}`;
    } else {
      e.next.textContent = "none";
    }

    e.controls.hidden = !active;
    e.pause.hidden = s.state !== "running";
    e.resume.hidden = s.state !== "paused";
    e.form.hidden = active;
  }

  function renderDevices(room) {
    const devices = Array.isArray(room.status.devices) ? room.status.devices : [];
    const e = room.els;
    e.devices.replaceChildren();
    e.deviceList.replaceChildren();
    if (devices.length === 0) {
      e.devices.textContent = "no devices";
      return;
    }
    const counts = new Map();
    for (const d of devices) counts.set(d.status, (counts.get(d.status) || 0) + 1);
    const keys = [...counts.keys()].sort((a, b) => {
      const ia = DEVICE_ORDER.indexOf(a);
      const ib = DEVICE_ORDER.indexOf(b);
      return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
    });
    keys.forEach((key, i) => {
      if (i > 0) e.devices.append(" · ");
      e.devices.append(el("span", `${counts.get(key)} ${key}`, `st-${key}`));
    });
    const owed = new Set((Array.isArray(room.status.owed) ? room.status.owed : []).map((o) => o.device));
    for (const d of devices) {
      const item = el("li");
      item.append(`${d.id}${d.role ? ` (${d.role})` : ""}: `, el("span", d.status, `st-${d.status}`));
      if (owed.has(d.id)) item.append(el("span", " · putting back as found", "st-pending"));
      e.deviceList.append(item);
    }
    if (room.status.store_error) {
      e.deviceList.append(el("li", `store: ${room.status.store_error}; retrying`, "st-offline"));
    }
  }

  // The room's measured temperature (its sensor's, else its thermostat's) and what a heater thermostat does.
  function renderTemperature(room) {
    const t = room.status.temperature;
    const e = room.els;
    e.temperatureRow.hidden = !(t && typeof t.current === "number");
    if (e.temperatureRow.hidden) return;
    const devices = Array.isArray(room.status.devices) ? room.status.devices : [];
    const heater = devices.find((d) => d.thermostat);
    let text = `${Math.round(t.current * 10) / 10} °C`;
    if (heater) text += heater.thermostat.heating ? " · heating" : " · heater off";
    e.temperature.textContent = text;
  }

  function renderMusic(room) {
    const m = room.status.music || {};
    const node = room.els.music;
    node.className = "music";
    if (m.error) {
      node.textContent = `not playing: ${m.error}`;
      node.classList.add("music-off");
    } else if (m.playing) {
      const volume = typeof m.volume === "number" ? ` · volume ${Math.round(m.volume)}` : "";
      node.textContent = `playing ${m.track || ""}${volume}`;
      node.classList.add("music-ok");
    } else {
      node.textContent = room.status.state === "idle" ? "silent" : "not playing";
    }
  }

  function tickRoom(room) {
    const left = remaining(room);
    if (left === null) return;
    room.els.countdown.textContent = clock(left);
    const minute = Math.ceil(left / 60);
    if (room.lastMinute !== null && minute !== room.lastMinute && (minute === 5 || minute === 1)) {
      announce(room, `${room.status.name || room.id}: ${minute} minute${minute === 1 ? "" : "s"} left`);
    }
    room.lastMinute = minute;
  }

  function announce(room, text) {
    room.els.live.textContent = text;
  }

  function roomError(room, text) {
    room.els.error.textContent = text || "";
    room.els.error.hidden = !text;
  }

  function appError(text) {
    const node = $("#app-error");
    node.textContent = text || "";
    node.hidden = !text;
  }

  function setBusy(room, busy) {
    for (const button of room.card.querySelectorAll("button")) button.disabled = busy;
    room.card.setAttribute("aria-busy", busy ? "true" : "false");
  }

  async function act(room, action, body) {
    setBusy(room, true);
    roomError(room, "");
    try {
      applyStatus(await api("POST", roomPath(room.id, action), body));
    } catch (err) {
      if (err.code === "booked" && !(body && body.force)) {
        confirmForce(room, err.message, () => act(room, action, { ...(body || {}), force: true }));
      } else if (err.status !== 401) roomError(room, err.message);
    } finally {
      setBusy(room, false);
    }
  }

  // Bookings come first: a start or an extension running into one is refused, and the phone asks before
  // sending it again with force (the booked client then waits, their session shifted whole).
  function confirmForce(room, message, retry) {
    const dialog = $("#confirm-force");
    $("#force-text").textContent = message.replace(/ Force it \(.*$/, "");
    app.forceRetry = retry;
    dialog.returnValue = "";
    dialog.showModal();
  }

  function onForceClosed() {
    const retry = app.forceRetry;
    app.forceRetry = null;
    if (retry && $("#confirm-force").returnValue === "force") retry();
  }

  function confirmStop(room) {
    const dialog = $("#confirm-stop");
    const s = room.status || {};
    $("#confirm-text").textContent =
      `${s.name || room.id}: ${s.preset_name || s.preset || "the session"} ends now and the room goes to its after state.`;
    app.stopRoom = room;
    dialog.returnValue = "";
    dialog.showModal();
  }

  function onConfirmClosed() {
    const room = app.stopRoom;
    app.stopRoom = null;
    if (room && $("#confirm-stop").returnValue === "stop") act(room, "stop");
  }

  async function startSession(room) {
    const form = room.els.form;
    const body = { preset: form.elements.preset.value };
    const client = form.elements.client.value.trim();
    if (client) body.client = client;
    const minutesText = form.elements.minutes.value.trim();
    if (minutesText) {
      const n = Number(minutesText.replace(",", "."));
      if (!Number.isFinite(n) || n <= 0) {
        roomError(room, `length: '${minutesText}' is not a number of minutes; write e.g. 45, or leave it empty for the preset's length`);
        return;
      }
      if (n > 360) {
        roomError(room, `length: ${minutesText} minutes is longer than a session may be (6 hours, 360 minutes)`);
        return;
      }
      body.duration = `${n}m`;
    }
    if (!body.preset) {
      roomError(room, "pick a preset first");
      return;
    }
    setBusy(room, true);
    roomError(room, "");
    try {
      applyStatus(await api("POST", roomPath(room.id, "start"), body));
      form.elements.client.value = "";
      form.elements.minutes.value = "";
    } catch (err) {
      if (err.code === "booked") {
        confirmForce(room, err.message, () => act(room, "start", { ...body, force: true }));
      } else if (err.status !== 401) roomError(room, err.message);
    } finally {
      setBusy(room, false);
    }
  }

  // ---- presets --------------------------------------------------------------------------

  async function loadPresets() {
    const presets = await api("GET", "/api/presets");
    app.presets = Array.isArray(presets) ? presets : [];
    app.presetsById = new Map(app.presets.map((p) => [p.id, p]));
    for (const room of app.rooms.values()) {
      fillPresets(room);
      if (room.status) render(room);
    }
  }

  function fillPresets(room) {
    const select = room.els.select;
    const chosen = select.value;
    select.replaceChildren();
    const groups = new Map();
    for (const p of app.presets) {
      const key = p.technique || "other";
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(p);
    }
    for (const [technique, presets] of groups) {
      const group = document.createElement("optgroup");
      group.label = techniqueLabel(technique);
      for (const p of presets) {
        const label = /\d\s*(min|minutes|h|hours?)\b/i.test(p.name) ? p.name : `${p.name} · ${minutes(p.duration_s)}`;
        const option = el("option", label);
        option.value = p.id;
        group.append(option);
      }
      select.append(group);
    }
    if (chosen && app.presetsById.has(chosen)) select.value = chosen;
    describePreset(room);
  }

  function describePreset(room) {
    const p = app.presetsById.get(room.els.select.value);
    const minutesInput = room.els.form.elements.minutes;
    const e = room.els;
    if (!p) {
      e.summary.textContent = app.presets.length ? "" : "No presets are loaded in the daemon.";
      e.more.hidden = true;
      minutesInput.placeholder = "";
      return;
    }
    const text = (p.description || p.summary || "").replace(/\s+/g, " ").trim();
    const sentence = firstSentence(text);
    e.summary.textContent = `${minutes(p.duration_s)}${sentence ? `. ${sentence}` : ""}`;
    e.description.textContent = text;
    e.more.hidden = text.length <= sentence.length;
    minutesInput.placeholder = String(Math.round(p.duration_s / 60));
  }

  function firstSentence(text) {
    const match = /^(.+?[.!?])(\s|$)/.exec(text);
    return match && match[1].length < 160 ? match[1] : text.length <= 160 ? text : `${text.slice(0, 157).trimEnd()}…`;
  }

  // ---- bookings -------------------------------------------------------------------------

  async function loadBookings() {
    if (!app.signedIn) return;
    let bookings;
    try {
      bookings = await api("GET", `/api/bookings?day=${today()}`);
    } catch (err) {
      return; // the room cards and the banner already say what is wrong
    }
    const byRoom = new Map();
    for (const b of Array.isArray(bookings) ? bookings : []) {
      if (!byRoom.has(b.room)) byRoom.set(b.room, []);
      byRoom.get(b.room).push(b);
    }
    for (const room of app.rooms.values()) {
      const list = room.els.bookings;
      list.replaceChildren();
      const mine = (byRoom.get(room.id) || []).sort((a, b) => String(a.start).localeCompare(String(b.start)));
      if (mine.length === 0) {
        list.append(el("li", "No more bookings today", "muted"));
        continue;
      }
      for (const b of mine) {
        const item = el("li");
        const when = b.end ? `${timeOf(b.start)}–${timeOf(b.end)}` : timeOf(b.start);
        item.append(el("span", when, "when"), presetName(b.preset));
        if (b.client) item.append(` · ${b.client}`);
        if (b.waiting) item.append(el("span", ` (waiting: ${b.waiting})`, "muted"));
        list.append(item);
      }
    }
  }

  // ---- loading, signing in and out ---------------------------------------------------------

  async function loadRooms() {
    const rooms = await api("GET", "/api/rooms");
    if (app.presets.length === 0) await loadPresets();
    appError("");
    for (const status of Array.isArray(rooms) ? rooms : []) applyStatus(status);
    if (Array.isArray(rooms) && rooms.length === 0) {
      const loading = $("#loading");
      loading.textContent = "The daemon has no rooms configured.";
      loading.hidden = false;
    }
  }

  function showSignIn(message) {
    $("#app").hidden = true;
    $("#signout").hidden = true;
    $("#signin").hidden = false;
    const error = $("#signin-error");
    error.textContent = message || "";
    const input = $("#token");
    input.value = "";
    input.focus();
  }

  function enterApp(token) {
    app.token = token;
    app.signedIn = true;
    $("#signin").hidden = true;
    $("#app").hidden = false;
    $("#signout").hidden = false;
    appError("");
    clearInterval(app.resyncTimer);
    clearInterval(app.bookingsTimer);
    app.resyncTimer = setInterval(resync, RESYNC_MS);
    app.bookingsTimer = setInterval(loadBookings, BOOKINGS_MS);
  }

  async function boot(token) {
    enterApp(token);
    try {
      await loadPresets();
      await loadRooms();
      connectEvents();
      loadBookings();
    } catch (err) {
      if (err.status === 401) return; // signed out, with the reason
      if (err.status === 0) return; // lost: retrying
      appError(err.message);
      scheduleReconnect();
    }
  }

  async function resync() {
    if (!app.signedIn || document.hidden) return;
    try {
      await loadRooms();
      if (!app.events) connectEvents();
    } catch (err) {
      // the banner or the sign-in page says what went wrong
    }
  }

  function signOut(message) {
    app.signedIn = false;
    app.token = null;
    app.lost = false;
    closeEvents();
    clearTimeout(app.retryTimer);
    app.retryTimer = null;
    app.retryDelay = 1000;
    clearInterval(app.resyncTimer);
    clearInterval(app.bookingsTimer);
    clearTimeout(app.backTimer);
    try { localStorage.removeItem(TOKEN_KEY); } catch (err) { /* private mode */ }
    app.rooms.clear();
    $("#rooms").replaceChildren();
    $("#loading").hidden = false;
    $("#loading").textContent = "Loading the rooms…";
    document.body.classList.remove("is-lost");
    banner("", false);
    const dialog = $("#confirm-stop");
    if (dialog.open) dialog.close("cancel");
    showSignIn(message);
  }

  async function onSignIn(event) {
    event.preventDefault();
    const input = $("#token");
    const error = $("#signin-error");
    const token = input.value.trim();
    if (!token) {
      error.textContent = "Enter the token first.";
      input.focus();
      return;
    }
    const button = $("#signin-form button[type=submit]");
    button.disabled = true;
    error.textContent = "";
    app.token = token;
    try {
      await api("GET", "/api/presets");
    } catch (err) {
      button.disabled = false;
      if (err.status === 401) {
        showSignIn("The daemon refused that token: it is not the right one. Check it and enter it again.");
      } else if (err.status === 0) {
        error.textContent = "Cannot reach the ambience daemon. Is it running, and is this the right address? Try again.";
      } else {
        error.textContent = err.message;
      }
      return;
    }
    button.disabled = false;
    try { localStorage.setItem(TOKEN_KEY, token); } catch (err) { /* private mode: this visit only */ }
    input.value = "";
    boot(token);
  }

  // ---- start ----------------------------------------------------------------------------

  function init() {
    $("#signin-form").addEventListener("submit", onSignIn);
    $("#show-token").addEventListener("change", (event) => {
      $("#token").type = event.target.checked ? "text" : "password";
    });
    $("#signout").addEventListener("click", () => signOut("Signed out. Enter the token to sign in again."));
    $("#confirm-stop").addEventListener("close", onConfirmClosed);
    $("#confirm-force").addEventListener("close", onForceClosed);
    setInterval(() => { for (const room of app.rooms.values()) if (room.status) tickRoom(room); }, 1000);
    document.addEventListener("visibilitychange", () => { if (!document.hidden) resync(); });
    window.addEventListener("online", () => resync());

    let stored = null;
    try { stored = localStorage.getItem(TOKEN_KEY); } catch (err) { stored = null; }
    if (stored) boot(stored);
    else showSignIn("");
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
