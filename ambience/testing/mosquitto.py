"""A private mosquitto for tests and benchmarks, and a paho probe that records what it hears.

``Mosquitto`` writes a config into its own temporary folder, starts the broker on a free
loopback port and waits until the port accepts connections. It may take users (a password
file), TLS files and an ACL file (``acl_file``: mosquitto's own format, copied in). ``stop()`` / ``kill()`` and a
later ``start()`` reuse the same port, so a test can take the broker away and bring it back.

Run as root, mosquitto drops its privileges to the user ``mosquitto`` *before* it reads the
password file and the TLS files (the config itself is read as root). So the folder is 0755 and
those files (and the ACL file) belong to group ``mosquitto`` with mode 0640 (0600 when not root). The log goes to
``mosquitto.log`` in that folder through stderr, which needs no permission at all.

``MqttProbe`` is a raw paho client for tests: it subscribes, records every message with its
arrival time (thread-safe) and waits for one that matches; it also publishes. ``Gate`` is a door
in front of the broker, for a test that restarts it and must let the probe back in first.
"""

from __future__ import annotations

import base64
import grp
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from ambience.infra.mqtt import set_no_delay

HOST = "127.0.0.1"
_SEARCH = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto")


def find_mosquitto() -> str | None:
    """The mosquitto binary: ``$AMBIENCE_MOSQUITTO``, then PATH, then the usual sbin folders."""
    explicit = os.environ.get("AMBIENCE_MOSQUITTO")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    found = shutil.which("mosquitto")
    if found:
        return found
    return next((p for p in _SEARCH if os.access(p, os.X_OK)), None)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def password_line(user: str, password: str) -> str:
    """One line of a mosquitto 2 password file (``$7$``: PBKDF2-SHA512, 101 rounds, 12-byte salt)."""
    salt = os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, 101, 64)
    return f"{user}:$7${101}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def write_password_file(path: Path, users: dict[str, str]) -> None:
    """Write ``users`` (name -> password) with ``mosquitto_passwd`` if it exists, else by hand."""
    tool = shutil.which("mosquitto_passwd") or next(
        (p for p in ("/usr/bin/mosquitto_passwd", "/usr/local/bin/mosquitto_passwd") if os.access(p, os.X_OK)), None
    )
    if tool is None:
        path.write_text("".join(password_line(u, p) + "\n" for u, p in users.items()), encoding="utf-8")
        return
    path.unlink(missing_ok=True)
    for i, (user, password) in enumerate(users.items()):
        args = [tool, "-b", *(["-c"] if i == 0 else []), str(path), user, password]
        subprocess.run(args, check=True, capture_output=True, timeout=10)


