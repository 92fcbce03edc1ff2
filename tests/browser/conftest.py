"""Browser tests of the phone page: Playwright driving Debian's chromium against a real ``ambience serve``.

They skip, saying why, when ``/usr/bin/chromium`` (``apt-get install chromium``), the ``playwright``
package (``pip install playwright``; no ``playwright install``: the system chromium is used) or
mosquitto is missing. Screenshots at 360×740 go to ``test-artifacts/`` at the repository root.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from phone_harness import CHROMIUM, CHROMIUM_ARGS, CONFIG, INITIAL, VIEWPORT, Clinic, unexpected

from ambience.config import parse_config
from ambience.simulator import Simulator
from ambience.testing.mosquitto import Mosquitto, find_mosquitto
from ambience.testing.process import DaemonProcess


@pytest.fixture(scope="module")  # not longer: while Playwright's sync API runs, asyncio.run() cannot
def browser() -> Iterator[Any]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"{CHROMIUM} is missing: apt-get install --no-install-recommends chromium")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright package is missing: pip install playwright"
    )
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def clinic(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clinic]:
    binary = find_mosquitto()
    if binary is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto, or set AMBIENCE_MOSQUITTO)")
    tmp = tmp_path_factory.mktemp("phone")
    broker = Mosquitto(binary=binary)
    broker.start()
    try:
        cfg = tmp / "ambience.yaml"
        cfg.write_text(CONFIG.format(url=broker.url))
        config = parse_config(cfg.read_text(), str(cfg), tmp)
        faults = {"garden-spot": {"offline": True}}
        with Simulator(config, tick=0.2, initial=INITIAL, faults=faults) as sim:
            daemon = DaemonProcess(cfg, tmp / "state").start()
            clinic = Clinic(cfg, tmp / "state", daemon, sim)
            try:
                yield clinic
            finally:
                clinic.daemon.stop()
    finally:
        broker.close()


@pytest.fixture
def phone(browser: Any, clinic: Clinic) -> Iterator[Any]:
    """A fresh browser context (empty storage) at 360×740, touch, UTC like the clinic; one page in it."""
    context = browser.new_context(
        viewport=VIEWPORT, device_scale_factor=1, is_mobile=True, has_touch=True, timezone_id="UTC", locale="en-GB"
    )
    context.set_default_timeout(8000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" and unexpected(msg.text) else None)
    try:
        yield page
    finally:
        context.close()
        clinic.idle()
    assert not errors, f"the page logged errors: {errors}"
