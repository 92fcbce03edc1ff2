"""Presets and the config are held to size, depth and value-count limits: one line each beyond them.

Before the limits a preset nested 600 levels deep raised RecursionError out of PyYAML (``ambience
serve`` did not start; ``config check`` printed a 2,993-line traceback), a 100 MB preset was read,
parsed and served whole, and a few kilobytes of aliases took minutes to validate.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from ambience import config as config_module
from ambience.cli import main
from ambience.config import library as library_module
from ambience.config import load_config
from ambience.config.library import load_library, load_preset_file
from ambience.errors import ConfigError, PresetError
from ambience.model import parse as validation
from ambience.model.parse import MAX_DEPTH, MAX_VALUES, load_yaml, read_text
from ambience.testing.process import DaemonProcess

PRESET = "name: Test\nduration: 30m\n"


def nested(levels: int) -> str:
    """A flow list nested ``levels`` deep: ``[[[]]]``."""
    return "[" * levels + "]" * levels


def alias_bomb(levels: int, fan: int = 10) -> str:
    """``fan ** levels`` values in a few hundred bytes, as a preset's description."""
    lines = ["a0: &a0 [x]"]
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * fan) + "]")
    return PRESET + "\n".join(lines) + f"\ndescription: *a{levels}\n"


@pytest.fixture(autouse=True)
def no_config(monkeypatch, tmp_path):
    monkeypatch.delenv("AMBIENCE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)


# ---- depth ------------------------------------------------------------------------------------------


def test_nesting_up_to_the_limit_is_read_and_one_level_more_is_one_issue():
    # MAX_DEPTH levels counts the top mapping: ``x:`` plus MAX_DEPTH - 1 lists
    data, issues = load_yaml("x: " + nested(MAX_DEPTH - 1), "t.yaml")
    assert issues == [] and data is not None
    _, issues = load_yaml("x: " + nested(MAX_DEPTH), "t.yaml")
    assert [str(i) for i in issues] == [
        f"t.yaml: line 1, column {MAX_DEPTH + 3}: nested {MAX_DEPTH + 1} levels deep; at most {MAX_DEPTH} levels "
        "are allowed"
    ]


def test_a_preset_600_levels_deep_is_one_issue_naming_the_file_and_the_depth_found(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text(PRESET + "description: " + nested(600) + "\n")
    with pytest.raises(PresetError) as caught:
        load_preset_file(path)
    assert [str(i) for i in caught.value.issues] == [
        f"{path}: line 3, column {14 + MAX_DEPTH - 1}: nested 601 levels deep; at most {MAX_DEPTH} levels are allowed"
    ]
    # deeper than Python's recursion limit, in mappings: the same one line
    _, issues = load_yaml("{a: " * 5000 + "1" + "}" * 5000, "c.yaml")
    assert [i.message for i in issues] == [f"nested 5000 levels deep; at most {MAX_DEPTH} levels are allowed"]

    # block style counts the same: ``levels`` mappings, one in the other
    def block(levels: int) -> str:
        return "".join("  " * i + f"k{i}:\n" for i in range(levels)) + "  " * levels + "v\n"

    assert load_yaml(block(MAX_DEPTH), "c.yaml")[1] == []
    _, issues = load_yaml(block(MAX_DEPTH + 1), "c.yaml")
    assert [i.message for i in issues] == [
        f"nested {MAX_DEPTH + 1} levels deep; at most {MAX_DEPTH} levels are allowed"
    ]


# ---- size --------------------------------------------------------------------------------------------


def test_a_preset_at_the_size_limit_loads_and_one_byte_more_is_refused_unread(tmp_path):
    limit = library_module.MAX_BYTES
    path = tmp_path / "big.yaml"
    path.write_text(PRESET + "# " + "x" * (limit - len(PRESET) - 3) + "\n")
    assert path.stat().st_size == limit
    assert load_preset_file(path).name == "Test"
    path.write_text(PRESET + "# " + "x" * (limit - len(PRESET) - 2) + "\n")
    with pytest.raises(PresetError) as caught:
        load_preset_file(path)
    assert [str(i) for i in caught.value.issues] == [
        f"{path}: is {limit + 1:,} bytes (64 KiB); a preset file may be at most {limit:,} bytes (64 KiB)"
    ]


def test_a_100_mb_preset_is_refused_at_once(tmp_path):
    path = tmp_path / "huge.yaml"
    with open(path, "wb") as file:  # sparse: the test writes nothing, the refusal must read nothing
        file.truncate(100 * 1024 * 1024)
    started = time.monotonic()
    with pytest.raises(PresetError, match=r"huge.yaml: is 104,857,600 bytes \(100 MiB\); a preset file may be at"):
        load_preset_file(path)
    assert time.monotonic() - started < 0.1


def test_no_more_than_the_limit_is_ever_read(tmp_path):
    # a file whose size says nothing (a device, or one that grows while read)
    text, issues = read_text(Path("/dev/zero"), 1000, "preset file")
    assert text is None
    assert [str(i) for i in issues] == ["/dev/zero: is more than 1,000 bytes; a preset file may be at most 1,000 bytes"]


def test_the_config_has_its_own_size_limit(tmp_path, monkeypatch):
    path = tmp_path / "ambience.yaml"
    path.write_text("rooms: {}\n" + "#" * 100 + "\n")
    monkeypatch.setattr(config_module, "MAX_BYTES", path.stat().st_size)
    assert load_config(path)[1] == path
    monkeypatch.setattr(config_module, "MAX_BYTES", path.stat().st_size - 1)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert [str(i) for i in caught.value.issues] == [f"{path}: is 111 bytes; a config file may be at most 110 bytes"]


def large_clinic() -> str:
    """50 rooms of a thermostat and 10 lights each: more than any clinic has."""
    rooms = "".join(
        f"  room{r}:\n    name: Treatment room {r}\n"
        f"    thermostat: {{bridge: zigbee2mqtt, device: room{r}-trv, setpoint: current_heating_setpoint}}\n"
        "    lights:\n"
        + "".join(f"      - {{bridge: tasmota, device: room{r}-light{i}, role: lamp{i}, max_transition: 10s}}\n"
                  for i in range(10))
        + "    speaker: {audio_device: auto}\n    limits: {max_temperature: 26, max_volume: 60}\n"
        for r in range(50)
    )  # fmt: skip
    return "mqtt: {url: 'mqtt://127.0.0.1:1883'}\nrooms:\n" + rooms


def test_the_limits_leave_real_files_far_below_them(tmp_path, monkeypatch):
    # what docs/daemon.md and presets/README.md say: the shipped presets and a config for a large
    # clinic stay within limits a quarter (depth) and an eighth (values) of the real ones
    monkeypatch.setattr(validation, "MAX_DEPTH", MAX_DEPTH // 4)
    monkeypatch.setattr(validation, "MAX_VALUES", MAX_VALUES // 8)
    shipped = sorted(library_module.shipped_presets().glob("*.yaml"))
    assert len(shipped) >= 9 and max(p.stat().st_size for p in shipped) * 40 < library_module.MAX_BYTES
    assert all(load_preset_file(p) for p in shipped)
    path = tmp_path / "ambience.yaml"
    path.write_text(large_clinic())
    assert path.stat().st_size * 4 < config_module.MAX_BYTES
    assert len(load_config(path)[0].rooms) == 50


# ---- values (aliases) --------------------------------------------------------------------------------


def expanded(values: int) -> str:
    """YAML holding exactly ``values`` values once its aliases are expanded (``values`` > 200)."""
    # the mapping, keys a, b, c (4); a's list and its 99 items (100); b's list (1) and n aliases of a (100 n);
    # c's list (1) and the rest as items
    n = (values - 106) // 100
    rest = values - 106 - 100 * n
    ones = ",".join(["1"] * 99)
    return f"a: &a [{ones}]\nb: [{', '.join(['*a'] * n)}]\nc: [{','.join(['1'] * rest)}]\n"


def test_values_up_to_the_limit_are_read_and_more_are_one_issue():
    data, issues = load_yaml(expanded(MAX_VALUES), "t.yaml")
    assert issues == [] and sum(len(row) + 1 for row in data["b"]) + len(data["c"]) + 106 == MAX_VALUES
    _, issues = load_yaml(expanded(MAX_VALUES + 1), "t.yaml")
    assert [str(i) for i in issues] == [
        f"t.yaml: holds {MAX_VALUES + 1:,} values (aliases counted as what they stand for); "
        f"at most {MAX_VALUES:,} are allowed"
    ]


def test_a_file_of_many_small_values_stops_being_read_at_the_limit(monkeypatch):
    monkeypatch.setattr(validation, "MAX_VALUES", 1000)
    flat = "x: [" + ",".join(["1"] * 997) + "]\n"  # the mapping, its key, the list: 1000
    assert load_yaml(flat, "t.yaml")[1] == []
    _, issues = load_yaml(flat.replace("[", "[1,", 1) + "y: [" * 50, "t.yaml")  # never read so far
    assert [str(i) for i in issues] == [
        "t.yaml: holds more than 1,000 values (aliases counted as what they stand for); at most 1,000 are allowed"
    ]


def test_an_alias_bomb_is_refused_in_a_moment(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb(levels=30))  # 10^30 values in 2 KiB
    assert path.stat().st_size < 2100
    started = time.monotonic()
    with pytest.raises(PresetError, match=r"bomb.yaml: holds more than 1,000,000,000,000 values"):
        load_preset_file(path)
    assert time.monotonic() - started < 1
    # aliases that stay under the limit are read (here refused by the model, as a list would be)
    path.write_text(alias_bomb(levels=3))
    with pytest.raises(PresetError) as caught:
        load_preset_file(path)
    assert sorted(i.field for i in caught.value.issues) == ["a0", "a1", "a2", "a3", "description"]


# ---- the surfaces: the library, the CLI, ambience serve -------------------------------------------


def bad_folder(folder: Path) -> Path:
    """A preset folder with a good preset and one of each kind of file beyond the limits."""
    folder.mkdir()
    (folder / "good.yaml").write_text(PRESET)
    (folder / "deep.yaml").write_text(PRESET + "description: " + nested(600) + "\n")
    (folder / "bomb.yaml").write_text(alias_bomb(levels=30))
    with open(folder / "huge.yaml", "wb") as file:
        file.truncate(100 * 1024 * 1024)
    return folder


def test_the_library_skips_each_bad_file_with_one_issue(tmp_path):
    library = load_library([bad_folder(tmp_path / "presets")])
    assert list(library.presets) == ["good"]
    assert sorted(Path(i.source).name for i in library.problems) == ["bomb.yaml", "deep.yaml", "huge.yaml"]


def test_presets_check_and_config_check_print_one_line_per_problem(capsys, tmp_path):
    folder = bad_folder(tmp_path / "presets")
    code = main(["presets", "check", *(str(p) for p in sorted(folder.iterdir()))])
    out, err = capsys.readouterr()
    assert code == 1
    assert len(err.splitlines()) == 3 and all(line.startswith("error: ") for line in err.splitlines()), err
    assert "1 of 4 presets valid" in out

    for name, text in [
        ("deep.yaml", "rooms: " + nested(600) + "\n"),
        ("bomb.yaml", alias_bomb(levels=30).replace(PRESET, "")),
    ]:
        path = tmp_path / name
        path.write_text(text)
        code = main(["config", "check", "--config", str(path)])
        out, err = capsys.readouterr()
        assert code == 1 and out == ""
        assert len(err.splitlines()) == 1 and str(path) in err, err


CONFIG = """
mqtt: {{url: '{url}', base_topic: amb}}
presets: [presets]
state_dir: state
http: {{port: 0}}
rooms: {{}}
"""


def test_ambience_serve_starts_and_serves_the_other_presets(broker, tmp_path):
    bad_folder(tmp_path / "presets")
    cfg = tmp_path / "ambience.yaml"
    cfg.write_text(CONFIG.format(url=broker.url))
    daemon = DaemonProcess(cfg, tmp_path / "state")
    try:
        daemon.start()
        assert [p["id"] for p in daemon.api("GET", "/api/presets")] == ["good"]
        log = daemon.log.read_text()
        for name in ("deep.yaml", "bomb.yaml", "huge.yaml"):
            lines = [line for line in log.splitlines() if name in line]
            assert len(lines) == 1, (name, log[-3000:])
        assert "Traceback" not in log and "RecursionError" not in log
        assert httpx.get(daemon.url + "/healthz", timeout=5).status_code == 200
    finally:
        daemon.stop()
