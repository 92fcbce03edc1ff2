"""How many examples a property test draws: all of them, or a tenth in the quick pure run.

``./run test -m unit`` is for a developer between two edits; it sets ``AMBIENCE_QUICK_PROPERTIES``
(tests/conftest.py) and every property test draws a tenth of its examples. The whole suite,
and CI, draw them all.
"""

from __future__ import annotations

import os

QUICK = "AMBIENCE_QUICK_PROPERTIES"


def quick() -> bool:
    return os.environ.get(QUICK) == "1"


def draws(n: int) -> int:
    """``n``, or a tenth of it (at least 5) in the quick run."""
    return max(5, n // 10) if quick() else n
