"""The outbound-HTTP guard: no webhook into our own network (SSRF)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from offload.core import safe_http


@pytest.fixture(autouse=True)
def _production(settings):
    settings.OFFLOAD_ALLOW_PRIVATE_URLS = False


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("ftp://example.com/hook", "http:// or https://"),
        ("file:///etc/passwd", "http:// or https://"),
        ("https:///nohost", "must name a host"),
        ("https://user:pw@example.com/hook", "user name or password"),
        ("http://127.0.0.1:8000/hook", "private, loopback"),
        ("http://10.1.2.3/hook", "private, loopback"),
        ("http://169.254.169.254/latest/meta-data", "private, loopback"),
        ("http://[::1]/hook", "private, loopback"),
        ("http://[::ffff:192.168.0.1]/hook", "private, loopback"),
        ("http://0.0.0.0/hook", "private, loopback"),
        ("http://203.0.113.9/hook", "private, loopback"),  # documentation space
        ("http://localhost/hook", "internal host name"),
        ("http://db.internal/hook", "internal host name"),
        ("http://printer.local/hook", "internal host name"),
        ("http://intranet/hook", "internal host name"),
        ("https://example.com:99999/hook", "port"),
    ],
)
def test_an_internal_or_malformed_url_is_refused_with_its_reason(url, expected):
    assert expected in (safe_http.url_problem(url) or "")


@pytest.mark.parametrize(
    "url", ["https://hooks.example.com/offload", "http://8.8.8.8:8080/x", "https://[2606:4700::1]/"]
)
def test_a_public_url_is_accepted(url):
    assert safe_http.url_problem(url) is None


class _Receiver(BaseHTTPRequestHandler):
    hits: list[str] = []
    status = 200

    def do_POST(self) -> None:
        type(self).hits.append(self.path)
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        self.send_response(self.status)
        if self.status in {301, 302, 307}:
            self.send_header("Location", "http://127.0.0.1:1/elsewhere")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[int, type[_Receiver]]]:
    handler = type("Handler", (_Receiver,), {"hits": [], "status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], handler
    server.shutdown()
    server.server_close()


def test_a_public_name_that_resolves_to_loopback_is_refused_before_sending(receiver, monkeypatch):
    # given: DNS answers a public-looking name with our own loopback (rebinding)
    port, handler = receiver
    real = socket.getaddrinfo

    def rebinding(host: Any, *args: Any, **kwargs: Any) -> Any:
        return real("127.0.0.1" if host == "hooks.example.com" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    # when
    code, error = safe_http.post(f"http://hooks.example.com:{port}/hook", b"{}", {}, timeout=5)
    # then
    assert code is None
    assert "not a public address" in error
    assert handler.hits == []


def test_a_redirect_is_a_failed_delivery_not_followed(receiver, settings):
    # given
    settings.OFFLOAD_ALLOW_PRIVATE_URLS = True
    port, handler = receiver
    handler.status = 302
    # when
    code, error = safe_http.post(f"http://127.0.0.1:{port}/hook", b"{}", {}, timeout=5)
    # then
    assert code == 302
    assert error.startswith("HTTP 302")
    assert handler.hits == ["/hook"]


def test_a_2xx_answer_is_success(receiver, settings):
    # given
    settings.OFFLOAD_ALLOW_PRIVATE_URLS = True
    port, handler = receiver
    # when
    code, error = safe_http.post(f"http://127.0.0.1:{port}/in?x=1", b"{}", {}, timeout=5)
    # then
    assert (code, error) == (200, "")
    assert handler.hits == ["/in?x=1"]
