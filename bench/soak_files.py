"""The malformed-files soak: presets and configs broken on purpose, loaded by ambience's own loaders.

Each file is a real one (a preset of presets/, the demo's config with the documented
``reconcile`` and ``bookings`` sections) with one defect that the format refuses *by
construction*: a YAML syntax error, a wrong type, an unknown key, a value out of range, a bad
unit, a missing required field, a key or phase name or preset id given twice, a file that is
no mapping or no UTF-8. The generator knows which field it broke, so each file is *tried*;
it is *held* if the loader refuses it with an issue from that file, naming that field (a
syntax error: ``line N, column M`` at or after the broken line) — the message as
``ambience presets check`` / ``ambience config check`` print it. A loader that accepts one is a
failure (nothing is dropped as "accidentally valid": a syntax mutant is re-drawn only if PyYAML
itself parses it).

Afterwards the valid files must still load: copies of the real presets in the same folder as
the malformed ones, the real library in presets/ with no problem, and the real config.
"""

from __future__ import annotations

import copy
import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from soaklib import ROOT, Progress, Result

from ambience.config import load_config
from ambience.config.library import load_library, load_preset_file, shipped_presets
from ambience.errors import ConfigError, InvalidFile, PresetError
from ambience.model.parse import field_path
from ambience.units import parse_duration

EXTRA_CONFIG = """\
reconcile: {ack_timeout: 1s, max_tries: 4, slow_retry: 30s}
bookings:
  timezone: Europe/London
  lead: 15m
  on_busy: wait
  horizon_days: 14
  recurring:
    - {room: garden, preset: express-30, weekday: tuesday, at: "09:00"}
"""


def real_config_text() -> str:
    from ambience.cli.demo import DEMO_CONFIG

    return DEMO_CONFIG.format(mqtt_port=1883, http_port=8765) + EXTRA_CONFIG


@dataclass
class Mutant:
    kind: str
    text: str | bytes
    field: str | None
    """The field an issue must name; None: a syntax error at or after ``line``."""
    line: int = 0
    text_has: str | None = None
    """A phrase the issue must also hold (e.g. the bad bridge's name)."""
    stem: str | None = None
    """The file name to use (a bad preset id), else a numbered one."""


Path_ = tuple[Any, ...]

# ---- what each key holds --------------------------------------------------------------------------

RANGED = {  # key: (low, high, whole number?) for ambience's unit types (they refuse strings and booleans)
    "target": (5, 35, False), "brightness": (0, 100, True), "color_temp": (1500, 6500, True),
    "volume": (0, 100, True), "min_temperature": (5, 35, False), "max_temperature": (5, 35, False),
    "max_volume": (0, 100, True), "max_brightness": (0, 100, True),
}  # fmt: skip
PLAIN_INT = {"port": (0, 65535), "max_tries": (1, 20), "horizon_days": (1, 366), "component": (0, 16)}
DURATIONS = {"duration", "transition", "fade_in", "fade_out", "command_expiry", "ack_timeout", "slow_retry", "lead"}
SIGNED = {"at"}
BOOLS = {"shuffle", "enabled"}
LITERALS = {"technique", "mode", "state", "protocol", "on_busy", "weekday", "setpoint"}
TEXTS = {"name", "description", "playlist", "url", "base_topic", "host", "device", "object_id", "role",
         "command_topic", "state_topic", "availability_topic", "audio_device", "ao", "room", "timezone"}  # fmt: skip
PATHS = {"presets", "music", "state_dir"}

