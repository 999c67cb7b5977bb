"""The emulator on 127.0.0.1: a threaded HTTP server in front of `Service`."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from akscan.emulator.keys import EmulatedKey
from akscan.emulator.service import RawAnswer, Service

_FLOOD_CHUNK = 64 * 1024


class _Handler(BaseHTTPRequestHandler):
    # Without it every keep-alive answer waits ~40 ms for the client's delayed ACK.
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"
    timeout = 10  # seconds an idle keep-alive connection is kept, as servers do
    server: _Server

    def do_POST(self) -> None:  # the name http.server calls
        self._answer()

    def do_GET(self) -> None:
        self._answer()

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers: dict[str, list[str]] = {}
        for name, value in self.headers.items():
            headers.setdefault(name.lower(), []).append(value)
        try:
            status, answer = self.server.service.handle(self.command, self.path, headers, body)
        except RawAnswer as raw:
            self._raw(raw)
            return
        data = json.dumps(answer).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up waiting (a `slow` key)

    def _raw(self, raw: RawAnswer) -> None:
        """A redirect, or `raw.size` bytes of one JSON object streamed in chunks; what the
        client took before it hung up is counted in `service.flood_sent`."""
        head, tail = b'{"Pad": "', b'"}'
        try:
            self.send_response(raw.status)
            for name, value in raw.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(raw.size))
            self.end_headers()
            if raw.size:
                left = raw.size - len(head) - len(tail)
                self.wfile.write(head)
                chunk = b"a" * _FLOOD_CHUNK
                while left > 0:
                    self.wfile.write(chunk[:left])
                    self.server.service.flood_sent += min(left, _FLOOD_CHUNK)
                    left -= _FLOOD_CHUNK
                self.wfile.write(tail)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64  # several validating threads connect at once

    def __init__(self, port: int, service: Service, verbose: bool) -> None:
        self.service = service
        self.verbose = verbose
        super().__init__(("127.0.0.1", port), _Handler)


class Emulator:
    """STS and RAM on one loopback port: `with Emulator(keys) as emu: ... emu.url ...`."""

    def __init__(self, keys: Sequence[EmulatedKey], port: int = 0, verbose: bool = False) -> None:
        self.service = Service(keys)
        self._server = _Server(port, self.service, verbose)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Emulator:
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
