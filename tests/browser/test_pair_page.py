"""Pairing by link in a real chromium at 360×740: the link ``ambience pair`` prints signs the phone in
without typing anything, with a token of its own that ``ambience pair --revoke`` takes back at once.

Screenshots: test-artifacts/phone-pair-*.png.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from phone_harness import shot

from ambience.testing import DaemonProcess

pytestmark = pytest.mark.browser


def expect():
    from playwright.sync_api import expect as _expect

    return _expect


def pairing_link(clinic: DaemonProcess, tmp_path: Any) -> str:
    done = clinic.cli("pair", "--png", str(tmp_path / "pair.png"))
    assert done.returncode == 0, done.stderr
    return next(line.strip() for line in done.stdout.splitlines() if "/pair#" in line)


def test_pairing_by_link(phone: Any, clinic: DaemonProcess, tmp_path: Any):
    page = phone
    link = pairing_link(clinic, tmp_path)
    assert link.startswith(clinic.url + "/pair#")
    page.goto(link)
    expect()(page).to_have_url(clinic.url + "/")  # paired, and on to the phone page
    expect()(page.locator('article.room[data-room="studio"] .state-badge')).to_be_visible()
    assert page.get_by_role("heading", name="Sign in").is_hidden()
    token = page.evaluate("localStorage.getItem('ambience.token')")
    assert token and token != clinic.token()  # its own token, not the admin's
    shot(page, "pair-01-paired")

    listed = clinic.cli("pair", "--list")
    assert listed.returncode == 0 and "Chrome on Linux" in listed.stdout, listed.stdout
    phone_id = re.search(r"^\s*([0-9a-f]{8})\s+Chrome on Linux", listed.stdout, re.M)
    assert phone_id, listed.stdout

    revoked = clinic.cli("pair", "--revoke", phone_id.group(1))
    assert revoked.returncode == 0, revoked.stderr
    # the phone's event stream is closed at once; reconnecting is refused and the page asks to sign in
    expect()(page.get_by_role("heading", name="Sign in")).to_be_visible(timeout=10000)
    assert page.evaluate("localStorage.getItem('ambience.token')") is None
    shot(page, "pair-02-revoked")


def test_a_used_code_says_what_to_do(phone: Any, clinic: DaemonProcess, tmp_path: Any):
    page = phone
    link = pairing_link(clinic, tmp_path)
    code = link.split("#", 1)[1]
    assert clinic.request("POST", "/api/pair", {"code": code}).status_code == 201  # someone else was first
    page.goto(link)
    expect()(page.locator("#status")).to_contain_text("wrong, used or expired")
    expect()(page.locator("#status")).to_contain_text("ambience pair")
    assert "#" not in page.url  # the code is out of the address bar
    expect()(page.get_by_label("Pairing code")).to_be_visible()  # a code may be typed instead
    assert page.evaluate("localStorage.getItem('ambience.token')") is None
    shot(page, "pair-03-used-code")

    fresh = pairing_link(clinic, tmp_path).split("#", 1)[1]
    page.get_by_label("Pairing code").fill(f"{fresh[:5].lower()}-{fresh[5:].lower()}")  # as read aloud
    page.get_by_role("button", name="Pair").click()
    expect()(page).to_have_url(clinic.url + "/")
    expect()(page.locator('article.room[data-room="studio"] .state-badge')).to_be_visible()