WRONG_TYPE = {
    "ranged": [{"value": 5}, [1, 2], "warm", True],
    "int": ["eighty", [80], {"p": 80}, 80.5],
    "duration": [{"m": 5}, [60], True, "soon"],
    "bool": [{"x": 1}, [True], "perhaps", 2.5],
    "literal": [5, ["heat"], {"a": 1}],
    "text": [5, [1, 2], {"a": 1}, 2.5],
    "path": [5, [1], {"a": 1}],
}
BAD_UNITS = {
    # a temperature may carry its unit ("23 °C", "73F": docs/units.md), but only °C or °F
    "target": ["23 K", "23 degrees", "23°", "warm"], "min_temperature": ["16 degrees", "16 K"],
    "max_temperature": ["27 celsius", "81 Fahrenheit"], "brightness": ["50%", "50 %", "half"], "max_brightness": ["80%"],
    "color_temp": ["2700K", "2700 K", "warm white"], "volume": ["30%", "loud"], "max_volume": ["70%", "70 dB"],
    "port": ["8765/tcp"], "duration": ["30 minutes", "30min", "45 mins", "2 hours", "half an hour", "1:30",
                                      "90sec", "3m30", "PT5M"],  # "1h30" is a duration (docs/units.md)
    "at": ["-5 minutes", "2 mins", "10 sec", "at once"],
}  # fmt: skip
UNKNOWN_KEYS = ["colour_temp", "brightnes", "temprature", "volum", "fadein", "transtion", "durration", "dimmer",
                "hue", "speed", "notes", "Brightness", "roms", "brokr", "urll", "hostname", "max_temp", "lamps",
                "friendly_name", "topic"]  # fmt: skip
SYNTAX = [
    "broken_zz: [unclosed, list",
    "\tbroken_zz: a tab",
    "broken_zz: value: other",
    "broken_zz: *undefined_alias",
    "broken_zz: {unclosed: map",
    "- broken_zz",
    "broken_zz: 'unclosed",
    "broken_zz: ]",
    "broken_zz: @reserved",
    "broken_zz: `reserved",
    "  - : ? broken_zz",
]


def _kind(path: Path_) -> tuple[str, str] | None:
    """(the key, what it holds) of a leaf."""
    key = next((p for p in reversed(path) if isinstance(p, str)), None)
    if key is None:
        return None
    if key in RANGED:
        return key, "ranged"
    if key in PLAIN_INT:
        return key, "int"
    if key in DURATIONS or key in SIGNED:
        return key, "duration"
    if key in BOOLS:
        return key, "bool"
    if key in LITERALS:
        return key, "literal"
    if key in TEXTS:
        return key, "text"
    if key in PATHS:
        return key, "path"
    return None


def walk(data: Any, path: Path_ = ()) -> list[tuple[Path_, Any]]:
    out = [(path, data)]
    if isinstance(data, dict):
        for k, v in data.items():
            out += walk(v, path + (k,))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += walk(v, path + (i,))
    return out


def get(data: Any, path: Path_) -> Any:
    for p in path:
        data = data[p]
    return data


def put(data: Any, path: Path_, value: Any) -> None:
    get(data, path[:-1])[path[-1]] = value


def shown(path: Path_) -> str:
    """The field as ambience names it (a device's bridge tag is not part of the path)."""
    return field_path(path)


def dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False, width=200)


def _device_path(path: Path_) -> Path_ | None:
    """The device a path is in (rooms.X.thermostat, rooms.X.lights[i])."""
    if len(path) >= 3 and path[0] == "rooms" and path[2] == "thermostat":
        return path[:3]
    if len(path) >= 4 and path[0] == "rooms" and path[2] == "lights":
        return path[:4]
    return None


# ---- the mutations: each returns a Mutant, or None where it does not apply ---------------------------

Mutation = Callable[[random.Random, Any, str], Mutant | None]


def wrong_type(rng: random.Random, data: Any, text: str) -> Mutant | None:
    leaves = [(p, v) for p, v in walk(data) if p and not isinstance(v, (dict, list)) and _kind(p)]
    leaves = [(p, v) for p, v in leaves if not (p[-1] == "after" and v == "restore")]
    sections = [(p, v) for p, v in walk(data) if p and isinstance(v, (dict, list)) and isinstance(p[-1], str)]
    if rng.random() < 0.2 and sections:  # a whole section of the wrong type
        path, value = rng.choice(sections)
        bad = rng.choice([5, "text"] if isinstance(value, (dict, list)) else [[1]])
        if path[-1] in ("presets", "music") and bad == "text":
            bad = 5
        data = copy.deepcopy(data)
        put(data, path, bad)
        return Mutant("wrong type", dump(data), _expected(path))
    path, _ = rng.choice(leaves)
    key, kind = _kind(path)  # type: ignore[misc]
    data = copy.deepcopy(data)
    put(data, path, copy.deepcopy(rng.choice(WRONG_TYPE[kind])))
    return Mutant("wrong type", dump(data), _expected(path))


