"""The phone page's server side: ``/``, ``/static/``, and the ``/api/events`` stream (no browser).

The daemon's own HTTP server (``serve_http``) for a real Daemon's rooms in a thread
(:class:`ambience.testing.LiveDaemon`), so the event stream is read as a phone reads it: over a
socket, line by line.
"""

from __future__ import annotations

import asyncio
import json
import re
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ambience import __version__
from ambience.config.devices import check_favourites
from ambience.daemon import Daemon
from ambience.errors import ConfigError
from ambience.surfaces.http.app import create_app
from ambience.surfaces.http.icons import ICONS, draw
from ambience.surfaces.http.phone import PAGE_DIR, RESYNC, Hub, mount_web
from ambience.testing import TWO_ROOMS, LiveDaemon, eventually, write_clinic

TOKEN = "web-test-token-0123456789"
PRESET = "swedish-relaxation-60"
KEEPALIVE = 0.4
pytestmark = pytest.mark.usefixtures("clean_env")


@pytest.fixture
def web(tmp_path: Path) -> Iterator[LiveDaemon]:
    """A Daemon's rooms (no broker, no players) and the API with the page, a keep-alive every 0.4 s."""
    clinic = write_clinic(tmp_path, TWO_ROOMS, http={"port": 0, "token": TOKEN})
    with LiveDaemon(clinic.config, mqtt=False) as server:
        server.call(lambda: mount_web(server.app, server.controller, TOKEN, keepalive=KEEPALIVE))
        yield server


def streams(web: LiveDaemon) -> int:
    """How many event streams are open."""
    return len(web.app.state.web_hub.queues)


def events(response: httpx.Response) -> Iterator[tuple[str, Any]]:
    """(kind, value) from a server-sent-events response: ("room", status), ("comment", text), ("retry", ms)."""
    kind, data = "message", []
    for line in response.iter_lines():
        if line == "":
            if data:
                yield kind, json.loads("\n".join(data))
            kind, data = "message", []
        elif line.startswith(":"):
            yield "comment", line[1:].strip()
        elif line.startswith("event:"):
            kind = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
        elif line.startswith("retry:"):
            yield "retry", int(line[6:].strip())


def next_room(stream: Iterator[tuple[str, Any]], predicate=lambda status: True, timeout: float = 5.0) -> dict:
    deadline = time.monotonic() + timeout
    for kind, value in stream:
        if kind == "room" and predicate(value):
            return value
        assert time.monotonic() < deadline, "no matching room event in time"
    raise AssertionError("the event stream ended")


# ---- the page -------------------------------------------------------------------------------


