"""Talking to a test's daemon over its HTTP API, the same for the process and the in-thread one."""

from __future__ import annotations

import ssl
from typing import Any

import httpx


class ApiClient:
    """``request``/``api``/``room`` for a daemon that has a ``url`` and a ``token()``."""

    @property
    def url(self) -> str:
        raise NotImplementedError

    def token(self) -> str:
        raise NotImplementedError

    def verify(self) -> ssl.SSLContext | bool:
        """How the daemon's certificate is checked, over HTTPS (httpx's ``verify``)."""
        return True

    def request(self, method: str, path: str, body: Any = None, timeout: float = 10.0) -> httpx.Response:
        """One request with the daemon's token; the response as it came."""
        headers = {"Authorization": f"Bearer {self.token()}"}
        return httpx.request(method, self.url + path, json=body, headers=headers, timeout=timeout, verify=self.verify())

    def api(self, method: str, path: str, body: Any = None, expect: int | None = 200) -> Any:
        """The JSON answer, asserting the status is ``expect`` (``None``: any)."""
        response = self.request(method, path, body)
        if expect is not None:
            assert response.status_code == expect, (response.status_code, response.text)
        return response.json()

    def room(self, room: str) -> dict[str, Any]:
        return self.api("GET", f"/api/rooms/{room}")