def make_tls_files(folder: Path, host: str = HOST) -> tuple[Path, Path, Path]:
    """A throw-away CA and a server certificate for ``host`` (openssl CLI): (cafile, certfile, keyfile)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise FileNotFoundError("openssl is not installed")
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, ca, key, csr, cert = (folder / n for n in ("ca.key", "ca.crt", "server.key", "server.csr", "server.crt"))
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True, timeout=30)

    run("req", "-x509", *ec, "-keyout", str(ca_key), "-out", str(ca), "-days", "2", "-subj", "/CN=ambience test CA")
    run("req", *ec, "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={host}")
    ext = folder / "server.ext"
    ext.write_text(f"subjectAltName=IP:{host},DNS:localhost\n", encoding="utf-8")
    run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
        "-out", str(cert), "-days", "2", "-extfile", str(ext))  # fmt: skip
    return ca, cert, key


class Mosquitto:
    """A mosquitto on a free loopback port, with its own config, log and (optional) TLS / passwords."""

    host = HOST

    def __init__(
        self,
        *,
        port: int | None = None,
        tls: tuple[str | os.PathLike[str], str | os.PathLike[str], str | os.PathLike[str]] | None = None,
        password_file: str | os.PathLike[str] | None = None,
        users: dict[str, str] | None = None,
        acl_file: str | os.PathLike[str] | None = None,
        binary: str | None = None,
        extra_config: Iterable[str] = (),
    ):
        binary = binary or find_mosquitto()
        if binary is None:
            raise FileNotFoundError("mosquitto is not installed (apt-get install mosquitto)")
        self.binary = binary
        self.port = port or free_port()
        self.tls = tls is not None
        self.dir = Path(tempfile.mkdtemp(prefix="ambience-mosquitto-"))
        os.chmod(self.dir, 0o755)
        self.log_file = self.dir / "mosquitto.log"
        self.config_file = self.dir / "mosquitto.conf"
        self._process: subprocess.Popen[bytes] | None = None
        lines = [
            "per_listener_settings false",
            "persistence false",
            f"listener {self.port} {HOST}",
            "set_tcp_nodelay true",
            "max_queued_messages 0",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "log_timestamp_format %Y-%m-%dT%H:%M:%S",
            "connection_messages true",
        ]
        if users:
            pw = self.dir / "passwords"
            write_password_file(pw, users)
            password_file = pw
        if password_file is not None:
            lines += ["allow_anonymous false", f"password_file {self._private_copy(password_file, 'passwords')}"]
        else:
            lines.append("allow_anonymous true")
        if acl_file is not None:
            lines.append(f"acl_file {self._private_copy(acl_file, 'acl')}")
        if tls is not None:
            cafile, certfile, keyfile = tls
            lines += [
                f"cafile {self._private_copy(cafile, 'ca.crt')}",
                f"certfile {self._private_copy(certfile, 'server.crt')}",
                f"keyfile {self._private_copy(keyfile, 'server.key')}",
            ]
        lines += list(extra_config)
        self.config_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
        os.chmod(self.config_file, 0o644)

    def _private_copy(self, source: str | os.PathLike[str], name: str) -> Path:
        """A copy of ``source`` in the broker's folder that the broker (and only it) can read."""
        target = self.dir / name
        if Path(source).resolve() != target.resolve():
            shutil.copyfile(source, target)
        if os.geteuid() == 0:
            try:
                os.chown(target, 0, grp.getgrnam("mosquitto").gr_gid)
                os.chmod(target, 0o640)
            except KeyError:  # no mosquitto group: the broker stays root (no privileges to drop to)
                os.chmod(target, 0o600)
        else:
            os.chmod(target, 0o600)
        return target

    # ---- lifetime ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{HOST}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 10.0) -> Mosquitto:
        """Start (or restart, on the same port) and wait until the port accepts connections."""
        if self.running:
            return self
        with open(self.log_file, "ab") as log:
            self._process = subprocess.Popen(
                [self.binary, "-c", str(self.config_file)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"mosquitto exited with {self._process.returncode}:\n{self.log_tail()}")
            try:
                with socket.create_connection((HOST, self.port), timeout=0.2):
                    return self
            except OSError:
                if time.monotonic() > deadline:
                    self.kill()
                    raise TimeoutError(
                        f"mosquitto did not listen on {self.port} in {timeout}s:\n{self.log_tail()}"
                    ) from None
                time.sleep(0.02)

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM and wait (SIGKILL if it takes longer than ``timeout``)."""
        self._signal(signal.SIGTERM, timeout)

    def kill(self) -> None:
        """SIGKILL: the broker disappears at once, as in a crash or a power cut."""
        self._signal(signal.SIGKILL, 5.0)

    def _signal(self, sig: signal.Signals, timeout: float) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)

    def close(self) -> None:
        """Stop and remove the folder."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Mosquitto({self.url}, {'running' if self.running else 'stopped'})"


class Gate:
    """A door in front of a broker: clients connected through it reach the broker only while it is open.

    A test that restarts the broker and must hear everything the others send after it (a probe that
    reconnects on its own, beside a daemon that reconnects on its own) connects the probe to the broker and
    the others to ``gate.url``; it shuts the gate before the kill and opens it once the probe is back
    and subscribed. A connection made while the gate is shut is closed at once, as a broker that is not
    there yet would; connections already through are left to the broker (a kill ends them).
    """

    def __init__(self, broker: Mosquitto):
        self.broker = broker
        self._open = threading.Event()
        self._open.set()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((HOST, 0))
        self._listener.listen(16)
        self.port: int = self._listener.getsockname()[1]
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        self.refused = 0
        """How many connections were closed because the gate was shut."""
        threading.Thread(target=self._accept, name="gate-accept", daemon=True).start()

    @property
    def url(self) -> str:
        return f"mqtt://{HOST}:{self.port}"

    def shut(self) -> None:
        self._open.clear()

    def open(self) -> None:
        self._open.set()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._open.is_set():
                self.refused += 1
                client.close()
                continue
            try:
                upstream = socket.create_connection((HOST, self.broker.port), timeout=2)
            except OSError:
                client.close()
                continue
            for s in (client, upstream):
                s.settimeout(None)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                if self._closed:
                    client.close()
                    upstream.close()
                    return
                self._sockets |= {client, upstream}
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):  # one side gone: the other is told, as a broker's kill would tell it
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        with self._lock:
            for s in (source, sink):
                if s in self._sockets:
                    self._sockets.discard(s)
                    s.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            sockets, self._sockets = list(self._sockets), set()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        except OSError:
            pass
        self._listener.close()
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def __enter__(self) -> Gate:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---- a raw paho client for tests --------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    time: float
    """``time.monotonic()`` at arrival."""
    retain: bool = False
    qos: int = 0

    @property
    def text(self) -> str:
        return self.payload.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.payload)


