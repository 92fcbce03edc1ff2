"""A follow that comes while mpv is still being started waits for it (bench/soak_snapcast.py found the
race: a Snapcast room's first session was heard ~5 s late). The room's first follow opens mpv; the
Snapcast control, ready meanwhile, follows again with the music — that second call found ``_opened``
set but no mpv yet and was dropped, so the music waited for the room's next follow."""

from __future__ import annotations

import asyncio

from test_player import needs_mpv, write_wav

from ambience.core.fitting import fit
from ambience.model.state import MusicState
from ambience.music.mpv import MpvPlayer
from ambience.testing import eventually_async


@needs_mpv
def test_a_follow_while_mpv_opens_is_not_dropped(tmp_path):
    track = write_wav(tmp_path / "a440.wav", 5, 440.0)
    music = MusicState("tones", False, True, 0.0, 60.0, 60.0, 0.0)

    async def scenario() -> bool:
        player = MpvPlayer(ao="null", max_volume=60)
        try:
            # the first call starts mpv and asks for nothing; the second, meanwhile, asks for music
            await asyncio.gather(player.follow(None, None), player.follow(music, fit([track], 4.0, 1)))
            await eventually_async(lambda: player.status()["playing"], timeout=3)
            return True
        finally:
            await player.close()

    assert asyncio.run(scenario())