def _expected(path: Path_) -> str:
    """A bridge refused is reported on the device; anything else on its own path."""
    if path and path[-1] == "bridge" and _device_path(path):
        return shown(path[:-1])
    return shown(path)


def out_of_range(rng: random.Random, data: Any, text: str) -> Mutant | None:
    choices = []
    for path, value in walk(data):
        if not path or isinstance(value, (dict, list)):
            continue
        key = path[-1]
        if key in RANGED:
            lo, hi, whole = RANGED[key]
            step = 1 if whole else 0.5
            choices.append((path, rng.choice([lo - step, hi + step, hi * 10, -50])))
        elif key in PLAIN_INT:
            lo, hi = PLAIN_INT[key]
            choices.append((path, rng.choice([lo - 1, hi + 1])))
        elif key in ("transition", "fade_in", "fade_out", "command_expiry", "ack_timeout", "slow_retry", "lead"):
            choices.append((path, rng.choice(["-5s", -1, "-1m"])))
    if "duration" in data and isinstance(data.get("phases"), list):  # a preset: its cross checks too
        length = parse_duration(data["duration"])
        for i, _ in enumerate(data["phases"]):
            choices.append(
                (("phases", i, "at"), rng.choice([length + 60, -(length + 60), f"{int(length // 60) + 5}m"]))
            )
        choices.append((("duration",), rng.choice(["-10m", -1])))
        choices.append((("name",), "x" * 81))
        for i, _ in enumerate(data["phases"]):
            choices.append((("phases", i, "name"), rng.choice(["", "x" * 41])))
    path, bad = rng.choice(choices)
    data = copy.deepcopy(data)
    put(data, path, bad)
    return Mutant("out of range", dump(data), shown(path))


def crossed(rng: random.Random, data: Any, text: str) -> Mutant | None:
    """Values fine one by one, wrong together: no time for the music's fades, limits upside down, a zero duration."""
    data = copy.deepcopy(data)
    if "limits" in data:
        data["limits"]["min_temperature"], data["limits"]["max_temperature"] = 30, 20
        return Mutant("out of range", dump(data), "limits")
    if data.get("music") and rng.random() < 0.5:
        data["music"]["fade_in"] = data["duration"]
        return Mutant("out of range", dump(data), "music.fade_out")
    data["duration"] = rng.choice([0, "0s", "0m"])
    return Mutant("out of range", dump(data), "duration")


def bad_unit(rng: random.Random, data: Any, text: str) -> Mutant | None:
    choices = [
        (p, k) for p, v in walk(data) if p and not isinstance(v, (dict, list)) for k in [p[-1]] if k in BAD_UNITS
    ]
    choices += [(p, "duration") for p, v in walk(data) if p and p[-1] in DURATIONS and not isinstance(v, (dict, list))]
    if not choices:
        return None
    path, key = rng.choice(choices)
    data = copy.deepcopy(data)
    put(data, path, rng.choice(BAD_UNITS[key]))
    return Mutant("bad unit", dump(data), shown(path))


def unknown_key(rng: random.Random, data: Any, text: str) -> Mutant | None:
    # rooms, roles and a preset's switches are keyed by names the user gives (a switch's role), not fixed keys
    free = (("rooms",), ("roles",)) + ((("switches",),) if "duration" in data else ())
    mappings = [p for p, v in walk(data) if isinstance(v, dict) and p[-1:] not in free]
    path = rng.choice(mappings)
    key = rng.choice(UNKNOWN_KEYS + (["id"] if not path and "duration" in data else []))
    data = copy.deepcopy(data)
    get(data, path)[key] = rng.choice([1, "x", True, [1], {"a": 1}])
    return Mutant("unknown key", dump(data), shown(path + (key,)))