Predicate = Callable[[Received], bool]


class MqttProbe:
    """Subscribes, records ``Received`` messages in arrival order, waits for one that matches, publishes.

    Reconnects by itself (subscriptions are renewed in ``on_connect``). Usable as a context manager.
    """

    def __init__(
        self,
        broker: Mosquitto | str,
        *topics: str,
        username: str | None = None,
        password: str | None = None,
        cafile: str | os.PathLike[str] | None = None,
        protocol: mqtt.MQTTProtocolVersion = mqtt.MQTTv5,
        timeout: float = 5.0,
        client_id: str | None = None,
    ):
        url = broker.url if isinstance(broker, Mosquitto) else broker
        scheme, _, rest = url.partition("://")
        host, _, port = rest.rstrip("/").rpartition(":")
        self._messages: list[Received] = []
        self._cond = threading.Condition()
        self._topics: list[str] = []
        self._acked: set[int] = set()
        self._connected = threading.Event()
        self._answered = threading.Event()
        self._refused: Any = None
        self._settles, self._settled = 0, b""
        client_id = client_id or f"probe-{os.getpid()}-{id(self):x}"
        self._settle_topic = f"ambience-test/settle/{client_id}"
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol)
        if username is not None:
            self.client.username_pw_set(username, password)
        if scheme == "mqtts":
            self.client.tls_set(ca_certs=str(cafile) if cafile else None)
        self.client.reconnect_delay_set(1, 2)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.connect_async(host, int(port))
        self.client.loop_start()
        if not self._answered.wait(timeout) or self._refused is not None:
            self.close()
            if self._refused is not None:
                raise ConnectionRefusedError(f"{url} refused the probe: {self._refused}")
            raise TimeoutError(f"probe could not connect to {url} in {timeout}s")
        if topics:
            self.subscribe(*topics, timeout=timeout)

    # paho's network thread
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            if not self._answered.is_set():
                self._refused = reason_code
                self._answered.set()
            return
        set_no_delay(client)
        with self._cond:
            topics = list(self._topics)
        if topics:
            client.subscribe([(t, 1) for t in topics])
        self._connected.set()
        self._answered.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connected.clear()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        with self._cond:
            self._acked.add(mid)
            self._cond.notify_all()

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        received = Received(message.topic, bytes(message.payload), time.monotonic(), bool(message.retain), message.qos)
        with self._cond:
            if message.topic == self._settle_topic:
                self._settled = received.payload
                self._cond.notify_all()
                return
            self._messages.append(received)
            self._cond.notify_all()

    # the test's thread
    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float = 5.0) -> bool:
        return self._connected.wait(timeout)

    def subscribe(self, *topics: str, timeout: float = 5.0) -> None:
        """Subscribe (QoS 1) and wait for the broker's SUBACK."""
        with self._cond:
            self._topics.extend(t for t in topics if t not in self._topics)
        rc, mid = self.client.subscribe([(t, 1) for t in topics])
        if rc != mqtt.MQTT_ERR_SUCCESS:
            raise RuntimeError(f"subscribe failed: {mqtt.error_string(rc)}")
        with self._cond:
            if not self._cond.wait_for(lambda: mid in self._acked, timeout):
                raise TimeoutError(f"no SUBACK for {topics} in {timeout}s")

    def publish(
        self, topic: str, payload: str | bytes | dict | list | float | None, qos: int = 1, retain: bool = False
    ) -> mqtt.MQTTMessageInfo:
        """Publish (dicts and lists as JSON). With QoS 1 while connected, waits (up to 5 s) for the PUBACK."""
        if isinstance(payload, (dict, list)):
            payload = json.dumps(payload)
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if qos and info.rc == mqtt.MQTT_ERR_SUCCESS:
            try:
                info.wait_for_publish(5.0)
            except RuntimeError:  # the connection dropped meanwhile: paho sends it after reconnecting
                pass
        return info

    def settle(self, timeout: float = 5.0) -> None:
        """A round trip through the broker: a message to itself on a topic of its own (not recorded).

        When it returns, everything the broker had sent this probe before has arrived, e.g. the
        retained messages of a subscription: ``messages()`` then shows them all, no sleep needed.
        (It says nothing of what another client has yet to publish.)
        """
        if self._settle_topic not in self._topics:
            self.subscribe(self._settle_topic, timeout=timeout)
        with self._cond:
            self._settles += 1
            payload = str(self._settles).encode()
        self.publish(self._settle_topic, payload)
        with self._cond:
            if not self._cond.wait_for(lambda: self._settled == payload, timeout):
                raise TimeoutError(f"no round trip through the broker in {timeout}s")

    def mark(self) -> int:
        """The index of the next message: pass it as ``since`` to wait only for later ones."""
        with self._cond:
            return len(self._messages)

    def messages(self, topic: str | None = None, since: int = 0) -> list[Received]:
        """What was received (optionally only on topics matching the filter ``topic``)."""
        with self._cond:
            got = self._messages[since:]
        return [m for m in got if topic is None or mqtt.topic_matches_sub(topic, m.topic)]

    def clear(self) -> None:
        with self._cond:
            self._messages.clear()

    def wait_for(self, predicate: Predicate | str, timeout: float = 5.0, since: int = 0) -> Received:
        """The first message from index ``since`` on for which ``predicate`` is true.

        ``predicate`` may be a topic filter string. A predicate raising KeyError, TypeError or
        ValueError (e.g. reading JSON that is not there) counts as no match. Raises AssertionError
        listing the last messages on timeout.
        """
        match = _as_predicate(predicate)
        deadline = time.monotonic() + timeout
        index = since
        with self._cond:
            while True:
                while index < len(self._messages):
                    message = self._messages[index]
                    index += 1
                    if match(message):
                        return message
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = "\n".join(f"  {m.topic} {m.text[:200]}" for m in self._messages[since:][-20:])
                    raise AssertionError(f"no matching message within {timeout}s; last received:\n{seen or '  none'}")
                self._cond.wait(left)

    def wait_count(self, topic: str, count: int, timeout: float = 5.0, since: int = 0) -> list[Received]:
        """Wait until ``count`` messages on ``topic`` (a filter) arrived from index ``since`` on; returns them."""

        def enough(_: Received) -> bool:
            return len(self.messages(topic, since)) >= count

        self.wait_for(enough, timeout, since)
        return self.messages(topic, since)[:count]

    def wait_json(
        self, topic: str, where: Callable[[Any], bool] | None = None, timeout: float = 5.0, since: int = 0
    ) -> Any:
        """The JSON of the first message on ``topic`` (a filter) whose JSON satisfies ``where``."""

        def match(m: Received) -> bool:
            return mqtt.topic_matches_sub(topic, m.topic) and (where is None or bool(where(m.json())))

        return self.wait_for(match, timeout, since).json()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self) -> MqttProbe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _as_predicate(predicate: Predicate | str) -> Predicate:
    if isinstance(predicate, str):
        topic = predicate
        return lambda m: mqtt.topic_matches_sub(topic, m.topic)

    def safe(m: Received) -> bool:
        try:
            return bool(predicate(m))
        except (KeyError, TypeError, ValueError):
            return False

    return safe
