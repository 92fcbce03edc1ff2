"""Faults a simulated device can be told to have, from Python or ``ambience-sim/<room>/<device>/fault``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Faults:
    drop_first: int = 0
    """Ignore this many more commands (queries such as ``/get`` are still answered)."""
    offline: bool = False
    """The bridge says the device is offline (its availability topic) and it ignores everything."""
    mute: bool = False
    """It stays "online" but accepts nothing and says nothing."""

    @classmethod
    def parse(cls, data: Mapping[str, Any] | None) -> Faults:
        """``{"drop_first": 2}``, ``{"offline": true}``, ``{"mute": true}``; ``{}`` (or None) is no fault.

        A fault message replaces every fault of the device. Raises ValueError naming the bad key or value.
        """
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise ValueError(f'a fault is a JSON object such as {{"drop_first": 2}}, not {data!r}')
        unknown = set(data) - {"drop_first", "offline", "mute"}
        if unknown:
            raise ValueError(f"unknown fault {sorted(unknown)[0]!r}; allowed: drop_first, offline, mute")
        drop = data.get("drop_first", 0)
        if isinstance(drop, bool) or not isinstance(drop, int) or drop < 0:
            raise ValueError(f"drop_first {drop!r} is not a whole number of 0 or more")
        for key in ("offline", "mute"):
            if not isinstance(data.get(key, False), bool):
                raise ValueError(f"{key} {data[key]!r} is not true or false")
        return cls(drop, bool(data.get("offline", False)), bool(data.get("mute", False)))

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v}