def missing(rng: random.Random, data: Any, text: str) -> Mutant | None:
    choices: list[tuple[Path_, str | None]] = []
    if "duration" in data:  # a preset
        choices += [(("name",), None), (("duration",), None)]
        choices += [(("phases", i, k), None) for i, _ in enumerate(data.get("phases") or []) for k in ("name", "at")]
        if isinstance(data.get("music"), dict):
            choices.append((("music", "playlist"), None))
    for path, value in walk(data):
        if _device_path(path) == path and isinstance(value, dict):
            # what names the device differs by bridge (device, entity_id, object_id): only the keys it has
            choices += [(path + (key,), None) for key in ("device", "entity_id", "object_id") if key in value]
            if "bridge" in value:
                choices.append((path + ("bridge",), "bridge"))
    for i, _ in enumerate((data.get("bookings") or {}).get("recurring") or []):
        choices += [(("bookings", "recurring", i, k), None) for k in ("room", "preset", "weekday", "at")]
    path, text_has = rng.choice(choices)
    data = copy.deepcopy(data)
    del get(data, path[:-1])[path[-1]]
    expected = shown(path[:-1]) if path[-1] == "bridge" else shown(path)
    return Mutant("missing field", dump(data), expected, text_has=text_has)


def bad_value(rng: random.Random, data: Any, text: str) -> Mutant | None:
    """Right type and unit, not an allowed value: a misspelt choice, a bad URL, id or zone."""
    choices: list[tuple[Path_, Any, str | None]] = []
    for path, value in walk(data):
        if not path or isinstance(value, (dict, list)):
            continue
        key = path[-1]
        if key == "bridge":
            choices.append((path, rng.choice(["tasmotta", "zigbee", "hue", "Shelly"]), None))
        elif key in ("technique", "mode", "protocol", "on_busy", "weekday", "setpoint"):
            choices.append((path, rng.choice(["massage", "heatt", "4", "queue", "funday", "setpoint"]), None))
        elif key == "url":
            choices.append((path, rng.choice(["http://127.0.0.1", "mqtt://h:99999", "broker.local", "mqtt://"]), None))
        elif key == "base_topic":
            choices.append((path, rng.choice(["a/#", "/ambience", "ambience/", "amb/+/x"]), None))
        elif key == "role":
            choices.append((path, rng.choice(["Ceiling Light", "1lamp", "lamp!", ""]), None))
        elif key == "timezone":
            choices.append((path, rng.choice(["Mars/Base", "GMT+25", "London"]), None))
        elif key == "state":
            choices.append((path, rng.choice(["dim", "half", "onn"]), None))
        elif key == "color":
            choices.append((path, rng.choice(["red", "#ff00", "#gggggg"]), None))
        elif key == "playlist":
            choices.append((path, rng.choice(["/etc", "../secret", "a/../../b"]), None))
    if "rooms" in data and rng.random() < 0.3:  # a room id that is no id
        data = copy.deepcopy(data)
        room = rng.choice(list(data["rooms"]))
        bad = rng.choice(["Studio Room", "STUDIO", "room 1", "-studio", "x" * 33])
        data["rooms"] = {(bad if k == room else k): v for k, v in data["rooms"].items()}
        return Mutant("bad value", dump(data), shown(("rooms", bad)))
    if "mqtt" in data and rng.random() < 0.1:
        data = copy.deepcopy(data)
        data["mqtt"]["password_file"] = "no-such-file.pass"
        return Mutant("bad value", dump(data), "mqtt.password_file")
    if not choices:
        return None
    path, bad, text_has = rng.choice(choices)
    data = copy.deepcopy(data)
    put(data, path, bad)
    expected = shown(path[:-1]) if path[-1] == "bridge" else shown(path)
    return Mutant("bad value", dump(data), expected, text_has=bad if path[-1] == "bridge" else text_has)


def duplicate(rng: random.Random, data: Any, text: str) -> Mutant | None:
    """A key given twice (rooms, settings, phases' keys), a phase name twice, a device listed twice."""
    phases = data.get("phases") if isinstance(data.get("phases"), list) else []
    what = rng.random()
    if len(phases) >= 2 and what < 0.25:
        i, j = sorted(rng.sample(range(len(phases)), 2))
        data = copy.deepcopy(data)
        data["phases"][j]["name"] = data["phases"][i]["name"]
        return Mutant("duplicate", dump(data), f"phases[{j}].name")
    if "rooms" in data and what < 0.35:
        data = copy.deepcopy(data)
        room = rng.choice(list(data["rooms"]))
        lights = data["rooms"][room].setdefault("lights", [])
        lights.append(copy.deepcopy(rng.choice(lights)))
        return Mutant("duplicate", dump(data), f"rooms.{room}")
    # a key twice in one mapping: a placeholder, dumped, renamed to the key it copies
    mappings = [(p, v) for p, v in walk(data) if isinstance(v, dict) and v]
    path, mapping = rng.choice(mappings)
    key = rng.choice(list(mapping))
    data = copy.deepcopy(data)
    get(data, path)["zz_placeholder_zz"] = copy.deepcopy(mapping[key])
    out = dump(data)
    assert out.count("zz_placeholder_zz:") == 1
    return Mutant("duplicate", out.replace("zz_placeholder_zz:", f"{key}:"), shown(path + (key,)))


