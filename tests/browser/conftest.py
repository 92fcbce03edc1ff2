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
from phone_harness import CHROMIUM, CHROMIUM_ARGS, ROOMS, VIEWPORT, idle, unexpected

from ambience.simulator import Simulator
from ambience.testing import FOUND, DaemonProcess, Mosquitto, find_mosquitto, write_clinic


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
def clinic(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    """``ambience serve`` for two rooms of simulated devices (the garden spot offline), for this module."""
    binary = find_mosquitto()
    if binary is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto, or set AMBIENCE_MOSQUITTO)")
    with Mosquitto(binary=binary) as broker:
        files = write_clinic(
            tmp_path_factory.mktemp("phone"), ROOMS, mqtt=broker.url, base_topic="amb", bookings={"timezone": "UTC"},
            reconcile={"ack_timeout": "0.3s", "max_tries": 2, "slow_retry": "3s"},
        )  # fmt: skip
        faults = {"garden-spot": {"offline": True}}
        with Simulator(files.config, tick=0.2, initial=FOUND, faults=faults):
            daemon = DaemonProcess(files.file, files.state_dir).start()
            try:
                yield daemon
            finally:
                daemon.stop()


@pytest.fixture
def phone(browser: Any, clinic: DaemonProcess) -> Iterator[Any]:
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
        idle(clinic)
    assert not errors, f"the page logged errors: {errors}"
