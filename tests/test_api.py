"""The HTTP API against a real Controller (no broker: device commands are dropped, the rooms still run)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from ambience.config import Config
from ambience.daemon import Daemon
from ambience.infra.tokens import check, token_for_client, token_for_daemon
from ambience.surfaces.http.app import MAX_BODY, create_app, serve_http
from ambience.testing import TWO_ROOMS, Clock, draws, free_port, write_clinic

TOKEN = "test-token-0123456789"
PRESET = "swedish-relaxation-60"


@dataclass
class Api:
    http: TestClient
    daemon: Daemon
    clock: Clock

    def status(self, room: str = "studio") -> dict:
        return self.daemon.controller.status(room)[0]

    def settle(self, room: str = "studio") -> None:
        """What the room's loop does after a stop or the end: record history, apply the after state."""
        asyncio.run(self.daemon.rooms[room].tick())


def make_config(tmp_path: Path) -> Config:
    return write_clinic(tmp_path, TWO_ROOMS).config


pytestmark = pytest.mark.usefixtures("clean_env")


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    clock = Clock()
    daemon = Daemon(make_config(tmp_path), clock=clock, players=False)
    client = TestClient(create_app(daemon.controller, TOKEN), headers={"Authorization": f"Bearer {TOKEN}"})
    try:
        yield Api(client, daemon, clock)
    finally:
        client.close()
        daemon.store.close()


def error_of(response) -> str:
    body = response.json()
    assert isinstance(body, dict) and isinstance(body["error"], str) and body["error"], body
    return body["error"]


# ---- sessions --------------------------------------------------------------------------------


def test_healthz_needs_no_token(api: Api):
    response = api.http.get("/healthz", headers={"Authorization": ""})
    assert response.status_code == 200 and response.json() == {"ok": True}


def test_rooms_list_and_one_room(api: Api):
    rooms = api.http.get("/api/rooms").json()
    assert [r["room"] for r in rooms] == ["studio", "garden"]
    room = api.http.get("/api/rooms/studio").json()
    assert room["state"] == "idle" and room["name"] == "Treatment room 1"
    assert {d["id"] for d in room["devices"]} == {"studio-trv", "studio-lamp"}
    assert room == rooms[0]


def test_start_pause_resume_extend_stop_change_the_status(api: Api):
    started = api.http.post("/api/rooms/studio/start", json={"preset": PRESET, "duration": "45m"})
    assert started.status_code == 200, started.text
    assert started.json()["state"] == "running" and started.json()["preset"] == PRESET
    assert started.json()["remaining_s"] == 2700
    assert api.http.get("/api/rooms/studio").json()["state"] == "running"

    api.clock.advance(60)
    paused = api.http.post("/api/rooms/studio/pause").json()
    assert paused["state"] == "paused" and paused["remaining_s"] == 2640
    api.clock.advance(300)  # the countdown is frozen while paused
    assert api.http.get("/api/rooms/studio").json()["remaining_s"] == 2640

    resumed = api.http.post("/api/rooms/studio/resume", json={}).json()
    assert resumed["state"] == "running" and resumed["remaining_s"] == 2640

    extended = api.http.post("/api/rooms/studio/extend", json={"by": "10m"}).json()
    assert extended["remaining_s"] == 2640 + 600
    shortened = api.http.post("/api/rooms/studio/extend", json={"by": "-5m"}).json()
    assert shortened["remaining_s"] == 2640 + 300
    in_minutes = api.http.post("/api/rooms/studio/extend", json={"by": 1}).json()  # a bare number is minutes
    assert in_minutes["remaining_s"] == 2640 + 360
    as_text = api.http.post("/api/rooms/studio/extend", json={"by": "1"}).json()
    assert as_text["remaining_s"] == 2640 + 420

    stopped = api.http.post("/api/rooms/studio/stop")
    assert stopped.status_code == 200 and stopped.json()["state"] == "idle"
    assert api.http.get("/api/rooms/garden").json()["state"] == "idle"  # the other room untouched


def test_start_with_a_client_and_a_lead_time(api: Api):
    assert api.http.post("/api/clients", json={"label": "A. Smith", "comfort": {"no_music": True}}).status_code == 201
    body = {"preset": PRESET, "client": "A. Smith", "lead": "10m"}
    room = api.http.post("/api/rooms/studio/start", json=body).json()
    assert room["client"] == "A. Smith" and room["state"] == "preconditioning"
    assert room["remaining_s"] == 3600 + 600


