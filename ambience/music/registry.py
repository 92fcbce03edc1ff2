"""A room's speaker config → the :class:`~ambience.music.base.Player` that plays it.

The daemon and ``ambience play`` get their players here and nowhere else, so a new kind of speaker
is one model in :mod:`ambience.config.devices` (a member of the ``Speaker`` union), one module under
:mod:`ambience.music` implementing the protocol, and one line in :data:`BACKENDS`. See docs/music.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ambience.config.devices import AnySpeaker, SnapcastSpeaker, Speaker
from ambience.music.base import Player
from ambience.music.mpv import MpvPlayer
from ambience.music.snapcast import SnapcastPlayer


def _mpv(speaker: Speaker, **kwargs: Any) -> Player:
    return MpvPlayer(audio_device=speaker.audio_device, ao=speaker.ao, loudness=speaker.loudness, **kwargs)


def _snapcast(speaker: SnapcastSpeaker, **kwargs: Any) -> Player:
    return SnapcastPlayer(speaker, **kwargs)


BACKENDS: dict[type[Any], Callable[..., Player]] = {Speaker: _mpv, SnapcastSpeaker: _snapcast}
"""Each speaker config model and how to build its player (keyword arguments: :func:`make_player`'s)."""


def make_player(
    speaker: AnySpeaker,
    *,
    max_volume: float,
    name: str,
    clock: Callable[[], float] = time.time,
    **options: Any,
) -> Player:
    """The player for ``speaker``: at most ``max_volume`` (the room's limit), logging as ``name``, reading
    ``clock`` (the daemon's) for the moment a state is for. ``options`` go to the backend as they are
    (for mpv and Snapcast: ``options={...}`` mpv options, ``meter=True`` ...)."""
    build = BACKENDS.get(type(speaker))
    if build is None:  # a Speaker model added without its backend: a programming error, not bad input
        raise TypeError(
            f"no player for speakers of type {type(speaker).__name__}; known: {', '.join(t.__name__ for t in BACKENDS)}"
        )
    return build(speaker, max_volume=max_volume, name=name, clock=clock, **options)
