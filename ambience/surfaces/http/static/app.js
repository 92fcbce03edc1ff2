// ambience phone page: sign in, watch and run the rooms; installable, and readable when the daemon is gone.
// Plain JavaScript, no build step; every request goes to this page's own daemon. Every word the page says
// is in i18n.js (the catalog), in the browser's language where the catalog has it.
"use strict";

(() => {
  const TOKEN_KEY = "ambience.token";
  const LAST_KEY = "ambience.last";
  const RESYNC_MS = 30000;
  const BOOKINGS_MS = 60000;
  const SAVE_MS = 500;
  const NEW_CLIENT = "\u0000new";
  const DEVICE_ORDER = ["offline", "unconfirmed", "manual", "pending", "confirmed", "idle"];
  const SUGGESTION = /did you mean '([^']+)'\?/;

  const $ = (selector, root = document) => root.querySelector(selector);

  // ---- language: the catalog and Intl in the browser's first language the catalog has ---------------

  const CATALOG = self.AMBIENCE_I18N || { en: {} };
  const { lang, locale } = pickLanguage(navigator.languages && navigator.languages.length
    ? navigator.languages : [navigator.language || "en"]);
  const plurals = new Intl.PluralRules(locale);
  const clockFormat = new Intl.DateTimeFormat(locale, { hour: "numeric", minute: "2-digit" });
  const dayFormat = new Intl.DateTimeFormat(locale, { weekday: "short", day: "numeric", month: "short" });
  const oneDecimal = new Intl.NumberFormat(locale, { maximumFractionDigits: 1 });

  function pickLanguage(tags) {
    for (const tag of tags) {
      const base = String(tag).toLowerCase().split("-")[0];
      if (Object.prototype.hasOwnProperty.call(CATALOG, base)) {
        let intl = base;
        try { intl = Intl.getCanonicalLocales(tag)[0] || base; } catch (err) { intl = base; }
        return { lang: base, locale: intl };
      }
    }
    return { lang: "en", locale: "en" };
  }

  function lookup(key) {
    const mine = CATALOG[lang] || {};
    if (Object.prototype.hasOwnProperty.call(mine, key)) return mine[key];
    const english = CATALOG.en || {};
    return Object.prototype.hasOwnProperty.call(english, key) ? english[key] : undefined;
  }

  const known = (key) => lookup(key) !== undefined;

  function t(key, vars) {
    let text = lookup(key);
    if (text === undefined) return key;
    if (typeof text === "object") text = text[plurals.select(Number(vars && vars.n))] || text.other;
    return String(text).replace(/\{(\w+)\}/g, (whole, name) => (vars && name in vars ? String(vars[name]) : whole));
  }

  function translate(root) {
    for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    for (const node of root.querySelectorAll("[data-i18n-attr]")) {
      for (const pair of node.dataset.i18nAttr.split(",")) {
        const [attr, key] = pair.split(":");
        node.setAttribute(attr.trim(), t(key.trim()));
      }
    }
  }

  // ---- the page's state --------------------------------------------------------------------------

  const app = {
    token: null,
    signedIn: false,
    settings: { units: "metric", home_visit: false, favourites: {} },
    presets: [],
    presetsById: new Map(),
    clients: [],
    rooms: new Map(), // room id -> {status, syncedAt, card, els, lastMinute}
    heardAt: null, // Date.now() of the daemon's last answer
    events: null,
    lost: false,
    left: false,
    retryTimer: null,
    retryDelay: 1000,
    backTimer: null,
    resyncTimer: null,
    bookingsTimer: null,
    saveTimer: null,
    restored: false, // the rooms shown are what this phone kept, not the daemon's answer
    stopRoom: null,
    forceRetry: null,
    wake: { sentinel: null, pending: false },
  };

  class ApiError extends Error {
    constructor(message, status, code, suggestion) {
      super(message);
      this.status = status;
      this.code = code || null;
      this.suggestion = suggestion || null;
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
      throw new ApiError(t("error.unreachable"), 0);
    }
    const text = await response.text().catch(() => "");
    let data = null;
    if (text) {
      try { data = JSON.parse(text); } catch (err) { data = null; }
    }
    if (response.status === 401) {
      if (app.signedIn) signOut(t("signin.saved_refused"), true);
      throw new ApiError(t("error.refused_token"), 401);
    }
    if (!response.ok) {
      const message = data && typeof data.error === "string" && data.error
        ? data.error
        : t("error.status", { status: `${response.status} ${response.statusText}`.trim() });
      if (response.status >= 502 && response.status <= 504) daemonLost();
      const str = (key) => (data && typeof data[key] === "string" ? data[key] : null);
      throw new ApiError(message, response.status, str("code"), str("suggestion"));
    }
    app.heardAt = Date.now();
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

  function timeOf(when) {
    const d = new Date(when);
    return Number.isNaN(d.getTime()) ? "" : clockFormat.format(d);
  }

  function dayAndTime(iso) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return "";
    if (d.toDateString() === new Date().toDateString()) return timeOf(iso);
    return `${dayFormat.format(d)} ${timeOf(iso)}`;
  }

  const minutes = (seconds) => t("minutes", { n: oneDecimal.format(seconds / 60) });

  // A temperature held in °C, shown in the config's units (the page converts; the daemon keeps °C).
  function temperature(celsius) {
    const imperial = app.settings.units === "imperial";
    const value = imperial ? celsius * 9 / 5 + 32 : celsius;
    return t("temperature.value", { value: oneDecimal.format(Math.round(value * 10) / 10), unit: imperial ? "°F" : "°C" });
  }

  function today() {
    const d = new Date();
    const pad = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  }

  function techniqueLabel(technique) {
    const key = `technique.${technique || "other"}`;
    if (known(key)) return t(key);
    const text = String(technique).replace(/-/g, " ");
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  const presetName = (id) => (app.presetsById.get(id) || {}).name || id;

  // "Swedish relaxation, 60 minutes" -> "Swedish relaxation · 60 min": the name without its length, then the length.
  function shortLabel(preset) {
    const name = preset.name.replace(/[,·-]?\s*\d+([.,]\d+)?\s*(min|minutes|minuten|h|hours?|stunden?)\b.*$/i, "").trim();
    return `${name || preset.name} · ${minutes(preset.duration_s)}`;
  }

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  // ---- connection banner, and the last known state when the daemon is gone -------------------------

  function banner(text, lost) {
    const node = $("#connection");
    node.textContent = text;
    node.classList.toggle("lost", Boolean(lost));
    node.hidden = !text;
  }

  function lostText() {
    return app.heardAt ? t("connection.unreachable", { time: timeOf(app.heardAt) }) : t("connection.unreachable_nothing");
  }

  function daemonLost() {
    if (!app.signedIn || app.left) return;
    clearTimeout(app.backTimer);
    if (!app.lost) {
      app.lost = true;
      document.body.classList.add("is-lost");
      if (app.rooms.size === 0) restoreLast();
      else saveNow();
      for (const room of app.rooms.values()) room.card.classList.add("stale");
    }
    banner(lostText(), true);
    scheduleReconnect();
  }

  function daemonBack() {
    app.heardAt = Date.now();
    if (!app.lost) return;
    app.lost = false;
    app.retryDelay = 1000;
    clearTimeout(app.retryTimer);
    app.retryTimer = null;
    document.body.classList.remove("is-lost");
    for (const room of app.rooms.values()) room.card.classList.remove("stale");
    banner(t("connection.back"), false);
    clearTimeout(app.backTimer);
    app.backTimer = setTimeout(() => { if (!app.lost) banner("", false); }, 4000);
    loadSettings().catch(() => {});
    loadPresets().catch(() => {});
    loadClients();
    loadBookings();
  }

  function scheduleReconnect() {
    if (app.retryTimer || !app.signedIn || app.left) return;
    const delay = app.retryDelay;
    app.retryDelay = Math.min(app.retryDelay * 2, 8000);
    app.retryTimer = setTimeout(async () => {
      app.retryTimer = null;
      if (!app.signedIn) return;
      try {
        if (app.presets.length === 0 || app.restored) await loadPresets();
        await loadRooms();
        connectEvents();
      } catch (err) {
        if (err.status !== 401) scheduleReconnect();
      }
    }, delay);
  }

  // What the page last knew, kept on this phone (the service worker keeps the page itself): shown greyed,
  // with the time it is from, when the daemon cannot be reached.
  function saveSoon() {
    if (app.saveTimer) return;
    app.saveTimer = setTimeout(saveNow, SAVE_MS);
  }

  function saveNow() {
    clearTimeout(app.saveTimer);
    app.saveTimer = null;
    if (!app.signedIn || app.lost && app.restored) return;
    const rooms = [...app.rooms.values()].filter((r) => r.status).map((r) => {
      const left = remaining(r);
      return left === null ? r.status : { ...r.status, remaining_s: left };
    });
    const last = { at: app.heardAt || Date.now(), rooms, presets: app.presets, settings: app.settings };
    try { localStorage.setItem(LAST_KEY, JSON.stringify(last)); } catch (err) { /* full, or private mode */ }
  }

  function restoreLast() {
    let last = null;
    try { last = JSON.parse(localStorage.getItem(LAST_KEY) || "null"); } catch (err) { last = null; }
    if (!last || !Array.isArray(last.rooms) || typeof last.at !== "number") return;
    app.restored = true;
    app.heardAt = last.at;
    if (last.settings && typeof last.settings === "object") app.settings = { ...app.settings, ...last.settings };
    if (app.presets.length === 0 && Array.isArray(last.presets)) setPresets(last.presets);
    const age = Date.now() - last.at;
    for (const status of last.rooms) {
      applyStatus(status);
      const room = app.rooms.get(status.room);
      if (room) {
        room.syncedAt = performance.now() - age; // the countdown goes on from when it was saved
        render(room);
      }
    }
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
      app.heardAt = Date.now();
      applyStatus(status);
    });
    source.addEventListener("error", () => {
      if (app.events !== source) return;
      if (source.readyState === EventSource.CLOSED) closeEvents(); // refused (401) or not a stream: ask again
      daemonLost(); // else the browser reconnects by itself; "open" clears the banner
    });
  }

  // ---- rooms --------------------------------------------------------------------------------

  function roomEntry(id) {
    let room = app.rooms.get(id);
    if (room) return room;
    const card = $("#room-template").content.firstElementChild.cloneNode(true);
    translate(card);
    card.dataset.room = id;
    const els = {
      name: $(".room-name", card),
      badge: $(".state-badge", card),
      preset: $(".preset-name", card),
      phase: $(".phase", card),
      clientLine: $(".client-line", card),
      countdownBox: $(".countdown-box", card),
      countdown: $(".countdown", card),
      ends: $(".ends", card),
      live: $(".room-live", card),
      devices: $(".devices", card),
      deviceList: $(".device-list ul", card),
      attentionRow: $(".attention-row", card),
      attention: $(".attention", card),
      music: $(".music", card),
      temperatureRow: $(".temperature-row", card),
      temperature: $(".temperature", card),
      next: $(".next-booking", card),
      error: $(".room-error", card),
      fix: $(".fix", card),
      controls: $(".controls", card),
      pause: $(".pause", card),
      resume: $(".resume", card),
      stop: $(".stop", card),
      extend: [...card.querySelectorAll(".extend")],
      form: $(".start-form", card),
      client: $(".start-form select[name=client]", card),
      newClient: $(".new-client", card),
      favourites: $(".favourites", card),
      favouriteButtons: $(".favourite-buttons", card),
      all: $(".all-presets", card),
      select: $(".start-form select[name=preset]", card),
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
      button.addEventListener("click", () => act(room, "extend", { by: button.dataset.by }));
    }
    els.stop.addEventListener("click", () => confirmStop(room));
    els.select.addEventListener("change", () => describePreset(room));
    els.client.addEventListener("change", () => {
      els.newClient.hidden = els.client.value !== NEW_CLIENT;
      if (!els.newClient.hidden) $("input", els.newClient).focus();
      renderFavourites(room);
    });
    els.form.addEventListener("submit", (event) => {
      event.preventDefault();
      startSession(room, els.select.value);
    });
    fillPresets(room);
    fillClients(room);
    renderFavourites(room);
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
      announce(room, t("announce.state", { room: status.name || status.room, state: stateLabel(status.state) }));
      loadBookings();
    }
    updateWakeLock();
    saveSoon();
  }

  const stateLabel = (state) => (known(`state.${state}`) ? t(`state.${state}`) : state);

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
    e.badge.textContent = stateLabel(s.state);
    e.preset.textContent = active ? (s.preset_name || presetName(s.preset) || "") : t("session.none");
    e.phase.textContent = active && s.phase ? `· ${s.phase}` : "";
    e.clientLine.hidden = !(active && s.client);
    e.clientLine.textContent = s.client ? t("session.client", { client: s.client }) : "";

    e.countdownBox.hidden = !active || s.remaining_s === null || s.remaining_s === undefined;
    tickRoom(room);
    const at = { start: timeOf(s.started_at), end: timeOf(s.ends_at) };
    if (s.waiting_since) {
      e.ends.textContent = t("ends.waiting", { time: timeOf(s.waiting_since) });
    } else if (s.state === "paused") {
      e.ends.textContent = t("ends.paused");
    } else if (s.state === "turnover") {
      e.ends.textContent = t("ends.turnover", at);
    } else if (s.booked_start) {
      e.ends.textContent = t("ends.late", { ...at, booked: timeOf(s.booked_start) });
    } else if (s.state === "preconditioning" && s.started_at) {
      e.ends.textContent = t("ends.preparing", at);
    } else {
      e.ends.textContent = s.ends_at ? t("ends.at", at) : "";
    }

    renderDevices(room);
    renderAttention(room);
    renderTemperature(room);
    renderMusic(room);
    const next = s.next_booking;
    if (next && next.start) {
      const who = next.client ? ` · ${next.client}` : "";
      const waiting = next.waiting ? t("booking.waiting", { waiting: next.waiting }) : "";
      e.next.textContent = `${dayAndTime(next.start)} ${presetName(next.preset)}${who}${waiting}`;
    } else {
      e.next.textContent = t("next.none");
    }

    e.controls.hidden = !active;
    e.pause.hidden = s.state !== "running";
    e.resume.hidden = s.state !== "paused";
    e.form.hidden = active;
  }

  const deviceStatus = (status) => (known(`device.${status}`) ? t(`device.${status}`) : status);

  function renderDevices(room) {
    const devices = Array.isArray(room.status.devices) ? room.status.devices : [];
    const e = room.els;
    e.devices.replaceChildren();
    e.deviceList.replaceChildren();
    if (devices.length === 0) {
      e.devices.textContent = t("devices.none");
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
      e.devices.append(el("span", `${counts.get(key)} ${deviceStatus(key)}`, `st-${key}`));
    });
    const owed = new Set((Array.isArray(room.status.owed) ? room.status.owed : []).map((o) => o.device));
    for (const d of devices) {
      const item = el("li");
      item.append(`${d.name || d.id}${d.role ? ` (${d.role})` : ""}: `, el("span", deviceStatus(d.status), `st-${d.status}`));
      if (owed.has(d.id)) item.append(el("span", t("device.putting_back"), "st-pending"));
      e.deviceList.append(item);
    }
    if (room.status.store_error) {
      e.deviceList.append(el("li", t("store.error", { error: room.status.store_error }), "st-offline"));
    }
  }

  // The devices that need a person, by name, and why (the daemon's English words for a reason the catalog lacks).
  function renderAttention(room) {
    const list = Array.isArray(room.status.attention) ? room.status.attention : [];
    const e = room.els;
    e.attentionRow.hidden = list.length === 0;
    e.attention.replaceChildren();
    list.forEach((a, i) => {
      if (i > 0) e.attention.append(" · ");
      const why = known(`attention.${a.why}`) ? t(`attention.${a.why}`) : (a.words || a.why || "");
      e.attention.append(el("span", `${a.name || a.device}: ${why}`, `st-${a.why === "owed" ? "pending" : "offline"}`));
    });
  }

  // The room's measured temperature and its target (climate, or the older temperature), in the config's units.
  function renderTemperature(room) {
    const s = room.status;
    const climate = s.climate && typeof s.climate === "object" ? s.climate : {};
    const current = typeof climate.current === "number" ? climate.current
      : (s.temperature && typeof s.temperature.current === "number" ? s.temperature.current : null);
    const target = typeof climate.target === "number" ? climate.target : null;
    const e = room.els;
    e.temperatureRow.hidden = current === null && target === null;
    if (e.temperatureRow.hidden) return;
    const parts = [];
    if (current !== null) parts.push(temperature(current));
    if (target !== null) parts.push(t("temperature.target", { value: temperature(target) }));
    const devices = Array.isArray(s.devices) ? s.devices : [];
    const heater = devices.find((d) => d.thermostat);
    if (heater) parts.push(t(heater.thermostat.heating ? "temperature.heating" : "temperature.heater_off"));
    e.temperature.textContent = parts.join(" · ");
  }

  function renderMusic(room) {
    const m = room.status.music || {};
    const node = room.els.music;
    node.className = "music";
    const volume = typeof m.volume === "number" ? t("music.volume", { volume: Math.round(m.volume) }) : "";
    if (m.problem && typeof m.problem === "object") {
      const key = `music.problem.${m.problem.code}`;
      node.textContent = known(key) ? t(key) : (m.problem.text || m.words || "");
      node.classList.add("music-off");
    } else if (typeof m.state === "string") {
      if (m.state === "playing") {
        node.textContent = (m.title ? t("music.playing_title", { title: m.title }) : t("music.playing")) + volume;
        node.classList.add("music-ok");
      } else {
        node.textContent = known(`music.${m.state}`) ? t(`music.${m.state}`) : (m.words || m.state);
      }
    } else if (m.error) {
      node.textContent = t("music.not_playing_because", { why: m.error });
      node.classList.add("music-off");
    } else if (m.playing) {
      node.textContent = (m.track ? t("music.playing_title", { title: m.track }) : t("music.playing")) + volume;
      node.classList.add("music-ok");
    } else {
      node.textContent = room.status.state === "idle" ? t("music.silent") : t("music.not_playing");
    }
  }

  function tickRoom(room) {
    const left = remaining(room);
    if (left === null) return;
    room.els.countdown.textContent = clock(left);
    const minute = Math.ceil(left / 60);
    if (room.lastMinute !== null && minute !== room.lastMinute && (minute === 5 || minute === 1)) {
      announce(room, t("announce.left", { room: room.status.name || room.id, n: minute }));
    }
    room.lastMinute = minute;
  }

  function announce(room, text) {
    room.els.live.textContent = text;
  }

  function roomError(room, text, fix) {
    room.els.error.textContent = text || "";
    room.els.error.hidden = !text;
    const button = room.els.fix;
    button.hidden = !fix;
    button.onclick = null;
    if (fix) {
      button.textContent = fix.label;
      button.onclick = fix.run;
    }
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
    $("#confirm-text").textContent = t("stop.text", {
      room: s.name || room.id, preset: s.preset_name || presetName(s.preset) || t("stop.the_session"),
    });
    app.stopRoom = room;
    dialog.returnValue = "";
    dialog.showModal();
  }

  function onConfirmClosed() {
    const room = app.stopRoom;
    app.stopRoom = null;
    if (room && $("#confirm-stop").returnValue === "stop") act(room, "stop");
  }

  // ---- starting: a favourite's big button, or the full list ---------------------------------------

  function chosenClient(room) {
    const value = room.els.client.value;
    if (value === NEW_CLIENT) return $("input", room.els.newClient).value.trim();
    return value;
  }

  function chooseClient(room, label) {
    const select = room.els.client;
    if (app.clients.some((c) => c.label === label)) {
      select.value = label;
      room.els.newClient.hidden = true;
    } else {
      select.value = NEW_CLIENT;
      room.els.newClient.hidden = false;
      $("input", room.els.newClient).value = label;
    }
    renderFavourites(room);
  }

  async function startSession(room, preset) {
    const form = room.els.form;
    const body = { preset };
    const client = chosenClient(room);
    if (client) body.client = client;
    const minutesText = form.elements.minutes.value.trim();
    if (minutesText) {
      const n = Number(minutesText.replace(",", "."));
      if (!Number.isFinite(n) || n <= 0) {
        roomError(room, t("start.bad_length", { text: minutesText }));
        return;
      }
      if (n > 360) {
        roomError(room, t("start.too_long", { text: minutesText }));
        return;
      }
      body.duration = `${n}m`;
    }
    if (!body.preset) {
      roomError(room, t("start.pick_first"));
      return;
    }
    setBusy(room, true);
    roomError(room, "");
    try {
      applyStatus(await api("POST", roomPath(room.id, "start"), body));
      room.els.client.value = "";
      room.els.newClient.hidden = true;
      $("input", room.els.newClient).value = "";
      form.elements.minutes.value = "";
      room.els.select.value = "";
      room.els.all.open = !hasFavourites(room);
      describePreset(room);
      renderFavourites(room);
      loadClients();
    } catch (err) {
      if (err.code === "booked") {
        confirmForce(room, err.message, () => act(room, "start", { ...body, force: true }));
      } else if (err.status !== 401) {
        // "unknown client 'A Smith'; did you mean 'A. Smith'?": one tap takes the suggestion and starts.
        const match = SUGGESTION.exec(err.message);
        const label = err.suggestion || (match && /client/i.test(err.message) ? match[1] : null);
        const fix = label && {
          label: t("start.use_suggestion", { label }),
          run: () => { chooseClient(room, label); startSession(room, preset); },
        };
        roomError(room, err.message, fix);
      }
    } finally {
      setBusy(room, false);
    }
  }

  function hasFavourites(room) {
    return favouriteIds(room).length > 0;
  }

  // The room's favourites; the chosen client's last preset first (marked), when there is one.
  function favouriteIds(room) {
    const ids = ((app.settings.favourites || {})[room.id] || []).filter((id) => app.presetsById.has(id));
    const label = chosenClient(room);
    const client = app.clients.find((c) => c.label === label);
    const last = client && app.presetsById.has(client.last_preset) ? client.last_preset : null;
    return last ? [last, ...ids.filter((id) => id !== last)] : ids;
  }

  function renderFavourites(room) {
    const e = room.els;
    const ids = favouriteIds(room);
    const label = chosenClient(room);
    const client = app.clients.find((c) => c.label === label);
    const buttons = ids.map((id) => {
      const preset = app.presetsById.get(id);
      const button = el("button", shortLabel(preset), "favourite primary");
      button.type = "button";
      button.dataset.preset = id;
      if (client && client.last_preset === id) button.append(el("span", ` · ${t("start.last_time")}`, "last-time"));
      button.addEventListener("click", () => startSession(room, id));
      return button;
    });
    e.favouriteButtons.replaceChildren(...buttons);
    const had = !e.favourites.hidden;
    e.favourites.hidden = buttons.length === 0;
    if (buttons.length === 0) e.all.open = true;
    else if (!had) e.all.open = false;
  }

  function fillClients(room) {
    const select = room.els.client;
    const chosen = select.value;
    const options = [el("option", t("start.client_none"))];
    options[0].value = "";
    for (const c of app.clients) {
      const option = el("option", c.label);
      option.value = c.label;
      options.push(option);
    }
    const other = el("option", t("start.client_new"));
    other.value = NEW_CLIENT;
    options.push(other);
    select.replaceChildren(...options);
    select.value = [...select.options].some((o) => o.value === chosen) ? chosen : "";
    room.els.newClient.hidden = select.value !== NEW_CLIENT;
  }

  // ---- presets, clients, settings -------------------------------------------------------------

  function setPresets(presets) {
    app.presets = Array.isArray(presets) ? presets : [];
    app.presetsById = new Map(app.presets.map((p) => [p.id, p]));
    for (const room of app.rooms.values()) {
      fillPresets(room);
      renderFavourites(room);
      if (room.status) render(room);
    }
  }

  async function loadPresets() {
    setPresets(await api("GET", "/api/presets"));
    app.restored = false;
  }

  async function loadSettings() {
    const settings = await api("GET", "/api/settings");
    if (settings && typeof settings === "object") app.settings = { ...app.settings, ...settings };
    $("#leave").hidden = !app.settings.home_visit;
    for (const room of app.rooms.values()) {
      renderFavourites(room);
      if (room.status) render(room);
    }
  }

  async function loadClients() {
    let clients;
    try {
      clients = await api("GET", "/api/clients");
    } catch (err) {
      return; // the banner says what is wrong; the list stays as it was
    }
    app.clients = (Array.isArray(clients) ? clients : []).filter((c) => c && typeof c.label === "string");
    for (const room of app.rooms.values()) {
      fillClients(room);
      renderFavourites(room);
    }
  }

  function fillPresets(room) {
    const select = room.els.select;
    const chosen = select.value;
    const first = el("option", t("start.choose"));
    first.value = "";
    select.replaceChildren(first);
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
        const option = el("option", shortLabel(p));
        option.value = p.id;
        group.append(option);
      }
      select.append(group);
    }
    select.value = chosen && app.presetsById.has(chosen) ? chosen : "";
    describePreset(room);
  }

  function describePreset(room) {
    const p = app.presetsById.get(room.els.select.value);
    const minutesInput = room.els.form.elements.minutes;
    const e = room.els;
    if (!p) {
      e.summary.textContent = app.presets.length ? "" : t("start.no_presets");
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
        list.append(el("li", t("bookings.none"), "muted"));
        continue;
      }
      for (const b of mine) {
        const item = el("li");
        const when = b.end ? `${timeOf(b.start)}–${timeOf(b.end)}` : timeOf(b.start);
        item.append(el("span", when, "when"), presetName(b.preset));
        if (b.client) item.append(` · ${b.client}`);
        if (b.waiting) item.append(el("span", t("booking.waiting", { waiting: b.waiting }), "muted"));
        list.append(item);
      }
    }
  }

  // ---- the screen stays awake while a session runs ---------------------------------------------

  function wakeState(state) {
    document.documentElement.dataset.wakeLock = state;
  }

  function updateWakeLock() {
    const wake = app.wake;
    const wanted = app.signedIn && [...app.rooms.values()].some((r) => r.status && r.status.state !== "idle");
    if (!("wakeLock" in navigator)) {
      wakeState(wanted ? "unsupported" : "none");
      return;
    }
    if (wanted && !wake.sentinel && !wake.pending && document.visibilityState === "visible") {
      wake.pending = true;
      navigator.wakeLock.request("screen").then((sentinel) => {
        wake.pending = false;
        wake.sentinel = sentinel;
        wakeState("held");
        sentinel.addEventListener("release", () => {
          if (wake.sentinel === sentinel) wake.sentinel = null;
          wakeState("released");
        });
        updateWakeLock(); // nothing runs any more: let go
      }, () => {
        wake.pending = false;
        wakeState("refused"); // not allowed here (battery saver, no permission): the screen may sleep
      });
    } else if (!wanted && wake.sentinel) {
      const sentinel = wake.sentinel;
      wake.sentinel = null;
      sentinel.release().catch(() => {});
    }
  }

  // ---- a home visit: leave ----------------------------------------------------------------

  function confirmLeave() {
    const dialog = $("#confirm-leave");
    dialog.returnValue = "";
    dialog.showModal();
  }

  async function onLeaveClosed() {
    if ($("#confirm-leave").returnValue !== "leave") return;
    const button = $("#leave");
    button.disabled = true;
    let answer;
    try {
      answer = await api("POST", "/api/visit/leave", {});
    } catch (err) {
      button.disabled = false;
      if (err.status !== 401) appError(err.message);
      return;
    }
    app.left = true; // the daemon exits now: nothing to reconnect to
    closeEvents();
    clearTimeout(app.retryTimer);
    clearInterval(app.resyncTimer);
    clearInterval(app.bookingsTimer);
    $("#put-back").replaceChildren(...putBack(answer));
    $("#app").hidden = true;
    $("#left").hidden = false;
    button.hidden = true;
    banner(t("left.banner"), false);
    updateWakeLock();
  }

  // What the departure put back (POST /api/visit/leave's rooms[].devices[].words), one line a device; the
  // room's name first when there are several; a device that did not confirm is marked.
  function putBack(answer) {
    const rooms = Array.isArray(answer && answer.rooms) ? answer.rooms : [];
    const items = [];
    for (const r of rooms) {
      for (const d of Array.isArray(r.devices) ? r.devices : []) {
        const words = d.words || d.name || d.device;
        items.push(el("li", rooms.length > 1 ? `${r.name || r.room}: ${words}` : words, d.confirmed === false ? "st-offline" : ""));
      }
    }
    return items.length ? items : [el("li", t("left.nothing"), "muted")];
  }

  // ---- loading, signing in and out ---------------------------------------------------------

  async function loadRooms() {
    const rooms = await api("GET", "/api/rooms");
    if (app.presets.length === 0) await loadPresets();
    appError("");
    for (const status of Array.isArray(rooms) ? rooms : []) applyStatus(status);
    if (Array.isArray(rooms) && rooms.length === 0) {
      const loading = $("#loading");
      loading.textContent = t("rooms.none");
      loading.hidden = false;
    }
  }

  function showSignIn(message, withToken) {
    $("#app").hidden = true;
    $("#signout").hidden = true;
    $("#leave").hidden = true;
    $("#signin").hidden = false;
    $("#signin-error").textContent = message || "";
    const details = $("#token-details");
    if (withToken) details.open = true;
    const input = $("#token");
    input.value = "";
    if (details.open) input.focus();
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
      await loadSettings();
      await loadPresets();
      await loadClients();
      await loadRooms();
      connectEvents();
      loadBookings();
    } catch (err) {
      if (err.status === 401) return; // signed out, with the reason
      if (err.status === 0) return; // lost: the last known state, retrying
      appError(err.message);
      scheduleReconnect();
    }
  }

  async function resync() {
    if (!app.signedIn || document.hidden || app.left) return;
    try {
      await loadRooms();
      if (!app.events) connectEvents();
    } catch (err) {
      // the banner or the sign-in page says what went wrong
    }
  }

  function signOut(message, withToken) {
    app.signedIn = false;
    app.token = null;
    app.lost = false;
    app.restored = false;
    app.heardAt = null;
    closeEvents();
    clearTimeout(app.retryTimer);
    app.retryTimer = null;
    app.retryDelay = 1000;
    clearInterval(app.resyncTimer);
    clearInterval(app.bookingsTimer);
    clearTimeout(app.backTimer);
    clearTimeout(app.saveTimer);
    app.saveTimer = null;
    try {
      localStorage.removeItem(TOKEN_KEY);
      localStorage.removeItem(LAST_KEY); // client labels: not kept on a phone that is signed out
    } catch (err) { /* private mode */ }
    app.rooms.clear();
    updateWakeLock();
    $("#rooms").replaceChildren();
    $("#loading").hidden = false;
    $("#loading").textContent = t("loading");
    document.body.classList.remove("is-lost");
    banner("", false);
    for (const id of ["#confirm-stop", "#confirm-force", "#confirm-leave"]) {
      const dialog = $(id);
      if (dialog.open) dialog.close("cancel");
    }
    showSignIn(message, withToken);
  }

  async function onSignIn(event) {
    event.preventDefault();
    const input = $("#token");
    const error = $("#signin-error");
    const token = input.value.trim();
    if (!token) {
      error.textContent = t("signin.empty");
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
        showSignIn(t("signin.refused"), true);
      } else if (err.status === 0) {
        error.textContent = t("signin.unreachable");
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
    document.documentElement.lang = lang;
    translate(document);
    wakeState("none");
    $("#signin-form").addEventListener("submit", onSignIn);
    $("#show-token").addEventListener("change", (event) => {
      $("#token").type = event.target.checked ? "text" : "password";
    });
    $("#signout").addEventListener("click", () => signOut(t("signin.signed_out")));
    $("#leave").addEventListener("click", confirmLeave);
    $("#confirm-stop").addEventListener("close", onConfirmClosed);
    $("#confirm-force").addEventListener("close", onForceClosed);
    $("#confirm-leave").addEventListener("close", onLeaveClosed);
    setInterval(() => { for (const room of app.rooms.values()) if (room.status) tickRoom(room); }, 1000);
    document.addEventListener("visibilitychange", () => {
      if (document.hidden) return;
      resync();
      updateWakeLock(); // the browser let go of the lock while the page was hidden
    });
    window.addEventListener("online", () => resync());
    window.addEventListener("pagehide", saveNow);
    if ("serviceWorker" in navigator) {
      // Only in a secure context (https, or this machine's own address): the page's shell for when the daemon is gone.
      navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {});
    }

    let stored = null;
    try { stored = localStorage.getItem(TOKEN_KEY); } catch (err) { stored = null; }
    if (stored) boot(stored);
    else showSignIn("");
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
