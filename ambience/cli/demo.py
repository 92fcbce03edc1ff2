"""``./run demo``: a whole working ambience on this machine, with nothing to configure.

Starts a private mosquitto, the device simulator for a two-room demo config (several
bridges), and ``ambience serve`` with the preset library and the default playlist; prints how
to start a session, where the API is, and a QR code that pairs a phone (``ambience pair``).
``--lan`` serves the phone page on the LAN over HTTPS (a certificate ambience generates), so a
phone on the same network can scan and use it. Ctrl-C (or SIGTERM) stops all of them.

The demo keeps its ports (18830 for the broker, 8765 for the API) across restarts: the check binds
with ``SO_REUSEADDR``, so the connections of the last run (in TIME_WAIT) do not count. A port that
another program really holds is said so, and the demo uses another one that time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

DEMO_CONFIG = """\
# The demo: two treatment rooms and a home visit, whose devices are simulated (ambience simulate).
mqtt: {{url: "mqtt://127.0.0.1:{mqtt_port}", base_topic: ambience}}
presets: [builtin]
music: [music]
state_dir: state
http: {{host: 127.0.0.1, port: {http_port}}}
limits: {{min_temperature: 16, max_temperature: 27, max_volume: 70}}
rooms:
  studio:
    name: Treatment room 1
    thermostat: {{bridge: zigbee2mqtt, device: studio-trv}}
    lights:
      - {{bridge: zigbee2mqtt, device: studio-ceiling, role: ceiling}}
      - {{bridge: tasmota, device: studio-lamp, role: lamp}}
      - {{bridge: shelly, device: shellydimmer2-studio, role: floor}}
    switches:
      - {{bridge: tasmota, device: studio-warmer, role: table_warmer, auto_off: 2m}}
      - {{bridge: zigbee2mqtt, device: studio-diffuser, role: diffuser}}
    sensors:
      - {{bridge: zigbee2mqtt, device: studio-sensor}}
    speaker: {{audio_device: auto, ao: "pipewire,pulse,alsa,null"}}  # null: silent where there is no sound card
  garden:
    name: Garden room
    thermostat: {{bridge: esphome, device: garden-node, object_id: heater}}
    lights:
      - {{bridge: esphome, device: garden-lamp, object_id: lamp, role: lamp}}
      - bridge: homeassistant
        device: garden-ceiling
        role: ceiling
        command_topic: homeassistant-lights/garden-ceiling/set
        state_topic: homeassistant-lights/garden-ceiling/state
        availability_topic: homeassistant-lights/garden-ceiling/availability
    speaker: {{audio_device: auto, ao: "pipewire,pulse,alsa,null"}}
  visit:
    name: Home visit
    home_visit: true   # stopping the daemon ends the session and puts the home back first
    thermostat:        # no smart thermostat in the client's home: the therapist's heater on a plug
      bridge: heater
      switch: {{bridge: shelly, device: visit-heater, auto_off: 2m}}
      sensor: {{bridge: zigbee2mqtt, device: visit-sensor}}
    lights:
      - {{bridge: zigbee2mqtt, device: visit-lamp, role: lamp}}
    speaker: null
"""

DEMO_DEVICES = """\
# Which real device each simulated one is (ambience simulate --devices; docs/simulator.md).
devices:
  studio/studio-trv: {profile: bosch-bth-ra, initial: {target: 19, local_temperature: 18.5}}
  studio/studio-ceiling: {profile: hue-white-ambiance}
  studio/studio-lamp: {profile: tasmota-ct-bulb}
  studio/studio-warmer: {profile: tasmota-energy-plug, initial: {load: 60}}
  studio/studio-diffuser: {profile: ikea-outlet}
  studio/studio-sensor: {profile: aqara-wsdcgq11lm, initial: {temperature: 21.5}}
  visit/visit-heater: {profile: shelly-plus-plug, initial: {load: 1500}}
  visit/visit-sensor: {profile: sonoff-snzb-02}
  visit/visit-lamp: {profile: hue-white-ambiance, initial: {on: true, brightness: 70, color_temp: 3000}}
thermal:
  visit: {heating: 1.5, cooling: 0.2, ambient: 15, start: 17}   # the client's living room, warmed by the heater
