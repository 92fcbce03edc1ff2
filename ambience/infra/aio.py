"""Small asyncio helpers."""

from __future__ import annotations

import asyncio


async def wait_event(event: asyncio.Event, timeout: float | None) -> bool:
    """Wait for ``event`` up to ``timeout`` seconds (``None``: for ever); True if it was set.

    ``asyncio.wait_for`` on Python 3.11 can swallow a cancellation that arrives as the event
    is set, leaving a ``while True`` task that never stops; ``asyncio.timeout`` does not.
    """
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
        return True
    except TimeoutError:
        return False
