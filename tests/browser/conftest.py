"""Browser tests of the phone page: Playwright driving Debian's chromium against a real ``ambience serve``.

They skip, saying why, when ``/usr/bin/chromium`` (``apt-get install chromium``), the ``playwright``
package (``pip install playwright``; no ``playwright install``: the system chromium is used) or
mosquitto is missing. Screenshots at 360×740 go to ``test-artifacts/`` at the repository root.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from phone_harness import ROOMS, idle, unexpected

from ambience.simulator import Simulator
from ambience.testing import FOUND, DaemonProcess, Mosquitto, find_mosquitto, write_clinic
from ambience.testing.browser import CHROMIUM, CHROMIUM_ARGS, VIEWPORT


@pytest.fixture(scope="module")  # not longer: while Playwright's sync API runs, asyncio.run() cannot
def playwright() -> Iterator[Any]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"{CHROMIUM} is missing: apt-get install --no-install-recommends chromium")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright package is missing: pip install playwright"
    )
    with sync_api.sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="module")
def browser(playwright: Any) -> Iterator[Any]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture(scope="module")
def clinic_sections() -> dict[str, Any]:
    """Top-level config sections of this module's clinic (a module overrides it: ``units``, say)."""
    return {}


@pytest.fixture(scope="module")
def clinic_rooms() -> dict[str, Any]:
    """The rooms of this module's clinic (a module overrides it: a home visit, a speaker)."""
    return ROOMS


@pytest.fixture(scope="module")
def clinic_faults() -> dict[str, Any]:
    """The simulator's faults in this module's clinic: the garden spot offline (a module without it overrides)."""
    return {"garden-spot": {"offline": True}}


@pytest.fixture(scope="module")
def daemon_options() -> dict[str, Any]:
    """:class:`DaemonProcess` options of this module's clinic (a module overrides it: ``tls=True``, ``host=``)."""
    return {}


@pytest.fixture(scope="module")
def clinic(
    browser: Any,
    tmp_path_factory: pytest.TempPathFactory,
    clinic_sections: dict[str, Any],
    clinic_rooms: dict[str, Any],
    clinic_faults: dict[str, Any],
    daemon_options: dict[str, Any],
) -> Iterator[DaemonProcess]:
    """``ambience serve`` for two rooms of simulated devices (the garden spot offline), for this module."""
    binary = find_mosquitto()
    if binary is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto, or set AMBIENCE_MOSQUITTO)")
    with Mosquitto(binary=binary) as broker:
        files = write_clinic(
            tmp_path_factory.mktemp("phone"), clinic_rooms, mqtt=broker.url, base_topic="amb", bookings={"timezone": "UTC"},
            reconcile={"ack_timeout": "0.3s", "max_tries": 2, "slow_retry": "3s"}, **clinic_sections,
        )  # fmt: skip
        with Simulator(files.config, tick=0.2, initial=FOUND, faults=clinic_faults):
            daemon = DaemonProcess(files.file, files.state_dir, **daemon_options).start()
            try:
                yield daemon
            finally:
                daemon.stop()


@pytest.fixture
def open_phone(browser: Any, clinic: DaemonProcess) -> Iterator[Callable[..., Any]]:
    """``open_phone(viewport=, locale=, mobile=)``: a page in a fresh browser context (empty storage), UTC like
    the clinic; every page it opened is checked for errors it logged, and closed, at the end."""
    contexts: list[Any] = []
    errors: list[str] = []

    def open_page(viewport: dict[str, int] = VIEWPORT, locale: str = "en-GB", mobile: bool = True) -> Any:
        context = browser.new_context(
            viewport=viewport, device_scale_factor=1, is_mobile=mobile, has_touch=mobile, timezone_id="UTC",
            locale=locale,
        )  # fmt: skip
        contexts.append(context)
        context.set_default_timeout(8000)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on(
            "console", lambda msg: errors.append(msg.text) if msg.type == "error" and unexpected(msg.text) else None
        )
        return page

    try:
        yield open_page
    finally:
        for context in contexts:
            context.close()
        idle(clinic)
    assert not errors, f"the page logged errors: {errors}"


@pytest.fixture
def phone(open_phone: Callable[..., Any]) -> Any:
    """A page at 360×740, touch, in British English."""
    return open_phone()
