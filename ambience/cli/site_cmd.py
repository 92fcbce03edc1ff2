"""``ambience status --site``: every site sharing the store, for a chain's manager (docs/failover.md).

Read from the store itself, not from a daemon: which daemon leads each site (and whether it was heard
from lately), its rooms, and the sessions running there with their time left. Works from any machine
whose config names the chain's ``store_url``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from rich.table import Table

from ambience.infra.store import SessionRecord, Store
from ambience.units import format_duration, say_clock

STALE_AFTER = 5.0
"""A leader not heard from for this long has no leadership any more (its standby takes over within it)."""


def site_rows(sites: list[dict[str, Any]], sessions: dict[str, list[SessionRecord]], now: float) -> list[dict]:
    """One row per site (pure): its leader, whether it leads now, its rooms and the running sessions."""
    rows = []
    known = {s["site"]: s for s in sites}
    for name in sorted(set(known) | set(sessions)):
        info = known.get(name)
        running = [
            {
                "room": r.room,
                "preset": r.preset,
                "client": r.client,
                "ends_at": r.facts.ends_at(now),
                "remaining_s": max(0.0, r.facts.ends_at(now) - now),
                "paused": r.facts.paused,
            }
            for r in sessions.get(name, [])
            if r.facts.stopped_at is None
        ]
        holder = info["holder"] if info else {}
        rows.append(
            {
                "site": name,
                "leader": {"host": holder.get("host"), "pid": holder.get("pid"), "http": holder.get("http")}
                if info
                else None,
                "leading": bool(info and now - info["seen"] <= STALE_AFTER),
                "leader_number": info["epoch"] if info else None,
                "since": info["since"] if info else None,
                "seen_ago_s": round(now - info["seen"], 1) if info else None,
                "rooms": info["rooms"] if info else sorted({str(r["room"]) for r in running}),
                "sessions": running,
            }
        )
    return rows


def site_table(rows: list[dict], twelve: bool = False) -> Table:
    table = Table(title="Sites in the store", title_justify="left")
    for column in ("site", "leader", "rooms", "sessions"):
        table.add_column(column)
    for row in rows:
        if row["leader"] is None:
            leader = "[red]none on record[/red]"
        elif row["leading"]:
            since = say_clock(datetime.fromtimestamp(row["since"]).astimezone(), twelve=twelve)
            leader = f"{row['leader']['host']} (pid {row['leader']['pid']}) since {since}"
        else:
            leader = f"[red]none: {row['leader']['host']} last heard {format_duration(row['seen_ago_s'])} ago[/red]"
        sessions = [
            f"{s['room']}: {s['preset']}" + (f" for {s['client']}" if s["client"] else "")
            + (", paused" if s["paused"] else f", {format_duration(round(s['remaining_s']))} left")
            for s in row["sessions"]
        ]  # fmt: skip
        table.add_row(row["site"], leader, ", ".join(row["rooms"]) or "-", "\n".join(sessions) or "idle")
    return table


def show_sites(store: Store, now: float, as_json: bool, out: Any, twelve: bool = False) -> int:
    rows = site_rows(store.sites(), store.site_sessions(), now)
    if as_json:
        out.file.write(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
        out.file.flush()
    elif not rows:
        out.print("no site has written to this store yet")
    else:
        out.print(site_table(rows, twelve))
    return 0