def syntax(rng: random.Random, data: Any, text: str) -> Mutant | None:
    lines = text.splitlines()
    for _ in range(50):
        at = rng.randrange(1, len(lines) + 2)  # insert as line `at`
        broken = lines[: at - 1] + [rng.choice(SYNTAX)] + lines[at - 1 :]
        candidate = "\n".join(broken) + "\n"
        try:
            yaml.safe_load(candidate)
        except yaml.YAMLError:
            return Mutant("syntax error", candidate, None, line=at)
    return None


def not_a_mapping(rng: random.Random, data: Any, text: str) -> Mutant | None:
    bodies = ["- a\n- b\n", "just some words\n", "42\n", "[1, 2]\n"]
    if "rooms" not in data:  # an empty config file is the defaults, and fine; an empty preset is not
        bodies += ["", "# only a comment\n", "null\n"]
    return Mutant("not a mapping", rng.choice(bodies), "")


def not_utf8(rng: random.Random, data: Any, text: str) -> Mutant | None:
    raw = text.encode()
    cut = rng.randrange(len(raw))
    return Mutant("not UTF-8", raw[:cut] + b"\xff\xfe" + raw[cut:], "")


def bad_file_name(rng: random.Random, data: Any, text: str) -> Mutant | None:
    stem = rng.choice(["Bad Name", "UPPER", "with.dot", "-leading", "ünïcode", "x" * 65, "sp ace"])
    return Mutant("bad preset id (file name)", text, "", stem=stem)


PRESET_MUTATIONS: list[tuple[Mutation, float]] = [
    (wrong_type, 4), (out_of_range, 3), (crossed, 1), (bad_unit, 3), (unknown_key, 3), (missing, 2),
    (bad_value, 2), (duplicate, 2), (syntax, 3), (not_a_mapping, 0.5), (not_utf8, 0.5), (bad_file_name, 0.5),
]  # fmt: skip
CONFIG_MUTATIONS: list[tuple[Mutation, float]] = [
    (wrong_type, 4), (out_of_range, 3), (crossed, 0.5), (bad_unit, 2), (unknown_key, 3), (missing, 2),
    (bad_value, 3), (duplicate, 2), (syntax, 3), (not_a_mapping, 0.5), (not_utf8, 0.5),
]  # fmt: skip


# ---- loading and checking ----------------------------------------------------------------------------


def _load(kind: str, path: Path) -> InvalidFile | None:
    """The loader's refusal, or None if it accepted the file."""
    try:
        if kind == "preset":
            load_preset_file(path)
        else:
            load_config(path)
    except (PresetError, ConfigError) as exc:
        return exc
    return None


def check(path: Path, mutant: Mutant, refusal: InvalidFile | None) -> str | None:
    if refusal is None:
        return "accepted"
    mine = [i for i in refusal.issues if i.source == str(path)]
    if not mine or path.name not in str(refusal):
        return f"no issue names the file: {refusal}"
    if mutant.field is None:
        lines = [int(m.group(1)) for i in mine if (m := re.fullmatch(r"line (\d+), column \d+", i.field))]
        if not lines or not any(n >= mutant.line for n in lines) or "not valid YAML" not in str(refusal):
            return f"a syntax error at line {mutant.line}, reported as: {refusal}"
        return None
    if not any(i.field == mutant.field for i in mine):
        return f"no issue names the field {mutant.field!r}: {refusal}"
    if mutant.text_has and not any(mutant.text_has in i.message for i in mine):
        return f"the message does not say {mutant.text_has!r}: {refusal}"
    return None


