"""The fuzz soak: invalid commands over MQTT and HTTP against a real ``ambience serve``.

Every case is invalid *by construction*: a valid command (which would change something) with
one defect that the command's contract refuses — a wrong type, a value out of range, a bad
unit, an unknown key, room, action or preset, a missing field, malformed or huge payload, no or
a wrong token — or a well formed command that is not possible now (start in a busy room, pause
an idle one). Each case says what the answer must be: the MQTT ``code`` or HTTP status, and the
field an issue must name (or a phrase the error line must hold). A case that is obeyed is a
failure, whatever the reason, so a slip in the generator would show too.

State is read over HTTP before, every 1,000 HTTP cases, and after: rooms (but the countdown and
what devices report), bookings, history and clients must not change. Valid status queries are
interleaved to show the daemon still answers correctly.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from soaklib import BASE, Progress, Result, Rig, start_session

RUNNING, IDLE = "studio", "garden"
"""The fuzz runs with a long session in one room and the other idle."""
STEADY = "soak-steady"
CLIENT = "A. Smith"
REPLIES = "soak/fuzzer/replies"
"""Under the base topic: the daemon answers only there (``mqtt.response_prefix``, docs/mqtt.md)."""
WINDOW = 200
"""MQTT commands in flight (sent, not answered) at most."""
MEGABYTE = 1_000_000


@dataclass
class Case:
    kind: str
    channel: str
    # MQTT: the topic's room, and a JSON object (``data``) or raw bytes (``raw``)
    room: str = ""
    data: dict[str, Any] | None = None
    raw: bytes | None = None
    reply_to: bool = True
    """An MQTT 5 response topic with correlation data; else the default result topic and an ``id``."""
    # HTTP
    method: str = "POST"
    path: str = ""
    body: bytes | None = None
    params: dict[str, str] | None = None
    auth: str | None = "good"
    """'good', None (no header) or the Authorization header to send."""
    chunked: bool = False
    # the answer
    codes: tuple[Any, ...] = ()
    field: str | None = None
    text: str | None = None
    valid: bool = False
    expect_state: str | None = None


@dataclass
class World:
    """What the fuzz runs against: known booking ids, a free future slot, the token."""

    token: str
    bookings: list[str] = field(default_factory=list)
    day: str = ""

    def future(self, hour: int = 16) -> str:
        return f"{self.day} {hour:02d}:00"


# ---- the defects --------------------------------------------------------------------------------

JUNK = [None, True, False, 0, -1, 2.5, "", "x", [], [1, "a"], {}, {"a": {"b": [None]}}]
NOT_A_DURATION = [True, False, [], [60], {"m": 5}, "soon", "45 minutes", "5 mins", "ten", "1:30", "", "m"]
NOT_A_NUMBER_OF_SECONDS = NOT_A_DURATION + [None]
DEFECTS: dict[str, list[Any]] = {
    # the field: values each refused by its own rule (never None where None is allowed)
    "preset": [5, 2.5, True, None, [], ["soak-steady"], {"id": "soak-steady"}, "Soak Steady", "../soak-steady",
               "soak steady", "x" * 65, "", "SOAK-STEADY", "soak/steady"],
    "duration": NOT_A_DURATION + ["-5m", -1, -0.001, "-1h", 0, "0s", 0.0, 21601, "6h1s", "7h", 1e300, "999h", 1e12],
    "lead": NOT_A_NUMBER_OF_SECONDS + ["-1m", -5, "3h1s", "4h", 1e30, 10801],
    "client": ["", "x" * 61, "y" * 3000, 5, 1.5, True, [], ["A. Smith"], {"label": "A. Smith"}],
    "replace": ["perhaps", 2, 0.5, [True], {"a": 1}, "maybe", -1, None],
    "by": NOT_A_NUMBER_OF_SECONDS + ["6h1s", "7h", "-7h", 21601, -21601, 1e300, -1e300, "-6h1s"],
    "at": ["yesterday", "", 5, [], {"d": 1}, True, None, "2026-13-45 10:00", "x" * 65, "25:00", "13pm",
           "next week", "2026-02-30 10:00", "mon 9:61"],  # "10:00", "tomorrow 10am" are times (docs/bookings.md)
}  # fmt: skip
UNKNOWN_KEYS = ["durration", "colour", "forced", "room_id", "options", "prest", "by_", "lenght", "Preset", "", " ", "ä"]
UNKNOWN_ROOMS = ["attic", "Studio", "studio ", "STUDIO", "room1", "ström", "房间", "a" * 40, "studio-2", " ", "gardens"]
UNKNOWN_ACTIONS = ["explode", "START", "Start", " stop", "stop ", "", 5, None, True, [], {"a": 1}, "pause;stop",
                   "stop\u0000", "status!", "book ", "reboot"]  # fmt: skip
BAD_IDS = [True, False, [1], {"a": 1}, "x" * 129, 2**64, -(2**63) - 1]
# every action with fields that make it valid now (the point: one defect makes it invalid)
TEMPLATES: dict[str, tuple[str, dict[str, Any], tuple[str, ...]]] = {
    # action: (room, valid fields, the fields that may be made bad)
    "start": (IDLE, {"preset": STEADY, "duration": "20m", "client": CLIENT, "lead": "1m", "replace": False},
              ("preset", "duration", "client", "lead", "replace")),
    "extend": (RUNNING, {"by": "5m"}, ("by",)),
    "book": (IDLE, {"preset": "express-30", "at": "", "duration": "20m", "lead": "5m", "client": CLIENT},
             ("preset", "at", "duration", "lead", "client")),
    "pause": (RUNNING, {}, ()),
    "stop": (RUNNING, {}, ()),
    "resume": (RUNNING, {}, ()),
}  # fmt: skip
OPTIONAL = {"duration", "client", "lead", "replace"}
"""Fields a template may drop (the others are required)."""


def _template(rng: random.Random, world: World, action: str) -> tuple[str, dict[str, Any], tuple[str, ...]]:
    room, fields, bad = TEMPLATES[action]
    fields = {k: v for k, v in fields.items() if k not in OPTIONAL or rng.random() < 0.5}
    if action == "book":
        fields["at"] = world.future(rng.choice([16, 18, 20]))
    return room, fields, bad


def _defects(action: str, name: str) -> list[Any]:
    """The bad values of a field; a booking's lead may be null (the default lead), a session's not."""
    values = DEFECTS[name]
    return [v for v in values if v is not None] if (action, name) == ("book", "lead") else values


def _nested(rng: random.Random, depth: int) -> Any:
    value: Any = rng.choice(["x", 1, None, True])
    for _ in range(depth):
        value = {rng.choice("abc"): value} if rng.random() < 0.5 else [value, rng.choice([0, "y"])]
    return value


class Generator:
    """Seeded invalid commands, MQTT and HTTP in turn, with a valid status query now and then."""

    def __init__(self, rng: random.Random, world: World):
        self.rng = rng
        self.world = world
        self.kinds = [
            # (kind, weight)
            ("wrong value", 22), ("unknown key", 8), ("missing field", 5), ("unknown room", 8),
            ("unknown action", 6), ("malformed payload", 12), ("nested junk", 6), ("huge payload", 1.5),
            ("not possible now", 9), ("bad request id", 3), ("token", 10), ("bad query", 4), ("clients", 4),
            ("bookings", 6),
        ]  # fmt: skip

    def cases(self, count: int) -> list[Case]:
        out: list[Case] = []
        names = [k for k, _ in self.kinds]
        weights = [w for _, w in self.kinds]
        made = 0
        while made < count:
            if self.rng.random() < 0.03:
                out.append(self.valid())
                continue
            kind = self.rng.choices(names, weights)[0]
            channel = "mqtt" if self.rng.random() < 0.5 else "http"
            if kind in ("token", "bad query", "clients"):
                channel = "http"
            if kind == "bad request id":
                channel = "mqtt"
            case = getattr(self, "_" + kind.replace(" ", "_"))(channel)
            case.kind = kind
            out.append(case)
            made += 1
        return out

    # ---- building blocks -------------------------------------------------------------------

    def _command(self, channel: str, action: str, room: str, fields: dict[str, Any], **expect: Any) -> Case:
        """A command as MQTT (action in the payload) or HTTP (action in the path; book: its own endpoint)."""
        if channel == "mqtt":
            return Case("", "mqtt", room=room, data={"action": action, **fields},
                        reply_to=self.rng.random() < 0.5, **expect)  # fmt: skip
        if action == "book":
            body = {"room": room, **fields}
            return Case("", "http", path="/api/bookings", body=_dump(body), **expect)
        return Case("", "http", path=f"/api/rooms/{quote(room, safe='')}/{action}", body=_dump(fields), **expect)

    @staticmethod
    def _invalid(channel: str, field: str | None = None, text: str | None = None) -> dict[str, Any]:
        return {"codes": ("invalid",) if channel == "mqtt" else (422,), "field": field, "text": text}

    # ---- the kinds -------------------------------------------------------------------------------

    def _wrong_value(self, channel: str) -> Case:
        action = self.rng.choice(["start", "start", "extend", "book"])
        room, fields, bad = _template(self.rng, self.world, action)
        name = self.rng.choice(bad)
        fields[name] = self.rng.choice(_defects(action, name))
        return self._command(channel, action, room, fields, **self._invalid(channel, name))

    def _unknown_key(self, channel: str) -> Case:
        action = self.rng.choice(list(TEMPLATES))
        room, fields, _ = _template(self.rng, self.world, action)
        if self.rng.random() < 0.3:  # a key of another action
            others = {"start": ["by", "at"], "extend": ["preset", "duration"], "book": ["by", "replace"]}
            key = self.rng.choice(others.get(action, ["preset", "by", "duration", "at"]))
        else:
            key = self.rng.choice(UNKNOWN_KEYS)
        if channel == "http" and action != "book" and self.rng.random() < 0.2:
            key = self.rng.choice(["action", "room"])  # these come from the URL
        fields[key] = self.rng.choice(JUNK)
        return self._command(channel, action, room, fields, **self._invalid(channel, key))

    def _missing_field(self, channel: str) -> Case:
        action = self.rng.choice(["start", "extend", "book", "book"])
        room, fields, _ = _template(self.rng, self.world, action)
        name = {"start": "preset", "extend": "by"}.get(action) or self.rng.choice(["preset", "at"])
        fields.pop(name)
        if channel == "mqtt" and self.rng.random() < 0.2:  # no action at all
            case = self._command(channel, action, room, fields, **self._invalid(channel, "action"))
            assert case.data is not None
            case.data.pop("action")
            return case
        return self._command(channel, action, room, fields, **self._invalid(channel, name))

    def _unknown_room(self, channel: str) -> Case:
        room = self.rng.choice(UNKNOWN_ROOMS + ([""] if channel == "mqtt" else []))
        action = self.rng.choice(["stop", "pause", "start", "extend", "status"])
        fields = {"start": {"preset": STEADY}, "extend": {"by": "5m"}}.get(action, {})
        if channel == "http" and action == "status":
            return Case("", "http", method="GET", path=f"/api/rooms/{quote(room, safe='')}", codes=(404,),
                        text=f"unknown room {room!r}")  # fmt: skip
        if channel == "mqtt" and self.rng.random() < 0.3:  # the topic's room, but another in the payload
            return self._command(channel, "stop", RUNNING, {"room": self.rng.choice([IDLE, room, 5])},
                                 **self._invalid(channel, "room"))  # fmt: skip
        expect = {"codes": ("not_found",) if channel == "mqtt" else (404,), "text": f"unknown room {room!r}"}
        return self._command(channel, action, room, fields, **expect)

    def _unknown_action(self, channel: str) -> Case:
        if channel == "mqtt":
            action = self.rng.choice(UNKNOWN_ACTIONS)
            return Case("", "mqtt", room=RUNNING, data={"action": action}, reply_to=self.rng.random() < 0.5,
                        **self._invalid(channel, "action"))  # fmt: skip
        if self.rng.random() < 0.6:
            word = self.rng.choice(["explode", "START", "restart", "delete", "status", "cancel", "book", "reboot"])
            return Case("", "http", path=f"/api/rooms/{RUNNING}/{word}", body=b"{}", codes=(404,), text="not found")
        method, path = self.rng.choice(
            [("GET", f"/api/rooms/{RUNNING}/stop"), ("DELETE", f"/api/rooms/{RUNNING}"), ("PUT", "/api/bookings"),
             ("PATCH", f"/api/rooms/{RUNNING}/extend"), ("GET", f"/api/rooms/{IDLE}/start")]
        )  # fmt: skip
        return Case("", "http", method=method, path=path, body=b"{}", codes=(405,), text="not allowed")

    def _malformed_payload(self, channel: str) -> Case:
        action = self.rng.choice(["start", "extend", "book", "stop", "pause"])
        room, fields, _ = _template(self.rng, self.world, action)
        whole = _dump({"action": action, **fields} if channel == "mqtt" else fields)
        choice = self.rng.randrange(9)
        if choice == 0:  # cut short
            cut = self.rng.randrange(1, len(whole))
            raw, text = whole[:cut], "JSON"
            if raw.strip() in (b"", b"{}") or _is_json(raw):
                raw = whole[:-1]
        elif choice == 1:
            raw, text = b"\xff\xfe" + whole + bytes(self.rng.randrange(256) for _ in range(8)), "UTF-8"
        elif choice == 2:
            raw, text = self.rng.choice([b"[]", b'"stop"', b"5", b"true", b"null", b"[1, 2]", b"-0.5"]), None
        elif choice == 3:
            raw, text = whole + b" x", "JSON"
        elif choice == 4:
            raw, text = whole.replace(b'"', b"'"), "JSON"
            if raw == whole:
                raw = b"{'action': 'stop'}"
        elif choice == 5:
            raw, text = b"{action: stop}", "JSON"
        elif choice == 6:  # (an MQTT command over 16 KiB is refused for its size first)
            n = self.rng.randrange(1_100, 8_000 if channel == "mqtt" else 30_000)
            raw, text = b"[" * n + b"]" * n, "nested"
        elif choice == 7:
            raw, text = b'{"by": ' + b"9" * self.rng.randrange(4_400, 12_000) + b"}", None
        else:
            raw, text = bytes(self.rng.randrange(1, 256) for _ in range(self.rng.randrange(1, 64))), None
            if _is_json(raw) or not raw.strip():
                raw = b"{\x01}"
        if channel == "mqtt":
            return Case("", "mqtt", room=room, raw=raw, **self._invalid(channel, None, text))
        path = "/api/bookings" if action == "book" else f"/api/rooms/{room}/{action}"
        return Case("", "http", path=path, body=raw, codes=(422,), field="", text=text)

    def _nested_junk(self, channel: str) -> Case:
        action = self.rng.choice(["start", "extend", "book", "stop"])
        room, fields, bad = _template(self.rng, self.world, action)
        junk = _nested(self.rng, self.rng.randrange(5, 200))
        name = self.rng.choice(bad) if bad and self.rng.random() < 0.5 else self.rng.choice(UNKNOWN_KEYS[:7])
        fields[name] = junk
        return self._command(channel, action, room, fields, **self._invalid(channel, name))

    def _huge_payload(self, channel: str) -> Case:
        size = (
            self.rng.choice([MEGABYTE, MEGABYTE, 70_000, 17_000])
            if channel == "mqtt"
            else self.rng.choice([MEGABYTE, 70_000])
        )
        fields = {"preset": STEADY, "client": "x" * size}
        if channel == "mqtt":
            return Case(
                "", "mqtt", room=IDLE, raw=_dump({"action": "start", **fields}), codes=("too_large",), text="bytes"
            )
        return Case("", "http", path=f"/api/rooms/{IDLE}/start", body=_dump(fields), codes=(413,), text="KiB",
                    chunked=self.rng.random() < 0.3)  # fmt: skip

    def _not_possible_now(self, channel: str) -> Case:
        world = self.world
        what = self.rng.randrange(7)
        if what == 0:
            fields, action, room = {"preset": STEADY}, "start", RUNNING
            expect = ("busy", 409, "busy")
        elif what in (1, 2):
            action, room, fields = self.rng.choice(["pause", "stop"]), IDLE, {}
            expect = ("refused", 409, "no session")
        elif what == 3:
            action, room, fields = "extend", IDLE, {"by": "5m"}
            expect = ("refused", 409, "no session")
        elif what == 4:
            action, room, fields = "resume", RUNNING, {}
            expect = ("refused", 409, "not paused")
        elif what == 5:  # overlaps a stored booking (the lead counts)
            action, room, fields = "book", IDLE, {"preset": "express-30", "at": world.future(9).replace(":00", ":10")}
            expect = ("refused", 409, "booked then")
        else:
            action, room, fields = "book", IDLE, {"preset": "express-30", "at": "2001-01-01 10:00"}
            expect = ("refused", 409, "in the past")
        code, status, text = expect
        return self._command(channel, action, room, fields, codes=(code if channel == "mqtt" else status,), text=text)

    def _bad_request_id(self, channel: str) -> Case:
        room, fields, _ = _template(self.rng, self.world, "extend")
        data = {"action": "extend", **fields, "id": self.rng.choice(BAD_IDS)}
        return Case("", "mqtt", room=RUNNING, data=data, reply_to=True, **self._invalid(channel, "id"))

    def _token(self, channel: str) -> Case:
        token = self.world.token
        auth = self.rng.choice(
            [None, "Bearer wrong", f"Bearer {token[:-1]}", f"Bearer {token}x", f"Bearer {token[::-1]}",
             "Basic dXNlcjpwYXNz", f"Token {token}", "Bearer", f"Bearer {token[:8]}"]
        )  # fmt: skip
        booking = self.rng.choice(self.world.bookings)
        method, path, body = self.rng.choice(
            [("POST", f"/api/rooms/{RUNNING}/stop", {}), ("POST", f"/api/rooms/{IDLE}/start", {"preset": STEADY}),
             ("POST", f"/api/rooms/{RUNNING}/extend", {"by": "5m"}), ("POST", f"/api/rooms/{RUNNING}/pause", {}),
             ("POST", "/api/bookings", {"room": IDLE, "preset": "express-30", "at": self.world.future(18)}),
             ("DELETE", f"/api/bookings/{booking}", None), ("POST", "/api/clients", {"label": "Z. Intruder"}),
             ("DELETE", f"/api/clients/{quote(CLIENT)}", None), ("GET", "/api/rooms", None),
             ("GET", "/api/history", None), ("GET", "/api/bookings", None)]
        )  # fmt: skip
        return Case("", "http", method=method, path=path, body=None if body is None else _dump(body), auth=auth,
                    codes=(401,), text="token")  # fmt: skip

    def _bad_query(self, channel: str) -> Case:
        what = self.rng.randrange(4)
        if what == 0:
            limit = self.rng.choice(["0", "-1", "1001", "abc", "1e3", "2.5", "99999999999999999999999"])
            return Case(
                "", "http", method="GET", path="/api/history", params={"limit": limit}, codes=(422,), field="limit"
            )
        if what == 1:
            day = self.rng.choice(["2026-13-01", "tomorrow", "2026-02-30", "yesterday", "12/01/2026"])
            return Case("", "http", method="GET", path="/api/bookings", params={"day": day}, codes=(422,), field="day")
        room = self.rng.choice(UNKNOWN_ROOMS)
        path = self.rng.choice(["/api/history", "/api/bookings"])
        return Case(
            "", "http", method="GET", path=path, params={"room": room}, codes=(404,), text=f"unknown room {room!r}"
        )

    def _clients(self, channel: str) -> Case:
        if self.rng.random() < 0.25:
            label = self.rng.choice(["Nobody", "a. smith", "A. Smith ", "x" * 61, "ström"])
            path = f"/api/clients/{quote(label, safe='')}"
            if len(label) > 60:  # never a label: refused as one, naming the field and the limit
                return Case("", "http", method="DELETE", path=path, codes=(422,), field="label")
            return Case("", "http", method="DELETE", path=path, codes=(404,), text="unknown client")
        body: dict[str, Any] = {"label": "B. Jones", "comfort": {"temperature_offset": 1.5, "no_music": True}}
        what = self.rng.randrange(5)
        if what == 0:
            body["label"] = self.rng.choice(["", "x" * 61, 5, None, [], {"a": 1}])
            name = "label"
        elif what == 1:
            del body["label"]
            name = "label"
        elif what == 2:
            body["comfort"] = self.rng.choice(["warm", 5, [], True])
            name = "comfort"
        elif what == 3:
            key, bad = self.rng.choice(
                [("temperature_offset", 9), ("temperature_offset", "hot"), ("temperature_offset", -5.5),
                 ("max_brightness", 101), ("max_brightness", -1), ("max_brightness", "dim"), ("volume_offset", 2.5),
                 ("volume_offset", 51), ("no_music", "perhaps"), ("no_music", [True])]
            )  # fmt: skip
            body["comfort"][key] = bad
            name = f"comfort.{key}"
        else:
            key = self.rng.choice(["warmer", "notes", "allergies", "max_volume"])
            body["comfort"][key] = 1
            name = f"comfort.{key}"
        return Case("", "http", path="/api/clients", body=_dump(body), codes=(422,), field=name)

    def _bookings(self, channel: str) -> Case:
        if self.rng.random() < 0.4:  # cancel: an id nobody has, or one that is no id at all
            bad = self.rng.choice(["deadbeef", "00000000", "zz!", "x" * 65, "a b", "ä"])
            valid_shape = bad in ("deadbeef", "00000000")
            if channel == "mqtt":
                expect = (
                    {"codes": ("not_found",), "text": "unknown booking"}
                    if valid_shape
                    else self._invalid(channel, "id")
                )
                # a response topic: on the result topic our own id would take the place of the booking's
                return Case("", "mqtt", room=IDLE, data={"action": "cancel", "id": bad}, reply_to=True, **expect)
            expect = {"codes": (404,), "text": "unknown booking"} if valid_shape else {"codes": (422,), "field": "id"}
            return Case("", "http", method="DELETE", path=f"/api/bookings/{quote(bad, safe='')}", **expect)
        room, fields, bad = _template(self.rng, self.world, "book")
        if self.rng.random() < 0.3:  # an unknown preset
            fields["preset"] = self.rng.choice(["no-such-preset", "express-31", "soak-stead"])
            expect = {"codes": ("not_found",) if channel == "mqtt" else (404,), "text": "unknown preset"}
            return self._command(channel, "book", room, fields, **expect)
        name = self.rng.choice(bad)
        fields[name] = self.rng.choice(_defects("book", name))
        return self._command(channel, "book", room, fields, **self._invalid(channel, name))

    def valid(self) -> Case:
        """A status query that must be answered correctly (not counted among the fuzzed)."""
        room, state = self.rng.choice([(RUNNING, "running"), (IDLE, "idle")])
        if self.rng.random() < 0.5:
            return Case("valid status", "mqtt", room=room, data={"action": "status"}, reply_to=self.rng.random() < 0.5,
                        valid=True, expect_state=state)  # fmt: skip
        if self.rng.random() < 0.2:
            return Case("valid status", "http", method="GET", path="/healthz", valid=True)
        return Case("valid status", "http", method="GET", path=f"/api/rooms/{room}", valid=True, expect_state=state)


def _dump(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode()


def _is_json(raw: bytes) -> bool:
    try:
        json.loads(raw)
    except ValueError:
        return False
    return True


# ---- checking answers ----------------------------------------------------------------------------


def check_mqtt(case: Case, answer: dict[str, Any] | None) -> str | None:
    if answer is None:
        return "no answer"
    if case.valid:
        status = answer.get("status") or {}
        if answer.get("ok") is not True or status.get("room") != case.room or status.get("state") != case.expect_state:
            return f"a valid status query was answered {str(answer)[:300]}"
        if case.room == RUNNING and status.get("preset") != STEADY:
            return f"the running session is not {STEADY} any more: {status.get('preset')}"
        return None
    if answer.get("ok") is not False:
        return f"obeyed: {str(answer)[:300]}"
    if case.codes and answer.get("code") not in case.codes:
        return f"code {answer.get('code')!r}, expected {' or '.join(case.codes)}: {answer.get('error')}"
    return _names_the_problem(case, answer.get("error"), answer.get("issues"))


def check_http(case: Case, response: httpx.Response) -> str | None:
    if case.valid:
        if response.status_code != 200:
            return f"a valid query got {response.status_code} {response.text[:200]}"
        if case.expect_state and response.json().get("state") != case.expect_state:
            return f"a valid status query says {response.json().get('state')}, expected {case.expect_state}"
        return None
    if not 400 <= response.status_code < 500:
        return f"HTTP {response.status_code}, expected {case.codes}: {response.text[:200]}"
    if case.codes and response.status_code not in case.codes:
        return f"HTTP {response.status_code}, expected {case.codes}: {response.text[:200]}"
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code} without a JSON body: {response.text[:200]}"
    if not isinstance(body, dict):
        return f"HTTP {response.status_code}: the body is not an object: {response.text[:200]}"
    return _names_the_problem(case, body.get("error"), body.get("issues", []))


def _names_the_problem(case: Case, error: Any, issues: Any) -> str | None:
    if not isinstance(error, str) or not error.strip():
        return f"no error line: {error!r}"
    if "\n" in error:
        return f"the error spans lines: {error[:200]!r}"
    if case.field is not None:
        fields = [i.get("field") for i in issues or [] if isinstance(i, dict)]
        if case.field not in fields:
            return f"no issue names the field {case.field!r}: {error[:300]} (issues on {fields})"
    if case.text is not None and case.text.lower() not in error.lower():
        return f"the error does not say {case.text!r}: {error[:300]}"
    return None


# ---- sending -------------------------------------------------------------------------------------


class MqttSender:
    """One MQTT 5 client: publishes the MQTT cases (at most :data:`WINDOW` unanswered) and collects answers."""

    def __init__(self, host: str, port: int):
        self.answers: dict[str, dict[str, Any]] = {}
        self.duplicates = 0
        self.strays: list[str] = []
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id="soak-fuzzer", protocol=paho.MQTTv5)
        self.client.max_inflight_messages_set(100)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.connect(host, port, 60)
        self.client.loop_start()
        self.client.subscribe([(f"{BASE}/+/command/result", 1), (REPLIES, 1)])
        if not self._subscribed.wait(10):
            raise TimeoutError("the fuzzer could not subscribe")

    def _on_message(self, client: Any, userdata: Any, message: paho.MQTTMessage) -> None:
        try:
            body = json.loads(message.payload)
        except ValueError:
            body = {"unreadable": message.payload[:200].decode(errors="replace")}
        if message.topic == REPLIES:
            data = getattr(message.properties, "CorrelationData", None)
            key = data.decode(errors="replace") if isinstance(data, bytes) else None
        else:
            key = body.get("id") if isinstance(body, dict) else None
        with self._cond:
            if not isinstance(key, str):
                self.strays.append(f"{message.topic}: {message.payload[:200]!r}")
            elif key in self.answers:
                self.duplicates += 1
            else:
                self.answers[key] = body
            self._cond.notify_all()

    def send_all(self, cases: list[tuple[str, Case]]) -> None:
        for sent, (key, case) in enumerate(cases, 1):
            with self._cond:
                self._cond.wait_for(lambda sent=sent: sent - len(self.answers) <= WINDOW, timeout=15)
            props = None
            if case.reply_to:
                props = Properties(PacketTypes.PUBLISH)
                props.ResponseTopic = REPLIES
                props.CorrelationData = key.encode()
            payload = (
                case.raw
                if case.raw is not None
                else _dump({**(case.data or {}), "id": key} if not case.reply_to else case.data)
            )
            self.client.publish(f"{BASE}/{case.room}/command", payload, qos=1, properties=props)

    def wait(self, keys: list[str], timeout: float) -> None:
        with self._cond:
            self._cond.wait_for(lambda: all(k in self.answers for k in keys), timeout=timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def snapshot(api: httpx.Client) -> dict[str, Any]:
    """What a command could change: rooms, bookings, history, clients. Not the countdown, the devices' reports,
    the room's measured temperature (``temperature``, ``climate.current``) or the ``words`` that say them: time
    and the simulated room's heating move those."""
    rooms = []
    for status in api.get("/api/rooms").json():
        kept = {k: v for k, v in status.items() if k not in ("remaining_s", "devices", "music", "temperature", "words")}
        if isinstance(kept.get("climate"), dict):  # its current temperature is measured, not commanded
            kept["climate"] = {k: v for k, v in kept["climate"].items() if k != "current"}
        kept["devices"] = [(d["id"], d["desired"]) for d in status["devices"]]
        rooms.append(kept)
    return {
        "rooms": rooms,
        "bookings": api.get("/api/bookings").json(),
        "history": api.get("/api/history").json(),
        "clients": api.get("/api/clients").json(),
    }


