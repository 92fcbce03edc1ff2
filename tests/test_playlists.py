"""Playlists without mpv: discovery, refusal of paths outside the music folders (fitting: test_fitting.py;
the default playlist: test_default_library.py)."""

from __future__ import annotations

import math
import shutil
import struct
import subprocess
import wave
from array import array
from pathlib import Path

import pytest
from media import disguised_edl
from mutagen.ogg import OggPage

from ambience.errors import PlayerError
from ambience.music.library import list_playlists, load_playlist, parse_m3u, read_audio, resolve


def tone(path: Path, seconds: float, freq: float = 440.0, rate: int = 8000) -> Path:
    """A quiet sine as a 16-bit mono WAV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    w = 2 * math.pi * freq / rate
    samples = array("h", (int(8000 * math.sin(w * i)) for i in range(int(seconds * rate))))
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(samples.tobytes())
    return path


@pytest.fixture
def music(tmp_path: Path) -> Path:
    root = tmp_path / "music"
    tone(root / "spa" / "b.wav", 2.0)
    tone(root / "spa" / "a.wav", 1.0)
    tone(root / "spa" / "deeper" / "c.wav", 1.5)
    (root / "spa" / "cover.jpg").write_bytes(b"not audio, ignored")
    return root


# ---- discovery ------------------------------------------------------------------------------------


def test_a_folder_playlist_is_recursive_in_name_order_with_lengths(music):
    pl = load_playlist("spa", [music])
    assert [t.name for t in pl.tracks] == ["spa/a.wav", "spa/b.wav", "spa/deeper/c.wav"]
    assert [t.length for t in pl.tracks] == pytest.approx([1.0, 2.0, 1.5])
    assert pl.total == pytest.approx(4.5) and not pl.problems
    assert all(t.path.is_absolute() for t in pl.tracks)


def test_an_m3u_playlist_keeps_its_order_relative_to_its_folder(music):
    (music / "lists").mkdir()
    (music / "lists" / "evening.m3u").write_text("#EXTM3U\n#EXTINF:2,b\n../spa/b.wav\n\n../spa/deeper/c.wav\n")
    (music / "morning.m3u8").write_text("\ufeffspa/a.wav\n", encoding="utf-8")
    assert [t.name for t in load_playlist("lists/evening.m3u", [music]).tracks] == ["spa/b.wav", "spa/deeper/c.wav"]
    assert [t.name for t in load_playlist("morning", [music]).tracks] == ["spa/a.wav"]  # the suffix may be left out
    assert list_playlists([music]) == ["lists", "lists/evening.m3u", "morning.m3u8", "spa"]
    assert parse_m3u("#EXTM3U\n a.flac \n#x\nhttp://radio/stream\n") == ["a.flac", "http://radio/stream"]


def test_playlists_are_found_in_any_music_folder(music, tmp_path):
    other = tmp_path / "more"
    tone(other / "rain" / "r.wav", 1.0)
    assert [t.name for t in load_playlist("rain", [music, other]).tracks] == ["rain/r.wav"]


@pytest.mark.skipif(shutil.which("sox") is None, reason="sox is needed to make FLAC and Ogg files")
def test_flac_and_ogg_tracks_are_read(music):
    for suffix in ("flac", "ogg"):
        subprocess.run(["sox", str(music / "spa" / "b.wav"), str(music / "spa" / f"b2.{suffix}")], check=True)
    names = {t.name: t.length for t in load_playlist("spa", [music]).tracks}
    assert names["spa/b2.flac"] == pytest.approx(2.0, abs=0.01)
    assert names["spa/b2.ogg"] == pytest.approx(2.0, abs=0.05)


def test_an_unknown_playlist_is_an_error_with_a_suggestion(music):
    with pytest.raises(PlayerError, match=r"no playlist 'spaa' in the music folders .*did you mean 'spa'"):
        load_playlist("spaa", [music])


# ---- safety -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["..", "../outside", "spa/../../outside", "/etc", "/tmp/music", "C:/music", ""])
def test_a_name_escaping_the_music_folders_is_refused(music, name):
    with pytest.raises(PlayerError) as err:
        resolve(name, [music])
    assert repr(name) in str(err.value) and str(music) in str(err.value)


def test_a_symlink_leading_out_of_the_music_folders_is_refused(music, tmp_path):
    outside = tmp_path / "private"
    tone(outside / "x.wav", 1.0)
    (music / "sneaky").symlink_to(outside, target_is_directory=True)
    with pytest.raises(PlayerError, match=r"playlist 'sneaky' leads outside the music folders .*allowed: "):
        load_playlist("sneaky", [music])


def test_tracks_outside_the_music_folders_are_skipped_and_reported(music, tmp_path):
    outside = tone(tmp_path / "private" / "x.wav", 1.0)
    (music / "spa" / "link.wav").symlink_to(outside)
    (music / "out.m3u").write_text(f"spa/a.wav\n{outside}\n../private/x.wav\nhttp://example.com/s.mp3\n")
    pl = load_playlist("spa", [music])
    assert "spa/link.wav" not in [t.name for t in pl.tracks]
    assert any("link.wav" in str(p) and "outside the music folders" in str(p) for p in pl.problems)
    pl = load_playlist("out.m3u", [music])
    assert [t.name for t in pl.tracks] == ["spa/a.wav"]
    messages = [str(p) for p in pl.problems]
    assert sum("outside the music folders" in m for m in messages) == 2
    assert any("is a URL" in m for m in messages)


def test_a_file_that_is_not_the_audio_its_name_says_is_refused_naming_it(music, tmp_path):
    """Issue 12 (15): mpv, left to itself, plays what the content looks like; an mpv EDL named .mp3 passed
    the old check (mutagen finds the MPEG frames after it) and made mpv open what the EDL names."""
    outside = tone(tmp_path / "private" / "x.wav", 1.0)
    disguised_edl(music / "spa" / "edl.mp3", str(outside))
    disguised_edl(music / "spa" / "url.mp3", "http://127.0.0.1:9/x.wav")
    shutil.copy(music / "spa" / "a.wav", music / "spa" / "wave.mp3")  # a WAV named .mp3
    (music / "spa" / "list.flac").write_bytes(b"#EXTM3U\n" + bytes(200))
    pl = load_playlist("spa", [music])
    assert [t.name for t in pl.tracks] == ["spa/a.wav", "spa/b.wav", "spa/deeper/c.wav"]
    problems = {Path(p.source).name: p.message for p in pl.problems}
    assert set(problems) == {"edl.mp3", "url.mp3", "wave.mp3", "list.flac"}
    assert problems["edl.mp3"] == "is not MP3 audio as its name says (it begins b'# mpv EDL v0'); skipped"
    assert problems["wave.mp3"].startswith("is not MP3 audio as its name says (it begins b'RIFF")
    assert problems["list.flac"].startswith("is not FLAC audio as its name says (it begins b'#EXTM3U")
    assert {t.format for t in pl.tracks} == {"wav"}


def vorbis(path: Path, seconds: float = 1.0, rate: int = 8000) -> Path:
    """The headers of an Ogg Vorbis stream and a last page at ``seconds``: enough for mutagen."""
    ident = b"\x01vorbis" + struct.pack("<IBIiii", 0, 1, rate, 0, 64000, 0) + b"\xb8\x01"
    comment = b"\x03vorbis" + struct.pack("<II", 0, 0) + b"\x01"
    pages = []
    for i, (packet, position) in enumerate([(ident, 0), (comment, 0), (bytes(10), int(seconds * rate))]):
        page = OggPage()
        page.serial, page.sequence, page.position, page.packets = 1, i, position, [packet]
        page.first, page.last = i == 0, i == 2
        pages.append(page.write())
    path.write_bytes(b"".join(pages))
    return path


def test_mutagen_must_read_a_file_as_its_suffix_says(music):
    assert read_audio(vorbis(music / "spa" / "v.ogg")) == (1.0, "ogg")
    vorbis(music / "spa" / "fake.opus")  # Ogg, but Vorbis: not Opus
    with pytest.raises(ValueError, match=r"is not Opus audio as its name says \(mutagen reads it as OggVorbis\)"):
        read_audio(music / "spa" / "fake.opus")
    assert read_audio(music / "spa" / "a.wav") == (pytest.approx(1.0), "wav")


@pytest.mark.parametrize(
    "entry", ["edl://%20%/etc/hostname,0,1", "memory://# mpv EDL v0", "av://lavfi:sine", "file:///etc/hostname"]
)
def test_an_m3u_entry_in_mpvs_own_protocols_is_refused(music, entry):
    (music / "tricks.m3u").write_text(f"{entry}\nspa/a.wav\n")
    pl = load_playlist("tricks", [music])
    assert [t.name for t in pl.tracks] == ["spa/a.wav"]
    assert [(p.field, p.message.split(":")[0]) for p in pl.problems] == [(entry, "is a URL")]


def test_an_m3u_entry_that_is_a_disguised_edl_is_refused(music, tmp_path):
    disguised_edl(music / "spa" / "x.mp3", str(tone(tmp_path / "private" / "x.wav", 1.0)))
    (music / "evil.m3u").write_text("spa/x.mp3\nspa/a.wav\n")
    pl = load_playlist("evil", [music])
    assert [t.name for t in pl.tracks] == ["spa/a.wav"]
    assert "spa/x.mp3" in pl.problems[0].source and "is not MP3 audio" in pl.problems[0].message


def test_missing_corrupt_and_zero_length_files_are_skipped_with_a_warning(music):
    (music / "spa" / "broken.mp3").write_bytes(b"\x00garbage" * 50)
    (music / "spa" / "broken.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunk")
    tone(music / "spa" / "empty.wav", 0.0)
    (music / "gone.m3u").write_text("spa/nothing-here.flac\nspa/a.wav\n")
    pl = load_playlist("spa", [music])
    assert [t.name for t in pl.tracks] == ["spa/a.wav", "spa/b.wav", "spa/deeper/c.wav"]
    problems = {Path(p.source).name: p.message for p in pl.problems}
    assert set(problems) == {"broken.mp3", "broken.wav", "empty.wav"}
    assert "zero length" in problems["empty.wav"] and "skipped" in problems["broken.mp3"]
    pl = load_playlist("gone", [music])
    assert [t.name for t in pl.tracks] == ["spa/a.wav"] and "does not exist" in str(pl.problems[0])
