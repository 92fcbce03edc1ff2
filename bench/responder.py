"""The benchmarks' baseline: the least a program can do to turn a start command into device messages.

    python bench/responder.py spec.json

``spec.json``: ``{"url": "mqtt://host:port", "port": <http port>, "messages": {room: [[topic, payload], ...]}}``.
On an MQTT message to ``bench-base/<room>/command``, or an HTTP ``POST /<room>``, it publishes the
room's messages with raw paho at QoS 1 over a TCP_NODELAY socket (as ambience does) and nothing
else: no parsing, no validation, no state, no persistence. Prints ``ready`` once subscribed.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion


def main() -> int:
    spec = json.loads(open(sys.argv[1]).read())
    host, port = spec["url"].removeprefix("mqtt://").rsplit(":", 1)
    messages: dict[str, list[list[str]]] = spec["messages"]
    ready = threading.Event()
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-baseline", protocol=paho.MQTTv5)

    def nodelay(c, userdata, sock) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(room: str) -> None:
        for topic, payload in messages.get(room, ()):
            client.publish(topic, payload, qos=1)

    client.on_socket_open = nodelay
    client.max_queued_messages_set(0)

    def connected(c, userdata, flags, reason, properties) -> None:
        # MQTT 5 and the broker's Receive Maximum in flight, as ambience's connection does
        c._max_inflight_messages = int(getattr(properties, "ReceiveMaximum", 0) or 0)
        c.subscribe("bench-base/+/command", qos=1)

    client.on_connect = connected
    client.on_subscribe = lambda *a: ready.set()
    client.on_message = lambda c, u, msg: send(msg.topic.split("/")[1])
    client.connect(host, int(port))
    client.loop_start()
    if not ready.wait(10):
        print("could not subscribe", flush=True)
        return 1

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are two writes

        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            self.rfile.read(int(self.headers.get("content-length") or 0))
            send(self.path.strip("/"))
            body = b'{"ok":true}'
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", spec["port"]), Handler)
    server.daemon_threads = True
    print("ready", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
