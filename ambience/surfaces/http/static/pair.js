// The page a pairing link opens: /pair#CODE. It trades the code for this phone's own device token
// (POST /api/pair), keeps the token where the phone page looks for it and opens the phone page.
// The code travels in the fragment, so it never reaches a server log or a Referer; it is wiped from
// the address bar at once. Nothing else is fetched; no token is ever shown.
(() => {
  "use strict";

  const TOKEN_KEY = "ambience.token"; // the phone page's (app.js)
  const status = document.getElementById("status");
  const form = document.getElementById("code-form");
  const input = document.getElementById("code");
  const done = document.getElementById("done");

  function say(text, kind) {
    status.textContent = text;
    status.className = "message" + (kind ? " " + kind : "");
  }

  // "Chrome on Android", "Safari on iPhone": what ambience pair --list shows for this phone.
  function phoneName() {
    const ua = navigator.userAgent || "";
    const os = /iPhone/.test(ua) ? "iPhone" : /iPad/.test(ua) ? "iPad" : /Android/.test(ua) ? "Android"
      : /Mac OS X/.test(ua) ? "Mac" : /Windows/.test(ua) ? "Windows" : /Linux/.test(ua) ? "Linux" : "";
    const browser = /EdgA?\//.test(ua) ? "Edge" : /Firefox\/|FxiOS/.test(ua) ? "Firefox"
      : /SamsungBrowser/.test(ua) ? "Samsung Internet" : /Chrome\/|CriOS/.test(ua) ? "Chrome"
      : /Safari\//.test(ua) ? "Safari" : "a browser";
    return os ? browser + " on " + os : browser;
  }

  async function pair(code) {
    say("Pairing…");
    form.hidden = true;
    let response;
    try {
      response = await fetch("/api/pair", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ code: code, name: phoneName() }),
        cache: "no-store",
        credentials: "omit",
      });
    } catch (err) {
      say("The ambience daemon cannot be reached from this phone. Is the phone on the same network?", "bad");
      form.hidden = false;
      return;
    }
    let body = {};
    try { body = await response.json(); } catch (err) { body = {}; }
    if (response.status !== 201 || typeof body.token !== "string") {
      const why = body.error || "pairing failed (HTTP " + response.status + ").";
      say(why.charAt(0).toUpperCase() + why.slice(1), "bad");
      form.hidden = false;
      return;
    }
    try {
      localStorage.setItem(TOKEN_KEY, body.token);
    } catch (err) {
      say("This browser does not let the page keep its token (private mode?); pair in a normal tab.", "bad");
      return;
    }
    say("Paired. Opening the phone page…", "ok");
    done.hidden = false;
    location.replace("/");
  }

  const fromLink = decodeURIComponent(location.hash.replace(/^#/, "")).trim();
  if (fromLink) {
    history.replaceState(null, "", location.pathname); // the code out of the address bar and history
    pair(fromLink);
  } else {
    say("No pairing code in the link.");
    form.hidden = false;
    input.focus();
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const code = input.value.trim();
    if (code) pair(code);
    else say("Type the pairing code that ambience pair printed.", "bad");
  });
})();
