"""Pairing a phone: codes, device tokens, revoking, ``ambience pair``, HTTPS, and the demo's ports.

The pairing rules run against a real Store in a temporary folder on a hand-wound clock; the API,
the CLI and the event stream against a real Daemon's HTTP server in a thread (:class:`LiveDaemon`,
no broker), over plain HTTP and over HTTPS with a certificate ambience generates.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import segno

from ambience import cli
from ambience.cli import demo, pair_cmds
from ambience.config import parse_config
from ambience.errors import ConfigError, NotFound
from ambience.infra import tls
from ambience.infra.store import Store
from ambience.infra.tokens import (
    ADMIN,
    CODE_ALPHABET,
    CODE_LENGTH,
    SEEN_EVERY,
    WRONG_TRIES,
    Pairing,
    PairingRefused,
    phone_name,
)
from ambience.testing import TWO_ROOMS, LiveDaemon, eventually, write_clinic

TOKEN = "pairing-test-admin-token-0123456789"
pytestmark = pytest.mark.usefixtures("clean_env")


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def pairing(tmp_path: Path) -> Iterator[Pairing]:
    store = Store(tmp_path / "ambience.db")
    yield Pairing(store, TOKEN, Clock())
    store.close()


# ---- codes and device tokens ----------------------------------------------------------------


@pytest.mark.unit
def test_a_code_becomes_a_device_token_once(pairing: Pairing):
    code, expires = pairing.issue()
    assert len(code) == CODE_LENGTH and set(code) <= set(CODE_ALPHABET)
    assert expires == pairing.clock() + 600
    phone, token = pairing.redeem(code.lower()[:5] + "-" + code.lower()[5:], "Chrome on Android")  # as typed
    assert pairing.who(token) == phone.id and pairing.who(TOKEN) == ADMIN
    assert [(p.id, p.name) for p in pairing.store.phones()] == [(phone.id, "Chrome on Android")]
    with pytest.raises(PairingRefused, match="wrong, used or expired"):
        pairing.redeem(code, "another")  # single use
    assert pairing.who(token + "x") is None and pairing.who("") is None and pairing.who(None) is None


@pytest.mark.unit
def test_the_store_keeps_a_hash_never_the_token(pairing: Pairing):
    code, _ = pairing.issue()
    _, token = pairing.redeem(code, "phone")
    rows = sqlite3.connect(pairing.store.path).execute("SELECT * FROM phones").fetchall()
    assert rows and token not in repr(rows)


@pytest.mark.unit
def test_a_code_expires(pairing: Pairing):
    code, _ = pairing.issue(60)
    pairing.clock.now += 60  # type: ignore[attr-defined]
    with pytest.raises(PairingRefused):
        pairing.redeem(code, "late")
    with pytest.raises(ValueError, match="at most 60 minutes"):
        pairing.issue(3601)


@pytest.mark.unit
def test_wrong_codes_void_every_pending_code(pairing: Pairing):
    first, _ = pairing.issue()
    second, _ = pairing.issue()
    for _ in range(WRONG_TRIES - 1):
        with pytest.raises(PairingRefused):
            pairing.redeem("AAAAAAAAAA", "guess")
    phone, _ = pairing.redeem(first, "right")  # not yet: a right code resets the count
    assert phone.name == "right"
    for _ in range(WRONG_TRIES):
        with pytest.raises(PairingRefused):
            pairing.redeem("AAAAAAAAAA", "guess")
    with pytest.raises(PairingRefused):
        pairing.redeem(second, "too late: voided")
    assert len(pairing.store.phones()) == 1


@pytest.mark.unit
def test_revoking_takes_the_token_back_at_once(pairing: Pairing):
    tokens = [pairing.redeem(pairing.issue()[0], f"phone {i}") for i in range(3)]
    told: list[set[str]] = []
    pairing.on_revoke.append(told.append)
    (lost, lost_token), (kept, kept_token), _ = tokens
    assert pairing.revoke(lost.id) == [lost.id]
    assert pairing.who(lost_token) is None and pairing.who(kept_token) == kept.id
    with pytest.raises(NotFound, match="unknown paired phone 'nope'; known: " + ", ".join(sorted(
        p.id for p, _ in tokens[1:]))):  # fmt: skip
        pairing.revoke("nope")
    assert sorted(pairing.revoke_all()) == sorted(p.id for p, _ in tokens[1:])
    assert pairing.who(kept_token) is None and pairing.store.phones() == []
    assert told == [{lost.id}, {p.id for p, _ in tokens[1:]}]


@pytest.mark.unit
def test_last_seen_is_written_once_a_minute_not_per_request(pairing: Pairing):
    phone, token = pairing.redeem(pairing.issue()[0], "phone")
    pairing.who(token)
    first = pairing.store.phones()[0].last_seen
    assert first == pairing.clock()
    pairing.clock.now += SEEN_EVERY / 2  # type: ignore[attr-defined]
    pairing.who(token)
    assert pairing.store.phones()[0].last_seen == first
    pairing.clock.now += SEEN_EVERY  # type: ignore[attr-defined]
    pairing.who(token)
    assert pairing.store.phones()[0].last_seen == pairing.clock()


@pytest.mark.unit
def test_a_phone_name_is_one_short_printable_line():
    assert phone_name("  Anna's\nphone\x1b[31m ") == "Anna's phone [31m"
    assert phone_name("x" * 500) == "x" * 60
    assert phone_name("") == phone_name(None) == "a phone"


# ---- the config's http.tls ----------------------------------------------------------------------


@pytest.mark.unit
def test_http_tls_in_the_config(tmp_path: Path):
    assert parse_config("http: {tls: generate}", "c.yaml", tmp_path).http.tls.generate  # type: ignore[union-attr]
    (tmp_path / "c.pem").write_text("x")
    (tmp_path / "k.pem").write_text("x")
    files = parse_config("http: {tls: {cert: c.pem, key: k.pem}}", "c.yaml", tmp_path).http.tls
    assert files is not None and files.cert == tmp_path / "c.pem" and files.key == tmp_path / "k.pem"
    for text, message in (
        ("http: {tls: yes}", "c.yaml: http.tls: True is not allowed; write 'generate'"),
        ("http: {tls: {cert: c.pem}}", "c.yaml: http.tls: key is missing"),
        ("http: {tls: {cert: gone.pem, key: k.pem}}", "c.yaml: http.tls.cert: '" + str(tmp_path / "gone.pem")),
    ):
        with pytest.raises(ConfigError) as caught:
            parse_config(text, "c.yaml", tmp_path)
        assert str(caught.value).startswith(message), str(caught.value)


def test_a_generated_certificate_is_kept_and_private(tmp_path: Path):
    config = parse_config("http: {tls: generate}\nstate_dir: state", "c.yaml", tmp_path)
    first = tls.server_certificate(config)
    assert first is not None and first.generated
    assert stat.S_IMODE(first.key.stat().st_mode) == 0o600
    assert first.fingerprint == tls.fingerprint(first.cert.read_bytes())
    assert len(first.fingerprint.split(":")) == 32
    again = tls.server_certificate(config)
    assert again is not None and again.fingerprint == first.fingerprint  # not made anew at each start


def test_a_key_that_does_not_fit_is_one_clear_error(tmp_path: Path):
    one = parse_config("http: {tls: generate}\nstate_dir: a", "c.yaml", tmp_path)
    other = parse_config("http: {tls: generate}\nstate_dir: b", "c.yaml", tmp_path)
    a, b = tls.server_certificate(one), tls.server_certificate(other)
    assert a is not None and b is not None
    with pytest.raises(tls.TlsError, match="does not fit the certificate"):
        tls.server_context(tls.Certificate(a.cert, b.key, a.fingerprint, generated=False))


# ---- the API, the CLI and the event stream -----------------------------------------------------


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveDaemon]:
    clinic = write_clinic(tmp_path, TWO_ROOMS, http={"port": 0, "token": TOKEN})
    monkeypatch.chdir(tmp_path)
    with LiveDaemon(clinic.config, mqtt=False) as server:
        monkeypatch.setenv("AMBIENCE_CONFIG", str(clinic.file))
        monkeypatch.setenv("AMBIENCE_URL", server.url)
        yield server


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_ambience_pair_prints_a_qr_code_of_a_link_that_pairs_a_phone(served: LiveDaemon, capsys, tmp_path: Path):
    png = tmp_path / "qr.png"
    code, out, err = run(capsys, "pair", "--png", str(png))
    assert code == 0, err
    link = next(line for line in out.splitlines() if "/pair#" in line).strip()
    assert link.startswith(f"http://127.0.0.1:{served.port}/pair#")
    assert "▄" in out or "█" in out  # the QR code, drawn in the terminal
    assert "works on this machine, not on a phone" in err and "http.host: 0.0.0.0" in err
    expected = tmp_path / "expected.png"
    segno.make(link, error="m").save(str(expected), scale=8, border=4)
    assert png.read_bytes() == expected.read_bytes()  # the PNG is the QR code of that very link

    page = httpx.get(link)  # what the phone opens: the fragment stays on the phone
    assert page.status_code == 200 and "/static/pair.js" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    answer = httpx.post(served.url + "/api/pair", json={"code": link.split("#", 1)[1], "name": "Chrome on Android"})
    assert answer.status_code == 201, answer.text
    device = answer.json()["token"]
    assert device != TOKEN and answer.headers["cache-control"] == "no-store"
    assert httpx.get(served.url + "/api/rooms", headers=bearer(device)).status_code == 200

    code, out, _ = run(capsys, "pair", "--list")
    assert code == 0 and answer.json()["id"] in out and "Chrome on Android" in out
    code, out, _ = run(capsys, "pair", "--revoke", answer.json()["id"])
    assert code == 0 and f"revoked 1 phone(s): {answer.json()['id']}" in out
    refused = httpx.get(served.url + "/api/rooms", headers=bearer(device))
    assert refused.status_code == 401 and refused.json() == {"error": "wrong token"}
    code, _, err = run(capsys, "pair", "--revoke", answer.json()["id"])
    assert code == 1 and "unknown paired phone" in err


def test_the_pairing_routes(served: LiveDaemon):
    url = served.url
    asked = httpx.post(url + "/api/pairing", json={"valid_for": "2m"}, headers=bearer(TOKEN))
    assert asked.status_code == 201, asked.text
    body = asked.json()
    assert body["valid_for_s"] == 120 and body["scheme"] == "http" and body["port"] == served.port
    assert body["fingerprint"] is None and body["shown"] == f"{body['code'][:5]}-{body['code'][5:]}"
    assert httpx.post(url + "/api/pairing", headers=bearer("guess")).status_code == 401
    wrong = httpx.post(url + "/api/pair", json={"code": "AAAAAAAAAA"})
    assert wrong.status_code == 403 and "ambience pair" in wrong.json()["error"]
    bad = httpx.post(url + "/api/pair", json={"code": body["code"], "token": "x"})
    assert bad.status_code == 422 and bad.json()["issues"][0]["field"] == "token"
    too_long = httpx.post(url + "/api/pairing", json={"valid_for": "2h"}, headers=bearer(TOKEN))
    assert too_long.status_code == 422 and too_long.json()["issues"][0]["field"] == "valid_for"
    # a length: a bare number is minutes (docs/units.md), so 61 is over the hour a code may last
    bare = httpx.post(url + "/api/pairing", json={"valid_for": 61}, headers=bearer(TOKEN))
    assert bare.status_code == 422 and "at most 1h" in bare.json()["issues"][0]["message"], bare.text

    paired = httpx.post(url + "/api/pair", json={"code": body["code"]}).json()
    phone = bearer(paired["token"])
    assert paired["name"] == "a phone"
    for method, path in (("POST", "/api/pairing"), ("GET", "/api/phones"), ("DELETE", "/api/phones")):
        answer = httpx.request(method, url + path, headers=phone)
        assert answer.status_code == 403 and "admin token" in answer.json()["error"], (path, answer.text)
    assert httpx.get(url + "/api/clients", headers=phone).status_code == 200  # what the page does, it may
    phones = httpx.get(url + "/api/phones", headers=bearer(TOKEN)).json()
    assert [(p["id"], p["name"]) for p in phones] == [(paired["id"], "a phone")]
    assert phones[0]["paired"].endswith("+00:00") and phones[0]["last_seen"] is not None
    gone = httpx.delete(url + "/api/phones", headers=bearer(TOKEN))
    assert gone.json() == {"revoked": [paired["id"]]}
    assert httpx.get(url + "/api/clients", headers=phone).status_code == 401


def test_revoking_a_phone_ends_its_event_stream(served: LiveDaemon):
    code = httpx.post(served.url + "/api/pairing", headers=bearer(TOKEN)).json()["code"]
    paired = httpx.post(served.url + "/api/pair", json={"code": code}).json()
    hub = served.app.state.web_hub
    with (
        httpx.stream("GET", served.url + "/api/events", params={"token": paired["token"]}, timeout=5) as phone,
        httpx.stream("GET", served.url + "/api/events", params={"token": TOKEN}, timeout=5) as desk,
    ):
        assert phone.status_code == 200 and desk.status_code == 200
        eventually(lambda: len(hub.queues) == 2, 5)
        httpx.delete(served.url + f"/api/phones/{paired['id']}", headers=bearer(TOKEN)).raise_for_status()
        assert "event: room" in "".join(phone.iter_text())  # it ends: the loop returns
        eventually(lambda: len(hub.queues) == 1, 5)  # the desk's stays open
    again = httpx.get(served.url + "/api/events", params={"token": paired["token"]})
    assert again.status_code == 401


def test_pair_lan_says_plainly_when_a_phone_cannot_reach_the_daemon(served: LiveDaemon, capsys):
    if tls.lan_address() is None:
        pytest.skip("this machine has no LAN address")
    code, out, err = run(capsys, "pair", "--lan")
    assert code == 0
    assert f"{tls.lan_address()}:{served.port}/pair#" in out
    assert "the daemon listens on 127.0.0.1 only: a phone cannot reach it" in err
    assert "AMBIENCE_HTTP__HOST=0.0.0.0" in err


@pytest.mark.unit
def test_the_link_host():
    config = parse_config("http: {host: 0.0.0.0}", "c.yaml", Path("/tmp"))
    host, warning = pair_cmds.link_host(config, None, lan=False)
    assert warning is None or "no LAN address" in warning
    assert host == (tls.lan_address() or "127.0.0.1")
    assert pair_cmds.link_host(config, "massage.local", lan=True) == ("massage.local", None)
    answer = {"scheme": "https", "port": 8765, "code": "K7M2Q9XHTA"}
    assert pair_cmds.pairing_link(answer, "fe80::1") == "https://[fe80::1]:8765/pair#K7M2Q9XHTA"


# ---- HTTPS --------------------------------------------------------------------------------------


@pytest.fixture
def served_tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[LiveDaemon, str]]:
    clinic = write_clinic(tmp_path, TWO_ROOMS, http={"port": 0, "token": TOKEN, "tls": "generate"})
    monkeypatch.chdir(tmp_path)
    with LiveDaemon(clinic.config, mqtt=False) as server:
        url = f"https://127.0.0.1:{server.port}"
        monkeypatch.setenv("AMBIENCE_CONFIG", str(clinic.file))
        monkeypatch.setenv("AMBIENCE_URL", url)
        yield server, url


def test_a_fingerprint_is_printed_as_it_is_never_as_emoji(tmp_path: Path):
    """Found by CI: rich read ``:AB:`` in a SHA-256 fingerprint as the emoji code for 🆎 (one run in a few)."""
    import argparse
    import io
    from datetime import UTC, datetime, timedelta

    config = write_clinic(tmp_path, TWO_ROOMS).config
    out = io.StringIO()
    ctx = cli.Context(argparse.Namespace(), cli._console(out), cli._console(io.StringIO()), (config, None))
    fingerprint = "AB:CD:12:" + ":".join(["0F"] * 29)
    answer = {
        "expires_at": (datetime.now(UTC) + timedelta(minutes=10)).isoformat(), "valid_for_s": 600,
        "shown": "ABCD-EFGH", "fingerprint": fingerprint,
    }  # fmt: skip
    pair_cmds.show_pairing(ctx, answer, "https://127.0.0.1:8443/pair#ABCDEFGH", tmp_path / "pair.png", None)
    assert f"  {fingerprint}\n" in out.getvalue()


def test_the_daemon_serves_https_and_the_cli_trusts_its_own_certificate(served_tls, capsys):
    server, url = served_tls
    cert = server.config.state_dir / "tls" / "cert.pem"
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(url + "/healthz")  # not a certificate this machine trusts…
    assert httpx.get(url + "/healthz", verify=tls.client_context(cert)).json() == {"ok": True}  # …but pinned, yes
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{server.port}/healthz")  # no plain HTTP on the TLS port

    code, out, err = run(capsys, "status", "studio", "--json")
    assert code == 0, err
    assert json.loads(out)["room"] == "studio"
    code, out, err = run(capsys, "pair")
    assert code == 0, err
    assert f"https://127.0.0.1:{server.port}/pair#" in out
    assert tls.fingerprint(cert.read_bytes()) in out and "under the padlock" in out


def test_the_cli_refuses_a_daemon_that_shows_another_certificate(served_tls, capsys, tmp_path: Path):
    server, url = served_tls
    other = parse_config("http: {tls: generate}\nstate_dir: other", "c.yaml", tmp_path)
    found = tls.server_certificate(other)
    assert found is not None
    client = cli.client_cmds.DaemonClient(url, TOKEN, cert_file=found.cert)
    with pytest.raises(cli.client_cmds.DaemonUnreachable, match="the certificate it shows is not"):
        client.get("/api/rooms")
    client.close()


def test_a_tls_key_that_does_not_fit_switches_the_api_off_saying_why(tmp_path: Path, caplog):
    one = parse_config("http: {tls: generate}\nstate_dir: a", "c.yaml", tmp_path)
    two = parse_config("http: {tls: generate}\nstate_dir: b", "c.yaml", tmp_path)
    a, b = tls.server_certificate(one), tls.server_certificate(two)
    assert a is not None and b is not None
    tls_section = {"cert": str(a.cert), "key": str(b.key)}
    clinic = write_clinic(tmp_path / "clinic", TWO_ROOMS, http={"port": 0, "token": TOKEN, "tls": tls_section})
    with pytest.raises(RuntimeError, match="did not start"), LiveDaemon(clinic.config, mqtt=False):
        pass
    assert any("the HTTP API is off" in r.message and "does not fit" in r.message for r in caplog.records)


# ---- the demo's ports ---------------------------------------------------------------------------


def test_the_demo_keeps_a_port_in_time_wait(capsys):
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = listener.accept()
        accepted.close()  # the server side closes first: its end of the port is in TIME_WAIT
        client.close()
    assert demo._free_port(port, "the phone page") == port
    assert capsys.readouterr().out == ""


def test_the_demo_says_plainly_when_its_port_is_taken(capsys):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        chosen = demo._free_port(port, "the phone page")
    assert chosen != port
    assert capsys.readouterr().out == (
        f"port {port} (the phone page) is in use by another program; the demo uses {chosen} this time\n"
    )


def test_an_encrypted_key_is_refused_without_asking_for_a_passphrase(tmp_path: Path):
    from cryptography.hazmat.primitives import serialization

    config = parse_config("http: {tls: generate}\nstate_dir: state", "c.yaml", tmp_path)
    found = tls.server_certificate(config)
    assert found is not None
    key = serialization.load_pem_private_key(found.key.read_bytes(), None)
    locked = tmp_path / "locked.pem"
    locked.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    with pytest.raises(tls.TlsError, match=f"http.tls.key '{locked}' is encrypted; give it unencrypted"):
        tls.server_context(tls.Certificate(found.cert, locked, found.fingerprint, generated=False))
