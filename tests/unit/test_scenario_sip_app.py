"""How `ivr test --sip` reads the app's REST (ivr/testing/sip.py): with its token, and with a
clear error, not an empty answer, when the app refuses it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ivr.testing.sip import AppRefused, SipTarget, _get

TOKEN = "ivr_test-token"


class App(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.send_response(401)
            self.end_headers()
            return
        body = b"[]" if self.path == "/calls" else b"null"
        self.send_response(200 if self.path == "/calls" else 404)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def app_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), App)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_token_is_sent(app_url: str) -> None:
    assert _get(SipTarget(app_url, Path(), token=TOKEN), "/calls") == []
    assert _get(SipTarget(app_url, Path(), token=TOKEN), "/records/x") is None  # 404: not yet


def test_a_refusal_says_what_to_do(app_url: str) -> None:
    with pytest.raises(AppRefused, match="IVR_API_TOKEN"):
        _get(SipTarget(app_url, Path()), "/calls")


def test_the_token_is_not_in_the_targets_repr() -> None:
    assert TOKEN not in repr(SipTarget("http://x", Path(), token=TOKEN))
