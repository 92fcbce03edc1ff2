"""The preset library ships inside the wheel, so a pip install has it too."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_carries_the_preset_library(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot build a wheel here: {proc.stderr.strip().splitlines()[-1:]}")
    wheel = next(tmp_path.glob("ambience-*.whl"))
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    shipped = sorted(p.name for p in (ROOT / "presets").glob("*.yaml"))
    code = (
        "from ambience.config.library import shipped_presets, load_library;"
        "lib = load_library([shipped_presets()]);"
        "print(shipped_presets());print(sorted(p.name for p in lib.sources.values()));print(len(lib.problems))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env={"PYTHONPATH": str(site)}
    )
    assert out.returncode == 0, out.stderr
    folder, names, problems = out.stdout.splitlines()
    assert folder.startswith(str(site))
    assert names == str(shipped) and problems == "0"
