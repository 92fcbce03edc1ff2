// ambience phone page's service worker: the page's shell from the network first (so an upgrade shows at
// once), from this cache when the daemon cannot be reached, so the page opens and says so instead of the
// browser's error page. Nothing under /api is touched: those answers need the token and are never cached
// (the page keeps what it last knew of the rooms itself).
"use strict";

const CACHE = "ambience-shell-v1";
const SHELL = [
  "/",
  "/static/app.css",
  "/static/app.js",
  "/static/i18n.js",
  "/static/manifest.webmanifest",
  "/static/icon-192.png",
  "/static/icon-512.png",
  "/static/icon-maskable-512.png",
  "/static/apple-touch-icon.png",
];
const NETWORK_WAIT_MS = 4000; // a phone on a LAN whose daemon is gone may wait long for nothing

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((key) => key !== CACHE).map((key) => caches.delete(key))))
      .then(() => self.clients.claim()),
  );
});

function shellPath(url) {
  if (url.origin !== self.location.origin) return null;
  if (url.pathname === "/" || url.pathname === "/index.html") return "/";
  return SHELL.includes(url.pathname) ? url.pathname : null;
}

async function networkFirst(request, key) {
  const cache = await caches.open(CACHE);
  try {
    const response = await Promise.race([
      fetch(request),
      new Promise((_, reject) => setTimeout(() => reject(new Error("no answer")), NETWORK_WAIT_MS)),
    ]);
    if (response.ok) await cache.put(key, response.clone());
    return response;
  } catch (err) {
    const cached = await cache.match(key);
    if (cached) return cached;
    throw err;
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  const key = request.mode === "navigate" && url.pathname === "/" ? "/" : shellPath(url);
  if (key === null) return; // /api/…, /desk, /pair …: straight to the daemon
  event.respondWith(networkFirst(request, key));
});
