"""Servers on 127.0.0.1 that fail every delivery and quote the secret they were given in their error answer,
as careless real ones do: a webhook whose 500 reason repeats the path and query it was called with, an SMTP
server whose 535 repeats the login. Without redaction their answers carry the secret into logs and tables.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class Leaky:
    """A running server: its port and how many times it was called."""

    port: int
    calls: int = 0


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def failing_webhook() -> Iterator[Leaky]:
    """An HTTP server answering every POST with 500 and a reason phrase that quotes the request's path."""
    state = Leaky(port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            state.calls += 1
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(500, f"no such hook {self.path}")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


class _Refuse:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        return "554 not accepted"


@contextmanager
def failing_smtp() -> Iterator[Leaky]:
    """An SMTP server that requires a login and refuses every one, quoting the user and password."""
    state = Leaky(port=free_port())

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        state.calls += 1
        if isinstance(data, LoginPassword):
            said = f"{data.login.decode()}:{data.password.decode()}"
            return AuthResult(success=False, handled=False, message=f"535 5.7.8 login {said} rejected")
        return AuthResult(success=False)

    controller = Controller(
        _Refuse(),
        hostname="127.0.0.1",
        port=state.port,
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=False,  # plain login on the loopback test server only
    )
    controller.start()
    try:
        yield state
    finally:
        controller.stop()