def _diff(before: dict[str, Any], after: dict[str, Any]) -> str:
    """What changed, down to the field: ``rooms[studio].climate: {...} -> {...}``."""
    out = []
    for key in before:
        old, new = before[key], after.get(key)
        if old == new:
            continue
        if key == "rooms" and isinstance(new, list) and len(old) == len(new):
            for a, b in zip(old, new, strict=True):
                out += [f"rooms[{a.get('room')}].{f}: {json.dumps(a.get(f))[:200]} -> {json.dumps(b.get(f))[:200]}"
                        for f in sorted(set(a) | set(b)) if a.get(f) != b.get(f)]  # fmt: skip
        else:
            out.append(f"{key}: {json.dumps(old)[:300]} -> {json.dumps(new)[:300]}")
    return ", ".join(out)


def _send_http(api: httpx.Client, anon: httpx.Client, case: Case) -> httpx.Response:
    client = api
    headers = {}
    if case.auth is None:
        client = anon
    elif case.auth != "good":
        client, headers = anon, {"Authorization": case.auth}
    content: Any = case.body
    if case.chunked and case.body is not None:
        body = case.body
        content = iter(body[i : i + 65536] for i in range(0, len(body), 65536))
    return client.request(case.method, case.path, content=content, params=case.params, headers=headers)