def run_files(folder: Path, count: int, seed: int, progress: Progress) -> Result:
    result = Result("malformed files")
    rng = random.Random(f"files-{seed}")
    real = sorted(shipped_presets().glob("*.yaml"))
    bases = [(p.stem, p.read_text(encoding="utf-8")) for p in real]
    config_text = real_config_text()
    config_data = yaml.safe_load(config_text)
    presets_dir, configs_dir, dups_dir = folder / "presets", folder / "configs", folder / "dups"
    for d in (presets_dir, configs_dir, dups_dir):
        d.mkdir()
    kinds: Counter[str] = Counter()
    bad_kinds: Counter[str] = Counter()
    preset_files: list[Path] = []
    for n in range(count):
        is_preset = n % 2 == 0
        if is_preset and rng.random() < 0.04:  # an id taken already: refused by the library, not the file
            stem, text = rng.choice(bases)
            first, second = dups_dir / f"{n:04d}" / "a", dups_dir / f"{n:04d}" / "b"
            for sub in (first, second):
                sub.mkdir(parents=True)
                (sub / f"{stem}.yaml").write_text(text, encoding="utf-8")
            path = second / f"{stem}.yaml"
            lib = load_library([first, second])
            ok = any(i.source == str(path) and "already taken" in i.message for i in lib.problems)
            kinds["duplicate preset id"] += 1
            result.tried += 1
            result.held += ok
            if not ok:
                bad_kinds["duplicate preset id"] += 1
                result.fail(f"{path}: a second preset with the id {path.stem!r} was not refused: {lib.problems}")
            continue
        mutations = PRESET_MUTATIONS if is_preset else CONFIG_MUTATIONS
        base_text = rng.choice(bases)[1] if is_preset else config_text
        base_data = yaml.safe_load(base_text) if is_preset else config_data
        mutant = None
        while mutant is None:
            mutate = rng.choices([m for m, _ in mutations], [w for _, w in mutations])[0]
            mutant = mutate(rng, base_data, base_text)
        slug = re.sub(r"[^a-z0-9]+", "-", mutant.kind.lower()).strip("-")
        where = presets_dir if is_preset else configs_dir
        path = where / f"{mutant.stem or f'{n:04d}-{slug}'}.yaml"
        if path.exists():
            path = where / f"{mutant.stem}-{n:04d}.yaml"
            if mutant.stem:
                mutant = Mutant(mutant.kind, mutant.text, mutant.field, stem=f"{mutant.stem}-{n:04d}")
        if isinstance(mutant.text, bytes):
            path.write_bytes(mutant.text)
        else:
            path.write_text(mutant.text, encoding="utf-8")
        label = f"{'preset' if is_preset else 'config'}: {mutant.kind}"
        kinds[label] += 1
        result.tried += 1
        problem = check(path, mutant, _load("preset" if is_preset else "config", path))
        if problem is None:
            result.held += 1
        else:
            bad_kinds[label] += 1
            result.fail(f"{path.name} ({label}, field {mutant.field!r}): {problem}")
        if is_preset:
            preset_files.append(path)
        if (n + 1) % 250 == 0:
            progress(f"files: {n + 1}/{count}")

    # the valid ones still load: next to the malformed ones, the real library, the real config
    for path in real:
        (presets_dir / f"valid-{path.stem}.yaml").write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    lib = load_library([presets_dir])
    valid_ids = {f"valid-{p.stem}" for p in real}
    result.check(
        "valid presets in the folder of the malformed ones load", len(valid_ids & set(lib.presets)), len(valid_ids)
    )
    strays = set(lib.presets) - valid_ids
    if strays:
        result.fail(f"malformed presets loaded by the library: {sorted(strays)[:10]}")
    reported = {issue.source for issue in lib.problems}
    skipped = [p for p in preset_files if str(p) in reported]
    result.check("malformed presets skipped (and reported) by the library", len(skipped), len(preset_files))
    shipped = load_library([ROOT / "presets"])
    result.check("presets/ loads with no problem", len(shipped.presets) if not shipped.problems else 0, len(real))
    for issue in shipped.problems:
        result.fail(f"presets/: {issue}")
    good = folder / "ambience.yaml"
    good.write_text(config_text, encoding="utf-8")
    result.check("the real config loads", int(_load("config", good) is None), 1)
    result.details.append("kinds: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
    if bad_kinds:
        result.details.append("not held: " + ", ".join(f"{k} {n}" for k, n in bad_kinds.most_common()))
    return result


__all__ = ["run_files", "real_config_text"]
