"""Open COUNT idle TCP connections to 127.0.0.1:PORT at once and hold them until stdin closes.

A process of its own, so its thousand sockets do not push the test's own sockets (paho's
select() loop) past FD_SETSIZE. Prints ``connected N`` once the connects have settled.

    python hold_connections.py PORT COUNT
"""

from __future__ import annotations

import contextlib
import resource
import selectors
import socket
import sys
import time


def main(port: int, count: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, count + 256)), hard))
    selector = selectors.DefaultSelector()
    socks = []
    for _ in range(count):  # all at once, as an attacker would: no waiting for each handshake
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", port))
        selector.register(sock, selectors.EVENT_WRITE)
        socks.append(sock)
    connected = 0
    deadline = time.monotonic() + 10
    while selector.get_map() and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=0.5):
            selector.unregister(key.fileobj)
            if key.fileobj.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:  # type: ignore[union-attr]
                connected += 1
    print(f"connected {connected}", flush=True)
    sys.stdin.read()
    for sock in socks:
        with contextlib.suppress(OSError):
            sock.close()


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