def run_fuzz(rig: Rig, count: int, seed: int, progress: Progress) -> Result:
    result = Result("fuzzed commands")
    rng = random.Random(f"fuzz-{seed}")
    rig.daemon.start()
    token = rig.daemon.token()
    api = rig.client(token)
    anon = rig.client(auth=False)
    sender = MqttSender(rig.broker.host, rig.broker.port)
    try:
        rig.wait_reported(api)
        start_session(api, RUNNING, STEADY, client=CLIENT)
        api.post("/api/clients", json={"label": CLIENT, "comfort": {"temperature_offset": 1}}).raise_for_status()
        day = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
        world = World(token=token, day=day)
        for hour in (9, 11, 13):
            made = api.post("/api/bookings", json={"room": IDLE, "preset": "express-30", "at": f"{day} {hour:02d}:00"})
            made.raise_for_status()
            world.bookings.append(made.json()["booking"]["id"])
        before = snapshot(api)

        cases = Generator(rng, world).cases(count)
        keyed = [(f"c{i}", case) for i, case in enumerate(cases)]
        mqtt_cases = [(k, c) for k, c in keyed if c.channel == "mqtt"]
        http_cases = [(k, c) for k, c in keyed if c.channel == "http"]
        progress(f"fuzz: {len(mqtt_cases)} MQTT and {len(http_cases)} HTTP commands ({count} invalid)")
        began = time.monotonic()
        publisher = threading.Thread(target=sender.send_all, args=(mqtt_cases,), name="fuzz-mqtt", daemon=True)
        publisher.start()
        outcome: dict[str, str | None] = {}
        for n, (key, case) in enumerate(http_cases, 1):
            try:
                outcome[key] = check_http(case, _send_http(api, anon, case))
            except httpx.HTTPError as exc:
                outcome[key] = f"no answer: {type(exc).__name__}: {exc}"
            if n % 1000 == 0:
                now = snapshot(api)
                if now != before:
                    result.fail(f"state changed by HTTP cases up to #{n}: {_diff(before, now)}")
                    before = now  # report each change once
                progress(f"fuzz: {n}/{len(http_cases)} HTTP answered")
        publisher.join()
        sender.wait([k for k, _ in mqtt_cases], timeout=60)
        took = time.monotonic() - began
        for key, case in mqtt_cases:
            outcome[key] = check_mqtt(case, sender.answers.get(key))

        kinds: Counter[str] = Counter()
        bad_kinds: Counter[str] = Counter()
        valid_ok = valid_all = 0
        for key, case in keyed:
            problem = outcome[key]
            if case.valid:
                valid_all += 1
                valid_ok += problem is None
                if problem:
                    result.fail(f"{key} valid {case.channel} {case.path or case.room}: {problem}")
                continue
            result.tried += 1
            kinds[case.kind] += 1
            if problem is None:
                result.held += 1
            else:
                bad_kinds[case.kind] += 1
                result.fail(f"{key} {case.kind} over {case.channel} {_shown(case)}: {problem}")
        after = snapshot(api)
        alive = rig.daemon.proc is not None and rig.daemon.proc.poll() is None
        healthy = alive and api.get("/healthz").json() == {"ok": True}
        result.check("valid queries answered correctly", valid_ok, valid_all)
        result.check("daemon alive and /healthz answering", int(healthy), 1)
        result.check("state unchanged (rooms, sessions, bookings, history, clients)", int(after == before), 1)
        if after != before:
            result.fail(f"state changed: {_diff(before, after)}")
        rig.check_log(result)
        result.notes.append(
            f"{len(http_cases)} over HTTP, {len(mqtt_cases)} over MQTT in {took:.1f} s "
            f"({len(keyed) / took:.0f}/s); MQTT duplicates {sender.duplicates}, strays {len(sender.strays)}"
        )
        result.details.append("kinds: " + ", ".join(f"{k} {n}" for k, n in kinds.most_common()))
        if bad_kinds:
            result.details.append("not held: " + ", ".join(f"{k} {n}" for k, n in bad_kinds.most_common()))
    finally:
        sender.close()
        anon.close()
        api.close()
    return result


def _shown(case: Case) -> str:
    if case.channel == "mqtt":
        payload = case.raw if case.raw is not None else _dump(case.data)
        return f"{case.room!r} {payload[:160]!r}"
    body = (case.body or b"")[:160]
    return f"{case.method} {case.path} {case.params or ''} auth={case.auth if case.auth in (None, 'good') else 'bad'} {body!r}"