def test_replace_ends_the_running_session(api: Api):
    api.http.post("/api/rooms/studio/start", json={"preset": PRESET})
    busy = api.http.post("/api/rooms/studio/start", json={"preset": "express-30"})
    assert busy.status_code == 409 and "busy" in error_of(busy)
    replaced = api.http.post("/api/rooms/studio/start", json={"preset": "express-30", "replace": True})
    assert replaced.status_code == 200 and replaced.json()["preset"] == "express-30"
    assert [h["outcome"] for h in api.http.get("/api/history").json()] == ["replaced"]


def test_history_after_a_stop(api: Api):
    api.http.post("/api/rooms/studio/start", json={"preset": PRESET, "client": "B"})
    api.clock.advance(120)
    api.http.post("/api/rooms/studio/stop")
    api.settle()
    history = api.http.get("/api/history").json()
    assert len(history) == 1
    row = history[0]
    assert (row["room"], row["preset"], row["client"], row["outcome"]) == ("studio", PRESET, "B", "stopped")
    assert row["ended_at"] - row["started_at"] == 120
    assert api.http.get("/api/history", params={"room": "studio"}).json() == history
    assert api.http.get("/api/history", params={"room": "garden"}).json() == []
    assert api.http.get("/api/history", params={"room": "", "limit": 1}).json() == history


def test_presets(api: Api):
    presets = api.http.get("/api/presets").json()
    swedish = next(p for p in presets if p["id"] == PRESET)
    assert swedish["duration_s"] == 3600 and swedish["name"]


def test_clients_add_list_remove(api: Api):
    body = {"label": "A. Smith", "comfort": {"temperature_offset": 1.5, "max_brightness": 40}}
    added = api.http.post("/api/clients", json=body)
    assert added.status_code == 201 and added.json()["comfort"]["max_brightness"] == 40
    assert [c["label"] for c in api.http.get("/api/clients").json()] == ["A. Smith"]
    assert api.http.delete("/api/clients/A. Smith").status_code == 204
    assert api.http.get("/api/clients").json() == []
    gone = api.http.delete("/api/clients/A. Smith")
    assert gone.status_code == 404 and "unknown client" in error_of(gone)
    too_long = api.http.delete("/api/clients/" + "x" * 61)  # no label can be this long: one clear 422, not a 500
    assert too_long.status_code == 422 and too_long.json()["issues"][0]["field"] == "label", too_long.text


def test_openapi_docs(api: Api):
    paths = api.http.get("/openapi.json", headers={"Authorization": ""}).json()["paths"]
    assert "/api/rooms/{room}/start" in paths and "/api/history" in paths
    start = paths["/api/rooms/{room}/start"]["post"]
    assert "preset" in start["requestBody"]["content"]["application/json"]["schema"]["properties"]


def test_no_docs_pages_that_load_scripts_from_a_cdn(api: Api):
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        answer = api.http.get(path, headers={"Authorization": ""})
        assert answer.status_code == 404 and "cdn" not in answer.text.lower()


def test_a_day_is_yyyy_mm_dd_and_nothing_else(api: Api):
    assert api.http.get("/api/bookings", params={"day": "2026-12-01"}).status_code == 200
    for bad in ("0", "20261201", "2026-02-30", "1.5", "2026-12-01T00:00"):
        answer = api.http.get("/api/bookings", params={"day": bad})
        assert answer.status_code == 422, bad
        assert answer.json()["issues"] == [
            {"field": "day", "message": f"{bad!r} is not allowed: a day is written YYYY-MM-DD, e.g. 2026-12-01"}
        ]


def test_an_unknown_query_parameter_is_422_naming_it(api: Api):
    answer = api.http.get("/api/history", params={"limt": 5})
    assert answer.status_code == 422
    assert answer.json()["issues"] == [{"field": "limt", "message": "unknown query parameter; did you mean 'limit'?"}]
    assert "allowed: none" in error_of(api.http.get("/api/rooms", params={"x": 1}))