def test_the_page_loads_without_a_token(web: LiveDaemon):
    response = httpx.get(web.url + "/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert '<script src="/static/app.js" defer></script>' in html
    assert 'href="/static/app.css"' in html
    assert 'id="signin-form"' in html and "aria-live" in html
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize(
    ("path", "kind"),
    [("/static/app.js", "javascript"), ("/static/app.css", "text/css"), ("/static/index.html", "html")],
)
def test_static_files_are_served_with_the_page_headers(web: LiveDaemon, path: str, kind: str):
    response = httpx.get(web.url + path)
    assert response.status_code == 200 and kind in response.headers["content-type"]
    assert response.content == (PAGE_DIR / path.rsplit("/", 1)[1]).read_bytes()
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_an_unknown_static_file_is_404(web: LiveDaemon):
    assert httpx.get(web.url + "/static/nope.js").status_code == 404
    assert httpx.get(web.url + "/static/../web.py").status_code == 404


@pytest.mark.unit
def test_the_page_fetches_nothing_from_elsewhere():
    """No CDN, no web font, no absolute URL of any kind: the page works on a clinic's offline network."""
    names = sorted(p.name for p in PAGE_DIR.iterdir() if p.suffix != ".png")
    assert names == [
        "app.css", "app.js", "desk.css", "desk.html", "desk.js", "i18n.js", "index.html", "manifest.webmanifest",
        "pair.css", "pair.html", "pair.js", "sw.js",
    ]  # fmt: skip
    for name in names:
        text = (PAGE_DIR / name).read_text(encoding="utf-8")
        assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/|@import|(?<!new )url\(", text, re.I), name
    for page in ("index.html", "desk.html", "pair.html"):
        html = (PAGE_DIR / page).read_text(encoding="utf-8")
        for ref in re.findall(r'(?:src|href)="([^"]+)"', html):
            assert ref.startswith("/static/") or ref.startswith("data:") or ref == "/", ref
        assert "<script>" not in html and "onclick" not in html  # the CSP allows no inline script


# ---- the event stream: the token ---------------------------------------------------------------


def test_events_need_the_token(web: LiveDaemon):
    missing = httpx.get(web.url + "/api/events")
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert "no token" in missing.json()["error"]
    for attempt in (
        {"params": {"token": "guess"}},
        {"params": {"token": TOKEN + "x"}},
        {"headers": {"Authorization": "Bearer guess"}},
    ):
        wrong = httpx.get(web.url + "/api/events", **attempt)
        assert wrong.status_code == 401, attempt
        assert wrong.json() == {"error": "wrong token"}
        assert "invalid_token" in wrong.headers["www-authenticate"]
    assert streams(web) == 0


def test_the_query_token_is_for_the_event_stream_only(web: LiveDaemon):
    response = httpx.get(web.url + "/api/rooms", params={"token": TOKEN})
    assert response.status_code == 401


def test_the_bearer_header_works_for_events_too(web: LiveDaemon):
    with httpx.stream("GET", web.url + "/api/events", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5) as r:
        assert r.status_code == 200
        assert next_room(events(r))["room"] == "studio"


# ---- the event stream: what it says ---------------------------------------------------------


def test_events_snapshot_every_room_then_follow_changes(web: LiveDaemon):
    with httpx.stream("GET", web.url + "/api/events", params={"token": TOKEN}, timeout=5) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        stream = events(response)
        assert next(stream) == ("retry", 2000)
        first, second = next_room(stream), next_room(stream)
        assert (first["room"], second["room"]) == ("studio", "garden")
        assert first["state"] == "idle" and first["name"] == "Treatment room 1"
        assert {"devices", "music", "next_booking", "remaining_s"} <= set(first)

        started = web.request(
            "POST", "/api/rooms/studio/start", {"preset": PRESET, "duration": "45m", "client": "A. Smith"}
        )
        assert started.status_code == 200, started.text
        running = next_room(stream, lambda s: s["room"] == "studio" and s["state"] == "running")
        assert running["preset"] == PRESET and running["client"] == "A. Smith"
        assert 2690 <= running["remaining_s"] <= 2700

        assert web.request("POST", "/api/rooms/studio/extend", {"by": "10m"}).status_code == 200
        extended = next_room(stream, lambda s: s["room"] == "studio" and s["remaining_s"] and s["remaining_s"] > 3000)
        assert 3290 <= extended["remaining_s"] <= 3300

        assert web.request("POST", "/api/rooms/studio/stop").status_code == 200
        assert next_room(stream, lambda s: s["room"] == "studio" and s["state"] == "idle")["remaining_s"] is None


def test_a_change_made_off_the_loop_still_reaches_the_stream(web: LiveDaemon):
    """The controller called from another thread (a tool, a test) hands the change over to the server's loop."""
    with httpx.stream("GET", web.url + "/api/events", params={"token": TOKEN}, timeout=5) as response:
        stream = events(response)
        next_room(stream, lambda s: s["room"] == "garden")  # the snapshot is through
        web.daemon.controller.changed("garden")
        assert next_room(stream)["room"] == "garden"


def test_keep_alive_comments_while_nothing_changes(web: LiveDaemon):
    with httpx.stream("GET", web.url + "/api/events", params={"token": TOKEN}, timeout=5) as response:
        started = time.monotonic()
        comments = [value for kind, value in _until(events(response), 2) if kind == "comment"]
        assert comments[:2] == ["keep-alive", "keep-alive"]
        assert time.monotonic() - started >= KEEPALIVE


def _until(stream: Iterator[tuple[str, Any]], comments: int) -> Iterator[tuple[str, Any]]:
    seen = 0
    for item in stream:
        yield item
        if item[0] == "comment":
            seen += 1
            if seen == comments:
                return


def test_a_closed_stream_unsubscribes(web: LiveDaemon):
    # (each reader is kept: a dropped generator closes its connection, which also unsubscribes)
    with httpx.stream("GET", web.url + "/api/events", params={"token": TOKEN}, timeout=5) as a:
        reader_a = events(a)
        next_room(reader_a)
        with httpx.stream("GET", web.url + "/api/events", params={"token": TOKEN}, timeout=5) as b:
            reader_b = events(b)
            next_room(reader_b)
            assert streams(web) == 2
        eventually(lambda: streams(web) == 1)
    eventually(lambda: streams(web) == 0)
    # and the controller's one listener copes with nobody listening
    assert web.request("POST", "/api/rooms/studio/start", {"preset": PRESET}).status_code == 200


def test_the_server_shutting_down_ends_every_stream(web: LiveDaemon):
    """serve_http calls hub.shutdown() first, so an open phone page never holds the daemon's stop up."""
    with httpx.stream("GET", web.url + "/api/events", params={"token": TOKEN}, timeout=5) as response:
        reader = events(response)
        next_room(reader, lambda s: s["room"] == "garden")  # the whole snapshot
        web.loop.call_soon_threadsafe(web.app.state.web_hub.shutdown)
        started = time.monotonic()
        assert [kind for kind, _ in reader if kind == "room"] == []  # the stream ends (no read timeout)
        assert time.monotonic() - started < 2
    eventually(lambda: streams(web) == 0)
    with httpx.stream("GET", web.url + "/api/events", params={"token": TOKEN}, timeout=5) as late:
        assert [kind for kind, _ in events(late)] == ["retry", "room", "room"]  # a snapshot, then the end


# ---- the fan-out ------------------------------------------------------------------------------


class FakeController:
    def __init__(self) -> None:
        self.listeners: list = []

    def subscribe(self, listener) -> None:
        self.listeners.append(listener)


@pytest.mark.unit
def test_the_hub_subscribes_once_and_fans_out():
    async def main() -> None:
        controller = FakeController()
        hub = Hub(controller)
        a, b = hub.open(), hub.open()
        assert len(controller.listeners) == 1
        controller.listeners[0]("studio")
        assert a.get_nowait() == b.get_nowait() == "studio"
        hub.close(a)
        controller.listeners[0]("garden")
        assert a.empty() and b.get_nowait() == "garden"

    asyncio.run(main())


@pytest.mark.unit
def test_a_stalled_stream_gets_one_full_refresh_instead_of_a_backlog():
    async def main() -> None:
        controller = FakeController()
        hub = Hub(controller)
        queue = hub.open()
        for i in range(1000):
            controller.listeners[0](f"room-{i % 3}")
        items = []
        while not queue.empty():
            items.append(queue.get_nowait())
        assert RESYNC in items and len(items) < 300

    asyncio.run(main())


@pytest.mark.unit
def test_mounting_again_only_changes_the_keep_alive(tmp_path: Path):
    """create_app may already mount the page; the tests' own mount_web then just sets the keep-alive."""
    daemon = Daemon(write_clinic(tmp_path, TWO_ROOMS, http=False).config, players=False)
    try:
        app = create_app(daemon.controller, TOKEN)
        mount_web(app, daemon.controller, TOKEN, keepalive=1.0)
        mount_web(app, daemon.controller, TOKEN, keepalive=2.0)
        assert app.state.web_mount["keepalive"] == 2.0
        assert [getattr(r, "path", None) for r in app.routes].count("/api/events") == 1
        with pytest.raises(RuntimeError, match="already mounted"):
            mount_web(app, daemon.controller, "another-token")
    finally:
        daemon.store.close()


# ---- a home-screen app: manifest, icons, service worker ---------------------------------------


def test_the_manifest_makes_an_installable_app(web: LiveDaemon):
    response = httpx.get(web.url + "/static/manifest.webmanifest")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/manifest+json")
    manifest = response.json()
    assert (manifest["start_url"], manifest["scope"], manifest["display"]) == ("/", "/", "standalone")
    assert manifest["name"] == manifest["short_name"] == "ambience"
    assert manifest["theme_color"] == manifest["background_color"] == "#17110d"
    icons = {(icon["sizes"], icon["purpose"]): icon["src"] for icon in manifest["icons"]}
    assert set(icons) == {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")}
    for (sizes, _), src in icons.items():
        png = httpx.get(web.url + src)
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        width, height = struct.unpack(">II", png.content[16:24])  # IHDR
        assert f"{width}x{height}" == sizes, src
    html = httpx.get(web.url + "/").text
    assert '<link rel="manifest" href="/static/manifest.webmanifest">' in html
    assert '<link rel="apple-touch-icon" href="/static/apple-touch-icon.png" sizes="180x180">' in html
    assert '<meta name="theme-color" content="#17110d">' in html


@pytest.mark.parametrize("name", sorted(ICONS))
def test_the_icons_are_what_the_script_draws(name: str):
    """The committed PNGs are made again exactly by ``python -m ambience.surfaces.http.icons``."""
    size, full_bleed = ICONS[name]
    assert (PAGE_DIR / name).read_bytes() == draw(size, full_bleed)


def test_the_service_worker_is_served_from_the_root_for_the_whole_page(web: LiveDaemon):
    response = httpx.get(web.url + "/sw.js")
    assert response.status_code == 200 and "javascript" in response.headers["content-type"]
    assert response.content == (PAGE_DIR / "sw.js").read_bytes()
    csp = httpx.get(web.url + "/").headers["content-security-policy"]
    assert "manifest-src 'self'" in csp and "worker-src 'self'" in csp
    # everything the worker keeps for offline use is there, and nothing of the API
    shell = re.search(r"const SHELL = \[(.*?)\];", response.text, re.S)
    assert shell is not None
    paths = re.findall(r'"([^"]+)"', shell.group(1))
    assert paths and not any(p.startswith("/api") for p in paths)
    for path in paths:
        assert httpx.get(web.url + path).status_code == 200, path


# ---- the catalog ----------------------------------------------------------------------------


def _catalog() -> dict[str, set[str]]:
    """The keys of each language in i18n.js (a JS object literal: one ``"key": …`` a line)."""
    text = (PAGE_DIR / "i18n.js").read_text(encoding="utf-8")
    blocks = re.split(r"^  (\w+): \{$", text, flags=re.M)[1:]
    return {
        lang: set(re.findall(r'^    "([\w.-]+)":', body, re.M))
        for lang, body in zip(blocks[::2], blocks[1::2], strict=True)
    }


@pytest.mark.unit
def test_every_word_of_the_page_is_in_the_catalog_in_english_and_german():
    catalog = _catalog()
    assert set(catalog) >= {"en", "de"}
    assert catalog["de"] == catalog["en"], "a key in one language and not the other"
    html = (PAGE_DIR / "index.html").read_text(encoding="utf-8")
    script = (PAGE_DIR / "app.js").read_text(encoding="utf-8")
    used = set(re.findall(r'data-i18n="([^"]+)"', html)) | set(re.findall(r':([\w.-]+)"', html))
    used |= set(re.findall(r'\bt\("([\w.-]+)"', script))
    assert used and used <= catalog["en"], sorted(used - catalog["en"])
    # no words in the page outside the catalog: only commands, a brand and a placeholder
    words = [
        w for w in _texts(html) if w not in {"ambience", "ambience pair", "sudo cat /var/lib/ambience/token", "0:00"}
    ]
    assert words == [], words


def _texts(html: str) -> list[str]:
    from html.parser import HTMLParser

    found: list[str] = []

    class Texts(HTMLParser):
        skip = 0

        def handle_starttag(self, tag: str, attrs: Any) -> None:
            self.skip += tag == "noscript"

        def handle_endtag(self, tag: str) -> None:
            self.skip -= tag == "noscript"

        def handle_data(self, data: str) -> None:
            if data.strip() and not self.skip:
                found.append(data.strip())

    Texts().feed(html)
    return found


# ---- settings, favourites, and a client's last preset ----------------------------------------------


def test_settings_say_units_home_visit_and_each_rooms_known_favourites(tmp_path: Path):
    rooms = {
        "studio": {**TWO_ROOMS["studio"], "favourites": ["express-30", "swedish-relaxation-60", "no-such-preset"]},
        "visit": {**TWO_ROOMS["garden"], "home_visit": True},
    }
    clinic = write_clinic(tmp_path, rooms, http={"port": 0, "token": TOKEN}, units="imperial")
    with LiveDaemon(clinic.config, mqtt=False) as server:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        assert httpx.get(server.url + "/api/settings").status_code == 401
        settings = httpx.get(server.url + "/api/settings", headers=headers).json()
    assert settings == {
        "units": "imperial",
        "home_visit": True,
        "version": __version__,
        "favourites": {"studio": ["express-30", "swedish-relaxation-60"], "visit": []},
    }


def test_settings_default_to_metric_and_no_home_visit(web: LiveDaemon):
    settings = httpx.get(web.url + "/api/settings", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert (settings["units"], settings["home_visit"], settings["favourites"]) == (
        "metric", False, {"studio": [], "garden": []}
    )  # fmt: skip


def test_clients_carry_their_last_preset(web: LiveDaemon):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    for label in ("A. Smith", "B. Jones"):
        assert httpx.post(web.url + "/api/clients", json={"label": label}, headers=headers).status_code == 201
    start = {"preset": "express-30", "client": "A. Smith"}
    assert httpx.post(web.url + "/api/rooms/studio/start", json=start, headers=headers).status_code == 200
    assert httpx.post(web.url + "/api/rooms/studio/stop", headers=headers).status_code == 200
    clients = httpx.get(web.url + "/api/clients", headers=headers).json()
    assert {c["label"]: c["last_preset"] for c in clients} == {"A. Smith": "express-30", "B. Jones": None}


@pytest.mark.unit
def test_an_unknown_or_repeated_favourite_is_named_with_its_room(tmp_path: Path):
    rooms = {"studio": {**TWO_ROOMS["studio"], "favourites": ["express-30", "swedish-relaxaton-60"]}}
    config = write_clinic(tmp_path, rooms).config
    issues = check_favourites(config.rooms, ["express-30", "swedish-relaxation-60"], "ambience.yaml")
    assert [str(i) for i in issues] == [
        "ambience.yaml: rooms.studio.favourites: unknown preset 'swedish-relaxaton-60'; "
        "did you mean 'swedish-relaxation-60'?"
    ]
    twice = {"studio": {**TWO_ROOMS["studio"], "favourites": ["express-30", "express-30"]}}
    with pytest.raises(ConfigError) as caught:
        write_clinic(tmp_path / "twice", twice)
    assert "rooms.studio.favourites: 'express-30' listed twice; name each preset once" in str(caught.value)


@pytest.mark.parametrize("path", ["/", "/static/app.js", "/static/i18n.js", "/static/app.css"])
def test_the_page_is_sent_compressed_to_a_browser_that_accepts_it(web: LiveDaemon, path: str):
    """The phone's first load (bench P9: ≤ 100 KB over the wire): the text files gzipped, the same bytes decoded."""
    file = PAGE_DIR / ("index.html" if path == "/" else path.rsplit("/", 1)[1])
    response = httpx.get(web.url + path, headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200 and response.headers["content-encoding"] == "gzip"
    assert response.content == file.read_bytes()
    assert int(response.headers["content-length"]) < file.stat().st_size / 2
    assert response.headers["cache-control"] == "no-cache" and "accept-encoding" in response.headers["vary"].lower()
    plain = httpx.get(web.url + path, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.content == file.read_bytes()


def test_the_api_and_the_event_stream_are_not_compressed(web: LiveDaemon):
    auth = {"Authorization": f"Bearer {TOKEN}", "Accept-Encoding": "gzip"}
    assert "content-encoding" not in httpx.get(web.url + "/api/presets", headers=auth).headers
    with httpx.stream("GET", web.url + "/api/events", headers=auth, timeout=5) as response:
        assert "content-encoding" not in response.headers
        assert next_room(events(response))["room"]  # the first event comes at once, not held in a buffer


def test_the_page_has_text_to_paint_before_its_script_runs(web: LiveDaemon):
    """The first contentful paint (bench P9) need not wait for the script: the title (the same in every language)
    is in the HTML itself; everything else is written by the script in the phone's language."""
    html = httpx.get(web.url + "/").text
    assert re.search(r'<h1 data-i18n="page.title">ambience</h1>', html)
