"""Reading a calendar from a CalDAV server (Nextcloud, Radicale, Baïkal, iCloud, Fastmail…) with the ``caldav``
library, as one iCalendar text: the same text an ICS feed gives, so it is parsed and planned the same way.

The server is asked for the events in a window, expanded (``search(…, expand=True)``: every occurrence of
a recurring event on its own, with its RECURRENCE-ID); they are put into one ``VCALENDAR`` with the time
zones they use and ``X-WR-CALNAME`` set to the calendar's name (what ``calendar:`` room rules read).
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

from ambience.errors import CalendarError

log = logging.getLogger(__name__)

TIMEOUT = 10
"""Seconds to wait for each answer of the server."""


def _reason(exc: BaseException) -> str:
    """'connection refused' out of niquests' ``HTTPConnectionPool(…): Max retries exceeded … [Errno 111] Connection
    refused')``; else the first line of the message."""
    text = str(exc) or type(exc).__name__
    errno = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    line = errno.group(1).strip() if errno else text.strip().splitlines()[0]
    line = line[:1].lower() + line[1:] if errno else line
    return line if len(line) <= 160 else line[:159] + "…"


def _calendar(client: Any, url: str, name: str | None, where: str) -> Any:
    """The calendar named ``name`` among the account's (any case), or the one at ``url``."""
    if name is None:
        return client.calendar(url=url)
    calendars = client.principal().calendars()
    names = {}
    for calendar in calendars:
        shown = str(calendar.get_display_name() or calendar.url.path.rstrip("/").rsplit("/", 1)[-1])
        names[shown] = calendar
        if shown.strip().casefold() == name.strip().casefold():
            return calendar
    known = ", ".join(repr(n) for n in sorted(names)) or "none"
    raise CalendarError(f"{where}: no calendar named {name!r} on the server; its calendars: {known}")


def read_calendar(url: str, *, calendar: str | None, username: str | None, password: str | None,
                  start: datetime, end: datetime, where: str) -> str:  # fmt: skip
    """The events of the CalDAV calendar starting in ``[start, end)``, expanded, as iCalendar text.

    ``calendar`` is the calendar's name among the account's, or None for the calendar at ``url``. Raises
    :class:`CalendarError` starting with ``where`` (the feed, for the message) when the server cannot be
    reached, refuses the login, or has no such calendar. Blocking: run it in a thread."""
    import icalendar
    from caldav.davclient import DAVClient  # here: a daemon without CalDAV feeds need not load it (nor niquests, lxml)
    from caldav.lib import error as dav_error

    try:
        with DAVClient(url=url, username=username, password=password, timeout=TIMEOUT) as client:
            source = _calendar(client, url, calendar, where)
            name = calendar or str(source.get_display_name() or "")
            found = source.search(start=start, end=end, event=True, expand=True)
            components = [obj.icalendar_instance for obj in found]
    except CalendarError:
        raise
    except dav_error.AuthorizationError:
        raise CalendarError(f"{where}: the server refused the login (check username and password)") from None
    except dav_error.NotFoundError:
        raise CalendarError(f"{where}: the server has no calendar at that address") from None
    except Exception as exc:  # the network, the server's XML, its iCalendar: whatever it raises means no feed
        log.debug("%s: CalDAV read failed", where, exc_info=True)
        raise CalendarError(f"{where}: cannot read the calendar: {_reason(exc)}") from None
    out = icalendar.Calendar()
    out.add("PRODID", "-//ambience//caldav//EN")
    out.add("VERSION", "2.0")
    if name:
        out.add("X-WR-CALNAME", name)
    zones: set[str] = set()
    for each in components:
        for part in each.subcomponents:
            if part.name == "VTIMEZONE" and str(part.get("TZID")) not in zones:
                zones.add(str(part.get("TZID")))
                out.add_component(part)
            elif part.name == "VEVENT":
                out.add_component(part)
    return out.to_ical().decode("utf-8")


__all__ = ["read_calendar"]