def test_a_booking_time_before_the_first_day_there_is_is_422_not_a_crash(api: Api):
    answer = api.http.post("/api/bookings", json={"room": "studio", "preset": PRESET, "at": "0001-01-01T00:00+14:00"})
    assert answer.status_code == 422 and "'0001-01-01T00:00+14:00' is out of range" in error_of(answer)


def test_a_wrong_method_names_every_method_of_the_path(api: Api):
    for path, allowed in (("/api/bookings", "GET, POST"), ("/api/clients", "GET, POST"), ("/api/rooms/studio", "GET")):
        answer = api.http.request("PUT", path)
        assert answer.status_code == 405 and answer.headers["allow"] == allowed


def test_the_schema_lists_what_each_route_answers(api: Api):
    paths = api.http.get("/openapi.json").json()["paths"]
    assert set(paths["/api/rooms/{room}/start"]["post"]["responses"]) == {
        "200", "400", "401", "404", "409", "413", "422", "503"
    }  # fmt: skip
    assert "413" in paths["/api/clients"]["post"]["responses"] and "503" in paths["/healthz"]["get"]["responses"]
    assert "HTTPValidationError" not in str(paths)  # FastAPI's own 422 body is not what we answer
    day = next(p for p in paths["/api/bookings"]["get"]["parameters"] if p["name"] == "day")
    assert day["schema"] == {"type": "string", "format": "date", "title": "Day"}


# ---- the token --------------------------------------------------------------------------------

ENDPOINTS = [
    ("GET", "/api/rooms", None),
    ("GET", "/api/rooms/studio", None),
    ("POST", "/api/rooms/studio/start", {"preset": PRESET}),
    ("POST", "/api/rooms/studio/pause", None),
    ("POST", "/api/rooms/studio/resume", None),
    ("POST", "/api/rooms/studio/extend", {"by": "10m"}),
    ("POST", "/api/rooms/studio/stop", None),
    ("GET", "/api/presets", None),
    ("GET", "/api/clients", None),
    ("POST", "/api/clients", {"label": "x"}),
    ("DELETE", "/api/clients/x", None),
    ("GET", "/api/history", None),
    ("GET", "/api/rooms/nope", None),
]


@pytest.mark.parametrize(
    "header", [None, "Bearer wrong", f"Bearer {TOKEN}x", f"Basic {TOKEN}", "Bearer", f"bearer  {TOKEN[:-1]}"]
)
def test_every_endpoint_but_healthz_needs_the_token(api: Api, header):
    client = TestClient(api.http.app, headers={"Authorization": header} if header is not None else {})
    for method, path, body in ENDPOINTS:
        response = client.request(method, path, json=body)
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["www-authenticate"].startswith("Bearer")
        error_of(response)
    assert api.status()["state"] == "idle"  # nothing happened
    assert api.http.get("/api/clients").json() == []


def test_the_token_scheme_is_case_insensitive(api: Api):
    client = TestClient(api.http.app, headers={"Authorization": f"bearer {TOKEN}"})
    assert client.get("/api/rooms").status_code == 200


def test_check_is_exact():
    assert check("abc", "abc")
    assert not check("abd", "abc") and not check("ab", "abc") and not check("", "") and not check(None, "abc")
    assert not check("é", "e")


def test_token_generated_once_with_mode_0600(tmp_path: Path):
    config = make_config(tmp_path)
    token = token_for_daemon(config)
    file = config.state_dir / "token"
    assert len(token) >= 40 and file.read_text().strip() == token
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert token_for_daemon(config) == token  # kept across restarts
    assert token_for_client(config) == token


def test_token_from_config_and_env(tmp_path: Path, monkeypatch):
    config = make_config(tmp_path)
    configured = config.model_copy(update={"http": config.http.model_copy(update={"token": SecretStr("from-config")})})
    assert token_for_daemon(configured) == "from-config"
    assert not (config.state_dir / "token").exists()
    assert token_for_client(configured) == "from-config"
    monkeypatch.setenv("AMBIENCE_TOKEN", "from-env")
    assert token_for_client(configured) == "from-env"


def test_client_without_a_readable_token_gets_none(tmp_path: Path):
    assert token_for_client(make_config(tmp_path)) is None


def test_a_group_readable_token_file_is_made_owner_only(tmp_path: Path):
    config = make_config(tmp_path)
    config.state_dir.mkdir(parents=True)
    file = config.state_dir / "token"
    file.write_text("kept\n")
    file.chmod(0o644)
    assert token_for_daemon(config) == "kept"
    assert stat.S_IMODE(file.stat().st_mode) == 0o600


