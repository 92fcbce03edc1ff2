"""The phone page installable over the configured TLS (issue 17's "Done when"), in a real chromium against a real
``ambience serve`` with ``http.tls: generate`` listening on this machine's LAN address.

Over plain HTTP a LAN address is no secure context (no service worker, not installable); over the daemon's own
certificate it is. Chromium trusts exactly that certificate, by its public key's SHA-256
(``--ignore-certificate-errors-spki-list``, honoured only with a profile on disk), as a phone trusts it once
when paired; then Chromium's installability check finds nothing missing and the service worker controls the
page. Screenshot: test-artifacts/phone-tls-01.png.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from phone_harness import controlled, installability_errors, persistent, shot, sign_in

from ambience.infra.tls import lan_address
from ambience.testing import DaemonProcess

pytestmark = pytest.mark.browser

HOST = lan_address() or "127.0.0.1"
"""The address a phone reaches: the LAN's (only loopback on a machine without one)."""


@pytest.fixture(scope="module")
def clinic_sections() -> dict[str, Any]:
    return {"http": {"port": 0, "host": HOST, "tls": "generate"}}


@pytest.fixture(scope="module")
def daemon_options() -> dict[str, Any]:
    return {"tls": True, "host": HOST}


def spki_sha256(cert_file: Path) -> str:
    """The base64 SHA-256 of the certificate's public key (SubjectPublicKeyInfo), as chromium's flag takes it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    public = x509.load_pem_x509_certificate(cert_file.read_bytes()).public_key()
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    digest = hashes.Hash(hashes.SHA256())
    digest.update(der)
    return base64.b64encode(digest.finalize()).decode()


def test_the_page_is_installable_over_the_daemons_own_certificate(
    playwright: Any, clinic: DaemonProcess, tmp_path: Path
):
    assert clinic.url.startswith("https://") and clinic.cert_file is not None
    assert clinic.api("GET", "/healthz", expect=200)  # the harness trusts exactly the daemon's certificate
    trust = f"--ignore-certificate-errors-spki-list={spki_sha256(clinic.cert_file)}"
    with persistent(playwright, tmp_path / "profile", (trust,)) as page:
        sign_in(page, clinic)
        assert page.evaluate("window.isSecureContext") is True
        assert page.evaluate("location.protocol") == "https:"
        controlled(page)
        assert page.evaluate("navigator.serviceWorker.controller.scriptURL") == clinic.url + "/sw.js"
        assert installability_errors(page, clinic.url) == []
        shot(page, "tls-01")
