"""Argument types shared by the commands: a bad value is argparse's one-line usage error, naming the option."""

from __future__ import annotations

import argparse

from ambience.units import parse_duration


def duration(text: str) -> float:
    """A technical time: ``--timeout 5s`` -> 5.0 (a bare number is seconds); anything else is refused with what is allowed."""
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def length(text: str) -> float:
    """A length a person plans (``--for``, ``--lead``): ``45m``, ``1h30``; a bare number is minutes (``--for 10``)."""
    try:
        return parse_duration(text, bare=60.0)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def offset(text: str) -> float:
    """A signed duration: ``10m`` into a session, ``-5m`` before its end."""
    try:
        return parse_duration(text, signed=True)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


__all__ = ["duration", "length", "offset"]