# ---- errors -----------------------------------------------------------------------------------


def test_unknown_room_and_preset_are_404(api: Api):
    for method, path in (
        ("GET", "/api/rooms/studo"),
        ("POST", "/api/rooms/studo/start"),
        ("POST", "/api/rooms/studo/stop"),
    ):
        response = api.http.request(method, path, json={"preset": PRESET})
        assert response.status_code == 404 and "did you mean 'studio'" in error_of(response)
    response = api.http.post("/api/rooms/studio/start", json={"preset": "swedish-relaxation-61"})
    assert response.status_code == 404 and "unknown preset 'swedish-relaxation-61'" in error_of(response)
    response = api.http.get("/api/history", params={"room": "nope"})
    assert response.status_code == 404 and "unknown room 'nope'" in error_of(response)


def test_busy_room_and_no_session_are_409(api: Api):
    for action in ("pause", "resume", "stop", "extend"):
        response = api.http.post(f"/api/rooms/studio/{action}", json={"by": "5m"} if action == "extend" else None)
        assert response.status_code == 409, (action, response.text)
        assert "no session running" in error_of(response)
    api.http.post("/api/rooms/studio/start", json={"preset": PRESET})
    busy = api.http.post("/api/rooms/studio/start", json={"preset": PRESET})
    assert busy.status_code == 409 and "room 'studio' is busy" in error_of(busy)
    not_paused = api.http.post("/api/rooms/studio/resume")
    assert not_paused.status_code == 409 and "not paused" in error_of(not_paused)


@pytest.mark.parametrize(
    "path,body,field,words",
    [
        ("start", {"preset": PRESET, "duration": "45 minutes"}, "duration", "'45 minutes' is not a duration"),
        ("start", {"preset": PRESET, "duration": "7h"}, "duration", "7h"),
        ("start", {"preset": PRESET, "replace": "maybe"}, "replace", "'maybe'"),
        ("start", {"preset": PRESET, "replace": "yes"}, "replace", "replace: 'yes' is not true or false"),
        ("start", {"preset": PRESET, "replace": 1}, "replace", "replace: 1 is not true or false"),
        ("start", {"preset": PRESET, "replace": "false"}, "replace", "replace: 'false' is not true or false"),
        ("start", {"preset": PRESET, "client": ""}, "client", ""),
        ("start", {"preset": "Swedish Relaxation"}, "preset", "'Swedish Relaxation' is not allowed"),
        ("start", {"duration": "45m"}, "preset", "is required"),
        ("start", {"preset": PRESET, "durration": "45m"}, "durration", "did you mean 'duration'?"),
        ("start", {"preset": PRESET, "room": "garden"}, "room", "comes from the URL"),
        ("start", {"preset": PRESET, "action": "stop"}, "action", "comes from the URL"),
        ("extend", {"by": "soon"}, "by", "'soon' is not a duration"),
        ("extend", {}, "by", "is required"),
        ("extend", {"by": True}, "by", "True is not a duration"),
        ("pause", {"force": True}, "force", "unknown key 'force'"),
    ],
)
def test_bad_bodies_are_422_naming_the_field(api: Api, path, body, field, words):
    if path != "start":
        api.http.post("/api/rooms/studio/start", json={"preset": PRESET})
    before = api.status()
    response = api.http.post(f"/api/rooms/studio/{path}", json=body)
    assert response.status_code == 422, response.text
    reply = response.json()
    assert field in [i["field"] for i in reply["issues"]], reply
    assert words in reply["error"] and field in reply["error"]
    assert api.status() == before


def test_unknown_key_does_not_suggest_the_path_keys(api: Api):
    reply = api.http.post("/api/rooms/studio/start", json={"preset": PRESET, "xyz": 1}).json()
    assert "allowed keys: client, duration, force, lead, preset, replace" in reply["error"]


def test_every_problem_is_named_at_once(api: Api):
    reply = api.http.post("/api/rooms/studio/start", json={"preset": "X", "duration": "?", "lead": -1}).json()
    assert {i["field"] for i in reply["issues"]} == {"preset", "duration", "lead"}


