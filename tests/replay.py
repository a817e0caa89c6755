"""A replay server on 127.0.0.1 (http.server in a thread): each test decides what every request gets.

Use the ``replay`` fixture by importing it into a conftest (``from tests.replay import replay``)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

Answer = tuple[int, dict[str, str], bytes]  # status, headers, body


@dataclass
class Replay:
    """The server's base URL, the handler the test sets and every request seen (path, query, headers)."""

    url: str = ""
    handler: Callable[[str, dict[str, str], dict[str, str]], Answer] | None = None
    requests: list[tuple[str, dict[str, str], dict[str, str]]] = field(default_factory=list)
    cut_after: dict[str, int] = field(default_factory=dict)  # path+startIndex -> bytes sent before closing


@pytest.fixture
def replay() -> Iterator[Replay]:
    state = Replay()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            headers = {k: v for k, v in self.headers.items()}
            state.requests.append((parts.path, query, headers))
            assert state.handler is not None
            status, extra, body = state.handler(parts.path, query, headers)
            self.send_response(status)
            declared = int(extra.pop("X-Declared-Length", len(body)))
            for key, value in extra.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(declared))
            self.end_headers()
            self.wfile.write(body)
            if declared != len(body):
                self.close_connection = True

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
