// ambience front desk: every room's day as a timeline; book, move and cancel.
// Plain JavaScript, no build step. The picture is one GET /api/day, asked again whenever the phone page's
// event stream (/api/events) says a room changed; the token is the phone page's (same local storage key).
"use strict";

(() => {
  const TOKEN_KEY = "ambience.token";
  const LOST = "lost the ambience daemon — retrying";
  const TICK_MS = 15000;
  const REFRESH_MS = 60000;
  const FIRST_HOUR = 7;
  const LAST_HOUR = 21;

  const $ = (selector) => document.querySelector(selector);
  const desk = {
    token: null, day: null, skew: 0, presets: [], events: null, picked: null,
    refetch: null, retry: null, fmt: null,
  };

  class ApiError extends Error {
    constructor(message, status) { super(message); this.status = status; }
  }

  async function api(method, path, body) {
    const headers = { Authorization: `Bearer ${desk.token}` };
    const init = { method, headers, cache: "no-store" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (err) {
      lost();
      throw new ApiError(LOST, 0);
    }
    let data = null;
    try { data = await response.json(); } catch (err) { data = null; }
    if (response.status === 401) {
      signOut("The daemon refused the saved token. Enter the token again.");
      throw new ApiError("the daemon refused the token", 401);
    }
    if (!response.ok) {
      throw new ApiError(data && data.error ? data.error : `the daemon answered ${response.status}`, response.status);
    }
    return data;
  }

  // ---- time ----------------------------------------------------------------------------------

  const now = () => Date.now() + desk.skew; // the daemon's clock, as of the last answer
  const ms = (iso) => new Date(iso).getTime();
  const hhmm = (t) => desk.fmt.format(new Date(t));
  const mins = (t) => Math.max(0, Math.ceil(t / 60000));

  function windowOf(day) {
    // 07:00–21:00 of the day, widened to whatever is booked or running outside it.
    const from = ms(day.from);
    let start = from + FIRST_HOUR * 3600000;
    let end = from + LAST_HOUR * 3600000;
    for (const room of day.rooms) {
      for (const span of room.spans) {
        if (span.kind === "free") continue;
        start = Math.min(start, Math.floor(ms(span.from) / 3600000) * 3600000);
        end = Math.max(end, Math.ceil(ms(span.to) / 3600000) * 3600000);
      }
    }
    return [Math.max(start, from), Math.min(end, ms(day.to))];
  }

  // ---- drawing -------------------------------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function roomLines(room, t) {
    const s = room.now;
    const waitingSpan = room.spans.find((x) => x.kind === "booking" && x.booking.waiting && ms(x.booking.start) <= t);
    const lines = [];
    if (s.state === "preconditioning") {
      lines.push([`starts in ${mins(ms(s.started_at) - t)} min`, "soon"], [`pre-heat · ${s.preset}`, ""]);
    } else if (s.state === "running" || s.state === "paused") {
      lines.push([`ends ${hhmm(ms(s.ends_at))} · ${mins(ms(s.ends_at) - t)} min left`, ""]);
      lines.push([`${s.state === "paused" ? "paused" : (s.phase || "running")} · ${s.preset}`, ""]);
    } else {
      lines.push(["free now", ""]);
    }
    if (s.waiting_since || waitingSpan) {
      const since = s.waiting_since ? ms(s.waiting_since) : ms(waitingSpan.booking.start);
      lines.push([`client waiting since ${hhmm(since)}`, "waiting"]);
    } else {
      const next = room.spans.find((x) => x.kind === "booking" && ms(x.booking.start) > t);
      if (next) lines.push([`next ${hhmm(ms(next.booking.start))} · ${next.booking.preset}`, ""]);
    }
    return lines;
  }

  function spanLines(span) {
    if (span.kind === "booking") {
      const b = span.booking;
      return [`${hhmm(ms(b.start))}–${hhmm(ms(b.end))}`, b.preset, b.client];
    }
    if (span.kind === "session") {
      const s = span.session;
      return [`${s.phase || s.state} · ends ${hhmm(ms(s.ends_at))}`, s.preset, s.client];
    }
    return [{ lead: "pre-heat", turnover: "turnover" }[span.kind] || ""];
  }

  const spanText = (span) => spanLines(span).filter(Boolean).join(" · ");

  function render() {
    const day = desk.day;
    if (!day) return;
    const [start, end] = windowOf(day);
    const place = (t) => `${((Math.min(Math.max(t, start), end) - start) / (end - start)) * 100}%`;
    const hours = $("#hours");
    hours.replaceChildren();
    const gridlines = [];
    for (let h = Math.ceil(start / 3600000) * 3600000; h <= end; h += 3600000) {
      const label = el("span", "hour", hhmm(h));
      label.style.left = place(h);
      if (h > start && h < end) hours.append(label);
      gridlines.push(h);
    }
    const t = now();
    const rows = $("#rows");
    rows.replaceChildren();
    for (const room of day.rooms) {
      const row = el("div", "row");
      row.dataset.room = room.room;
      row.dataset.state = room.now.state;
      const head = el("div", "room-head");
      head.append(el("div", "room-name", room.name));
      for (const [text, kind] of roomLines(room, t)) head.append(el("div", `room-line ${kind}`, text));
      const track = el("div", "track");
      for (const h of gridlines) {
        const line = el("div", "gridline");
        line.style.left = place(h);
        track.append(line);
      }
      for (const span of room.spans) {
        if (span.kind === "free" || ms(span.to) <= start || ms(span.from) >= end) continue;
        const item = span.booking || span.session || {};
        const node = el(span.kind === "booking" ? "button" : "div", `span ${span.kind}`);
        for (const line of spanLines(span)) if (line) node.append(el("span", "line", line));
        if (span.kind === "booking") {
          node.type = "button";
          node.dataset.booking = item.id;
          if (item.waiting) node.classList.add("waiting");
          if (desk.picked && desk.picked.id === item.id) node.classList.add("picked");
          node.addEventListener("click", () => pick(item, room.room));
        }
        node.title = `${spanText(span)} (${hhmm(ms(span.from))}–${hhmm(ms(span.to))})`;
        node.style.left = place(ms(span.from));
        node.style.width = `calc(${place(ms(span.to))} - ${place(ms(span.from))})`;
        track.append(node);
      }
      if (t > start) {
        const past = el("div", "past");
        past.style.width = place(t);
        track.append(past);
      }
      if (t > start && t < end) {
        const line = el("div", "now-line");
        line.style.left = place(t);
        track.append(line);
      }
      row.append(head, track);
      rows.append(row);
    }
    $("#today").textContent = `${day.date} · ${day.timezone} · now ${hhmm(t)}`;
  }

  // ---- data ------------------------------------------------------------------------------------

  async function loadDay() {
    const asked = Date.now();
    const day = await api("GET", "/api/day");
    desk.skew = ms(day.now) + (Date.now() - asked) / 2 - Date.now();
    if (!desk.fmt || desk.day === null || desk.day.timezone !== day.timezone) {
      desk.fmt = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", timeZone: day.timezone });
    }
    desk.day = day;
    if (desk.picked && !day.rooms.some((r) => r.spans.some((s) => s.booking && s.booking.id === desk.picked.id))) {
      unpick();
    }
    fillRooms();
    render();
    back();
  }

  function soon() {
    clearTimeout(desk.refetch);
    desk.refetch = setTimeout(() => loadDay().catch(() => {}), 250);
  }

  function fillRooms() {
    for (const select of [$("#book-room"), $("#move-room")]) {
      const chosen = select.value;
      select.replaceChildren(...desk.day.rooms.map((r) => {
        const option = el("option", null, r.name);
        option.value = r.room;
        return option;
      }));
      if (chosen) select.value = chosen;
    }
  }

  async function loadPresets() {
    desk.presets = await api("GET", "/api/presets");
    $("#book-preset").replaceChildren(...desk.presets.map((p) => {
      const option = el("option", null, `${p.name} (${Math.round(p.duration_s / 60)} min)`);
      option.value = p.id;
      return option;
    }));
  }

  function connectEvents() {
    if (desk.events) desk.events.close();
    const source = new EventSource(`/api/events?token=${encodeURIComponent(desk.token)}`);
    desk.events = source;
    source.addEventListener("room", soon);
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CLOSED) lost();
    });
  }

  function lost() {
    const node = $("#connection");
    node.textContent = LOST;
    node.classList.add("lost");
    node.hidden = false;
    clearTimeout(desk.retry);
    desk.retry = setTimeout(() => {
      const again = $("#desk").hidden ? enter(desk.token) : loadDay().then(connectEvents);
      again.catch(() => {});
    }, 3000);
  }

  function back() {
    const node = $("#connection");
    if (!node.hidden) {
      node.hidden = true;
      node.classList.remove("lost");
    }
  }

  // ---- book, move, cancel --------------------------------------------------------------------

  function say(error, done) {
    const node = $("#desk-error");
    node.textContent = error || "";
    node.hidden = !error;
    $("#desk-done").textContent = done || "";
  }

  async function act(run, done) {
    say("", "");
    try {
      await run();
      say("", done);
      await loadDay();
      return true;
    } catch (err) {
      if (err.status !== 401) say(err.message, "");
      return false;
    }
  }

  async function book(event) {
    event.preventDefault();
    const form = event.target;
    const body = { room: form.room.value, preset: form.preset.value, at: form.at.value.trim() };
    const length = form.duration.value.trim();
    if (length) body.duration = /^\d+$/.test(length) ? `${length}m` : length;
    if (form.client.value.trim()) body.client = form.client.value.trim();
    if (!body.at) { say("at: write a time, e.g. 14:00 or tomorrow 9:30", ""); return; }
    let made = null;
    const ok = await act(async () => { made = (await api("POST", "/api/bookings", body)).booking; },
      "booked");
    if (ok && made) {
      say("", `booked ${made.room} ${made.preset} at ${hhmm(ms(made.start))}`);
      form.at.value = "";
      form.duration.value = "";
      form.client.value = "";
    }
  }

  function pick(booking, room) {
    desk.picked = booking;
    $("#picked").textContent = `${hhmm(ms(booking.start))} ${booking.preset}${booking.client ? ` · ${booking.client}` : ""}`;
    $("#move-room").value = room;
    $("#move-form").hidden = false;
    $("#cancel-booking").textContent = "Cancel booking";
    delete $("#cancel-booking").dataset.confirm;
    render();
  }

  function unpick() {
    desk.picked = null;
    $("#move-form").hidden = true;
    render();
  }

  async function move(event) {
    event.preventDefault();
    const form = event.target;
    const booking = desk.picked;
    if (!booking) return;
    const body = { at: form.at.value.trim(), room: form.room.value };
    if (!body.at) { say("at: write the new time, e.g. 15:00 or tomorrow 9:30", ""); return; }
    let moved = null;
    const ok = await act(async () => {
      moved = (await api("PATCH", `/api/bookings/${encodeURIComponent(booking.id)}`, body)).booking;
    }, "moved");
    if (ok && moved) {
      say("", `moved to ${moved.room} at ${hhmm(ms(moved.start))}`);
      form.at.value = "";
      pick(moved, moved.room);
    }
  }

  async function cancelPicked() {
    const button = $("#cancel-booking");
    const booking = desk.picked;
    if (!booking) return;
    if (!button.dataset.confirm) { // one more tap: a cancel is not undone
      button.dataset.confirm = "1";
      button.textContent = "Yes, cancel it";
      return;
    }
    const ok = await act(() => api("DELETE", `/api/bookings/${encodeURIComponent(booking.id)}`), "cancelled");
    if (ok) unpick();
  }

  // ---- signing in ------------------------------------------------------------------------------

  function signOut(message) {
    try { localStorage.removeItem(TOKEN_KEY); } catch (err) { /* private mode */ }
    desk.token = null;
    if (desk.events) desk.events.close();
    $("#desk").hidden = true;
    $("#signout").hidden = true;
    $("#signin").hidden = false;
    $("#signin-error").textContent = message || "";
  }

  async function enter(token) {
    desk.token = token;
    await loadDay();
    await loadPresets();
    try { localStorage.setItem(TOKEN_KEY, token); } catch (err) { /* this visit only */ }
    $("#signin").hidden = true;
    $("#desk").hidden = false;
    $("#signout").hidden = false;
    render();
    connectEvents();
  }

  async function onSignIn(event) {
    event.preventDefault();
    const token = $("#token").value.trim();
    if (!token) { $("#signin-error").textContent = "Enter the token."; return; }
    try {
      await enter(token);
    } catch (err) {
      $("#signin-error").textContent = err.status === 401 ? "The daemon refused that token." : err.message;
    }
  }

  function init() {
    $("#signin-form").addEventListener("submit", onSignIn);
    $("#book-form").addEventListener("submit", book);
    $("#move-form").addEventListener("submit", move);
    $("#cancel-booking").addEventListener("click", cancelPicked);
    $("#unpick").addEventListener("click", unpick);
    $("#signout").addEventListener("click", () => signOut(""));
    document.addEventListener("visibilitychange", () => { if (!document.hidden && desk.token) soon(); });
    setInterval(render, TICK_MS);
    setInterval(() => { if (desk.token) soon(); }, REFRESH_MS);
    let stored = null;
    try { stored = localStorage.getItem(TOKEN_KEY); } catch (err) { stored = null; }
    if (stored) enter(stored).catch(() => {}); // a refused token asks again; a lost daemon is retried
    else signOut("");
  }

  init();
})();