@pytest.mark.parametrize(
    "raw,words",
    [
        (b"{", "not valid JSON"),
        (b'{"preset": "x",}', "not valid JSON"),
        (b"[1, 2]", "must be a JSON object, not an array"),
        (b'"start"', "must be a JSON object, not a string"),
        (b"null", "must be a JSON object, not null"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[" * 50_000, "nested too deeply"),
        (b"1" * 5_000, "number too long"),
    ],
)
def test_malformed_bodies_are_422(api: Api, raw, words):
    response = api.http.post("/api/rooms/studio/start", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 422 and words in error_of(response)


def test_query_validation_has_the_same_shape(api: Api):
    for params, words in (({"limit": "many"}, "'many'"), ({"limit": 0}, "'0' is too low; at least 1")):
        response = api.http.get("/api/history", params=params)
        assert response.status_code == 422
        reply = response.json()
        assert reply["issues"][0]["field"] == "limit" and words in reply["error"]


def test_bad_client_bodies_are_422(api: Api):
    reply = api.http.post("/api/clients", json={"label": "A", "comfort": {"temperature_offset": 9}})
    assert reply.status_code == 422
    assert reply.json()["issues"] == [
        {
            "field": "comfort.temperature_offset",
            "message": "9 is out of range; allowed -5–5 °C (-9–9 °F); a bare number is °C: did you mean 9F?",
        }
    ]
    assert api.http.post("/api/clients", json={"comfort": {}}).json()["issues"][0]["field"] == "label"
    for lax in ("yes", 1, "true", "off", 0.0):
        reply = api.http.post("/api/clients", json={"label": "A", "comfort": {"no_music": lax}})
        assert reply.status_code == 422
        assert reply.json()["issues"] == [{"field": "comfort.no_music", "message": f"{lax!r} is not true or false"}]
    assert api.http.get("/api/clients").json() == []


def test_huge_bodies_are_413(api: Api):
    big = json.dumps({"preset": PRESET, "client": "x" * MAX_BODY})
    response = api.http.post("/api/rooms/studio/start", content=big, headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and "64 KiB" in error_of(response)

    def chunks():  # no Content-Length: the limit holds while reading
        yield b'{"preset": "' + PRESET.encode() + b'", "client": "'
        for _ in range(100):
            yield b"x" * 1024
        yield b'"}'

    response = api.http.post("/api/rooms/studio/start", content=chunks())
    assert response.status_code == 413
    assert api.status()["state"] == "idle"


def test_a_huge_bad_value_is_cut_short_in_the_message(api: Api):
    response = api.http.post("/api/rooms/studio/start", json={"preset": "A" * 20_000})
    assert response.status_code == 422 and len(response.text) < 2_000


def test_wrong_method_is_json_too(api: Api):
    response = api.http.put("/api/rooms/studio/start")
    assert response.status_code == 405 and error_of(response)


# ---- fuzzing ----------------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(["45m", "-5m", "1h30m", "0", "0s", "", " ", "NaN", "1e400", "-0", PRESET, "A. Smith", "10m"])
)
json_values = st.recursive(
    scalars,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
    max_leaves=12,
)
huge_strings = st.builds(
    lambda c, n: c * n, st.sampled_from(["9", "a", "-", "é", "[", "h"]), st.integers(1_000, 20_000)
)
values = json_values | huge_strings
KEYS = ["preset", "duration", "client", "replace", "lead", "by", "room", "action", "Preset", "durration", ""]
durations = st.sampled_from(["45m", "-5m", "1h30m", "10m", "90", "-90s", "7h", "-7h", "0"]) | st.integers(
    -30_000, 30_000
)
near_valid = st.fixed_dictionaries(
    {"preset": st.sampled_from([PRESET, "express-30", "nope"]) | values},
    optional={
        "duration": durations | values,
        "client": st.sampled_from(["A. Smith", "", "x" * 61]) | values,
        "replace": st.booleans() | values,
        "lead": durations | values,
        "by": durations | values,
    },
)
bodies = st.one_of(
    json_values,
    near_valid,
    st.fixed_dictionaries({"by": durations | values}),
    st.dictionaries(st.sampled_from(KEYS), values, max_size=6),
    st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=12), values, max_size=4),
)


def check_reply(api: Api, response, before: dict) -> None:
    event(f"HTTP {response.status_code}")
    assert response.status_code < 500, response.text
    if response.status_code >= 300:
        assert 400 <= response.status_code < 500
        error_of(response)
        if response.status_code == 422:
            issues = response.json()["issues"]
            assert issues and all(set(i) == {"field", "message"} for i in issues)
        assert api.status() == before  # invalid input changes nothing


def send(api: Api, path: str, body, raw: bool):
    content = body if raw else json.dumps(body)  # NaN and Infinity included, as some clients send them
    return api.http.post(path, content=content, headers={"Content-Type": "application/json"})


# The fixture's daemon is reused across examples on purpose: each example checks that it left the room as found.
FUZZ = settings(max_examples=draws(150), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(body=bodies | st.binary(max_size=64), busy=st.booleans())
def test_fuzzed_start_bodies_never_500_and_change_nothing_when_refused(api: Api, body, busy):
    if busy and api.status()["state"] == "idle":
        api.daemon.controller.execute({"action": "start", "room": "studio", "preset": PRESET, "replace": True})
    before = api.status()
    response = send(api, "/api/rooms/studio/start", body, raw=isinstance(body, bytes))
    check_reply(api, response, before)


@FUZZ
@given(body=bodies | st.binary(max_size=64))
def test_fuzzed_extend_bodies_never_500_and_change_nothing_when_refused(api: Api, body):
    if api.status()["state"] != "running":
        api.daemon.controller.execute({"action": "start", "room": "studio", "preset": PRESET, "replace": True})
    before = api.status()
    response = send(api, "/api/rooms/studio/extend", body, raw=isinstance(body, bytes))
    check_reply(api, response, before)


# ---- serving in the daemon's loop ---------------------------------------------------------------


def serving_config(tmp_path: Path, port: int) -> Config:
    config = make_config(tmp_path)
    return config.model_copy(update={"http": config.http.model_copy(update={"port": port})})


def test_serve_http_keeps_the_daemons_signal_handlers_and_frees_the_port(tmp_path: Path):
    port = free_port()
    daemon = Daemon(serving_config(tmp_path, port), players=False)

    async def main() -> None:
        before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
        task = asyncio.create_task(serve_http(daemon))
        while not getattr(getattr(daemon, "http_server", None), "started", False):
            assert not task.done()
            await asyncio.sleep(0.01)
        assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            assert (await client.get("/healthz")).json() == {"ok": True}
            token = (tmp_path / "state" / "token").read_text().strip()
            rooms = await client.get("/api/rooms", headers={"Authorization": f"Bearer {token}"})
            assert [r["room"] for r in rooms.json()] == ["studio", "garden"]
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(main())
    daemon.store.close()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # released


def test_the_api_answers_kept_alive_connections_without_nagle_delays(tmp_path: Path):
    # Nagle's algorithm on the daemon's side held each response body ~40 ms (the client's delayed
    # ACK) on every request of a kept-alive connection: a status poll or 10,000 fuzzed commands.
    port = free_port()
    daemon = Daemon(serving_config(tmp_path, port), players=False)

    async def main() -> tuple[list[int], float]:
        task = asyncio.create_task(serve_http(daemon))
        while not getattr(getattr(daemon, "http_server", None), "started", False):
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            await client.get("/healthz")
            server_sockets = [c.transport.get_extra_info("socket") for c in daemon.http_server.server_state.connections]
            nodelay = [s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for s in server_sockets]
            began = time.perf_counter()
            for _ in range(20):
                assert (await client.get("/healthz")).status_code == 200
            took = time.perf_counter() - began
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return nodelay, took

    nodelay, took = asyncio.run(main())
    daemon.store.close()
    assert nodelay and all(nodelay), "TCP_NODELAY on the daemon's side of each connection"
    assert took < 0.5, f"20 requests on one connection took {took:.2f} s (40 ms each is Nagle's)"


def test_a_port_in_use_switches_the_api_off_not_the_daemon(tmp_path: Path, caplog):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        daemon = Daemon(serving_config(tmp_path, port), players=False)
        asyncio.run(asyncio.wait_for(serve_http(daemon), 5))  # returns instead of raising
    daemon.store.close()
    assert f"the HTTP API is off: cannot listen on 127.0.0.1:{port}: address already in use" in caplog.text
