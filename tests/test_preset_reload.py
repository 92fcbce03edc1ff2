"""Presets reload when their files change: what counts as a change, what a reload keeps, the swap."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ambience.config.library import Library, fingerprint, load_library

pytestmark = pytest.mark.unit

QUICK = "name: Quick\nduration: 30m\n"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_new_an_edited_and_a_removed_file_each_change_the_fingerprint(tmp_path):
    folders = [tmp_path]
    quick = write(tmp_path / "quick.yaml", QUICK)
    before = fingerprint(folders)
    assert fingerprint(folders) == before  # nothing changed, nothing read
    write(tmp_path / "notes.txt", "not a preset")
    assert fingerprint(folders) == before
    write(tmp_path / "long.yaml", "name: Long\nduration: 90m\n")
    added = fingerprint(folders)
    assert added != before
    write(quick, QUICK.replace("30m", "45m"))  # same size, another mtime
    os.utime(quick, ns=(0, quick.stat().st_mtime_ns + 1_000_000))
    edited = fingerprint(folders)
    assert edited != added
    (tmp_path / "long.yaml").unlink()
    assert fingerprint(folders) not in (added, edited)


def test_a_folder_that_appears_changes_the_fingerprint(tmp_path):
    folders = [tmp_path / "later"]
    before = fingerprint(folders)
    folders[0].mkdir()
    assert fingerprint(folders) != before


def test_a_reload_keeps_the_last_good_version_of_a_file_that_no_longer_loads(tmp_path):
    folders = [tmp_path]
    write(tmp_path / "quick.yaml", QUICK)
    write(tmp_path / "gone.yaml", "name: Gone\nduration: 20m\n")
    first = load_library(folders)
    write(tmp_path / "quick.yaml", "name: Quick\nduration: 30 minutes\n")
    (tmp_path / "gone.yaml").unlink()
    write(tmp_path / "broken-new.yaml", "name: New\nduration: soon\n")
    second = load_library(folders, first)
    assert second.presets["quick"] is first.presets["quick"]
    assert "gone" not in second.presets and "broken-new" not in second.presets
    problems = [str(issue) for issue in second.problems]
    assert any(str(tmp_path / "quick.yaml") in p and "duration" in p for p in problems)
    assert any(str(tmp_path / "quick.yaml") in p and "last good version of preset 'quick'" in p for p in problems)
    assert any(str(tmp_path / "broken-new.yaml") in p and "duration" in p for p in problems)
    assert load_library(folders).presets.keys() == set()  # without a previous library: nothing kept
    write(tmp_path / "quick.yaml", QUICK.replace("30m", "40m"))
    third = load_library(folders, second)
    assert third.presets["quick"].duration == 40 * 60


def test_replace_swaps_the_contents_and_leaves_a_readers_old_dict_whole(tmp_path):
    write(tmp_path / "quick.yaml", QUICK)
    shared = load_library([tmp_path])
    held = shared.presets
    write(tmp_path / "long.yaml", "name: Long\nduration: 90m\n")
    shared.replace(load_library([tmp_path], shared))
    assert set(shared.presets) == {"quick", "long"} and shared.get("long").duration == 90 * 60
    assert set(held) == {"quick"}  # what a reader took before the swap did not change under it
    assert shared.sources["long"] == tmp_path / "long.yaml"
    shared.replace(Library())
    assert shared.presets == {} and shared.problems == []