"""


def _free_port(preferred: int, what: str, host: str = "127.0.0.1") -> int:
    """``preferred`` unless another program listens on it (said so plainly); then one the system picks."""
    for port in (preferred, 0):
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the daemon and mosquitto bind
            try:
                s.bind((host, port))
            except OSError:
                continue
            chosen = s.getsockname()[1]
        if chosen != preferred:
            print(f"port {preferred} ({what}) is in use by another program; the demo uses {chosen} this time")
        return chosen
    raise OSError("no free port")


def _mosquitto() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.access(p, os.X_OK)), None
    )


def _wait_port(port: int, timeout: float = 10.0, procs: Sequence[subprocess.Popen] = ()) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            return False
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.05)
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./run demo", description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=".demo", help="where the demo's config, state and music live (default .demo)")
    parser.add_argument(
        "--lan", action="store_true", help="serve the phone page on the LAN, over HTTPS, so a phone can pair and use it"
    )
    args = parser.parse_args(argv)
    home = Path(args.dir).resolve()
    home.mkdir(parents=True, exist_ok=True)
    binary = _mosquitto()
    if binary is None:
        print("The demo needs mosquitto: sudo apt-get install --no-install-recommends mosquitto", file=sys.stderr)
        return 1
    http_host = "0.0.0.0" if args.lan else "127.0.0.1"
    mqtt_port, http_port = _free_port(18830, "the broker"), _free_port(8765, "the phone page and API", http_host)
    config = home / "ambience.yaml"
    text = DEMO_CONFIG.format(mqtt_port=mqtt_port, http_port=http_port)
    if args.lan:  # every address, and HTTPS: a phone's browser gives a home-screen app only a secure page
        text = text.replace("http: {host: 127.0.0.1,", "http: {host: 0.0.0.0, tls: generate,")
    config.write_text(text)
    devices = home / "simulator.yaml"
    devices.write_text(DEMO_DEVICES)
    broker_conf = home / "mosquitto.conf"
    broker_conf.write_text(
        f"listener {mqtt_port} 127.0.0.1\nallow_anonymous true\npersistence false\nset_tcp_nodelay true\n"
        "max_queued_messages 0\nlog_dest stderr\n"
    )
    os.chmod(home, 0o755)
    from ambience.errors import PlayerError
    from ambience.music.sounds import ensure_default_playlist

    print("preparing the default playlist (its first track; the daemon renders the rest meanwhile) …", flush=True)
    try:
        ensure_default_playlist(home / "music", first_only=True)
    except PlayerError as exc:
        print(f"no default playlist: {exc}", file=sys.stderr)  # the rooms run on without music

    logs = home / "logs"
    logs.mkdir(exist_ok=True)
    procs: list[subprocess.Popen] = []
    programs: dict[int, str] = {}  # pid -> the command's program, for the message when it exits

    def spawn(name: str, cmd: list[str]) -> subprocess.Popen:
        out = open(logs / f"{name}.log", "wb")  # noqa: SIM115 - lives as long as the process
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=home, start_new_session=True)
        procs.append(proc)
        programs[proc.pid] = cmd[0]
        return proc

    stop = False

    def on_signal(signum, frame):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        spawn("mosquitto", [binary, "-c", str(broker_conf)])
        if not _wait_port(mqtt_port, 10, procs):
            print(f"mosquitto did not start; see {logs / 'mosquitto.log'}", file=sys.stderr)
            return 1
        ambience = [sys.executable, "-m", "ambience"]
        spawn("simulator", ambience + ["simulate", "--config", str(config), "--devices", str(devices)])
        spawn("daemon", ambience + ["serve", "--config", str(config)])
        if not _wait_port(http_port, 30, procs):
            for name in ("simulator", "daemon"):
                print(f"--- {logs / (name + '.log')}:", file=sys.stderr)
                print((logs / f"{name}.log").read_text(errors="replace")[-2000:], file=sys.stderr)
            print("the demo did not start (see above)", file=sys.stderr)
            return 1
        bin_dir = Path(sys.executable).parent
        scheme = "https" if args.lan else "http"
        print(
            f"""
ambience is running: a private mosquitto on 127.0.0.1:{mqtt_port}, simulated devices for two treatment
rooms and a home visit (studio, garden, visit) and the daemon with the preset library and the default playlist.

In another terminal:
  export AMBIENCE_CONFIG={config}
  source {bin_dir}/activate
  ambience presets list
  ambience start studio swedish-relaxation-60 --for 10m
  ambience status --watch
  ambience extend studio 10m;  ambience pause studio;  ambience resume studio;  ambience stop studio

Phone page: {scheme}://127.0.0.1:{http_port}/   (pair a phone: scan the QR code below; another: ambience pair{" --lan" if args.lan else "; a real phone on the Wi-Fi: ./run demo --lan"})
HTTP API:   {scheme}://127.0.0.1:{http_port}/openapi.json   (token: {home / "state" / "token"})
MQTT:       mosquitto_sub -p {mqtt_port} -t 'ambience/#' -v
Logs:       {logs}/
""",
            flush=True,
        )
        pair = ambience + ["pair", "--config", str(config)] + (["--lan"] if args.lan else [])
        if subprocess.run(pair, cwd=home, check=False).returncode != 0:
            print("(no pairing code: see above; the phone page's sign-in takes the token instead)", file=sys.stderr)
        print("\nPress Ctrl-C to stop everything.", flush=True)
        while not stop:
            for proc in procs:
                if proc.poll() is not None:
                    print(f"{programs[proc.pid]} … exited ({proc.returncode}); see {logs}", file=sys.stderr)
                    stop = True
            time.sleep(0.5)
    finally:
        # one at a time, the daemon first: a home visit's session ends and is put back (on_shutdown: end)
        # while the broker and the devices are still there
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(70)
            except subprocess.TimeoutExpired:
                proc.kill()
        print("stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
