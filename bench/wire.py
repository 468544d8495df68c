"""A keep-alive HTTP/1.1 client light enough not to be what a benchmark measures.

`requests` spends about half a millisecond of Python per request, and the benchmarks' client shares two cores and
one GIL with the servers: a closed loop through it measured the client as much as the server. This client writes the
request's bytes to one socket and reads the answer by its Content-Length, a few tens of microseconds a request. It
speaks just enough HTTP for the bridge's and the bare app's answers (no chunked bodies, no redirects).
"""

from __future__ import annotations

import json
import socket
from typing import Any
from urllib.parse import urlsplit


class WireError(Exception):
    """The connection failed or the answer was not HTTP this client reads."""


class Answer:
    """The parts of an HTTP answer the benchmarks check (named as `requests.Response` names them)."""

    def __init__(self, status_code: int, content: bytes):
        self.status_code, self.content = status_code, content

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


class Session:
    """One connection per host, opened on first use and again when the server closes it."""

    def __init__(self) -> None:
        self._socket: socket.socket | None = None
        self._address: tuple[str, int] | None = None
        self._buffer = b""

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
        self._socket, self._buffer = None, b""

    def post(self, url: str, data: bytes, headers: dict[str, str], timeout: float) -> Answer:
        return self.request("POST", url, data, headers, timeout)

    def get(self, url: str, timeout: float, headers: dict[str, str] | None = None) -> Answer:
        return self.request("GET", url, b"", headers or {}, timeout)

    def request(self, method: str, url: str, data: bytes, headers: dict[str, str], timeout: float) -> Answer:
        parts = urlsplit(url)
        address = (parts.hostname or "127.0.0.1", parts.port or 80)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        lines = [f"{method} {target} HTTP/1.1", f"Host: {address[0]}:{address[1]}", f"Content-Length: {len(data)}",
                 *(f"{name}: {value}" for name, value in headers.items())]
        message = ("\r\n".join(lines) + "\r\n\r\n").encode() + data
        try:
            return self._exchange(address, message, timeout)
        except OSError as exc:
            self.close()
            raise WireError(f"{type(exc).__name__}: {exc}") from exc

    def _exchange(self, address: tuple[str, int], message: bytes, timeout: float) -> Answer:
        if self._socket is None or self._address != address:
            self.close()
            self._socket, self._address = socket.create_connection(address, timeout=timeout), address
            self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socket.settimeout(timeout)
        self._socket.sendall(message)
        head = self._read_until(b"\r\n\r\n")
        status, length, closing = _head(head)
        body = self._read_exactly(length)
        if closing:
            self.close()
        return Answer(status, body)

    def _read_until(self, mark: bytes) -> bytes:
        while (end := self._buffer.find(mark)) < 0:
            self._fill()
        found, self._buffer = self._buffer[:end], self._buffer[end + len(mark):]
        return found

    def _read_exactly(self, count: int) -> bytes:
        while len(self._buffer) < count:
            self._fill()
        found, self._buffer = self._buffer[:count], self._buffer[count:]
        return found

    def _fill(self) -> None:
        assert self._socket is not None
        chunk = self._socket.recv(65536)
        if not chunk:
            raise ConnectionResetError("the server closed the connection mid-answer")
        self._buffer += chunk


def _head(head: bytes) -> tuple[int, int, bool]:
    """The status, the Content-Length and whether the server closes the connection after this answer."""
    status_line, *fields = head.decode("latin-1").split("\r\n")
    try:
        status = int(status_line.split(" ", 2)[1])
    except (IndexError, ValueError):
        raise WireError(f"not an HTTP status line: {status_line[:80]!r}") from None
    named = {name.strip().lower(): value.strip() for name, _, value in (f.partition(":") for f in fields)}
    if "content-length" not in named:
        raise WireError("an answer without Content-Length")
    return status, int(named["content-length"]), named.get("connection", "").lower() == "close"
