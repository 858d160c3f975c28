"""A local webhook receiver over real HTTP: records what it is sent, answers as told.

Each request is recorded (:attr:`received`: headers, body, path, the time) with the
answer it got. :attr:`script` is a list of what to answer next, one item per request
(an int status, or ``"timeout"``: sleep :attr:`hang` seconds before answering 200, longer
than the sender's read time-out), then :attr:`default_status`. :attr:`hang_event` makes a
request wait until the test sets it (a worker killed mid-delivery). ``redirect_to``
answers 302 to another URL (the sender must not follow).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    at: float = field(default_factory=time.monotonic)


class WebhookReceiver:
    def __init__(self, host: str = "127.0.0.1"):
        self.received: list[Received] = []
        self.script: list = []
        self.default_status = 200
        self.hang = 0.0
        self.redirect_to = ""
        self.delay = 0.0
        self.hang_event: threading.Event | None = None
        self.arrived = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # no 40 ms delayed-ACK stall per answer

            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    step = receiver.script.pop(0) if receiver.script else None
                status = receiver.default_status if step in (None, "timeout") else step
                if receiver.hang_event is not None:
                    receiver.arrived.set()
                    receiver.hang_event.wait(60)
                if step == "timeout":
                    time.sleep(receiver.hang)
                if receiver.delay:
                    time.sleep(receiver.delay)
                if receiver.redirect_to:
                    status = 302
                record = Received(
                    self.path, {k.lower(): v for k, v in self.headers.items()}, body, status
                )
                with receiver._lock:
                    receiver.received.append(record)
                payload = b"ok"
                self.send_response(status)
                if receiver.redirect_to:
                    self.send_header("location", receiver.redirect_to)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://{host}:{self.port}/hooks"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.hang_event is not None:
            self.hang_event.set()
        self.server.shutdown()
        self.server.server_close()

    def delivered(self) -> list[Received]:
        """The requests answered 2xx."""
        with self._lock:
            return [r for r in self.received if 200 <= r.status < 300]

    def wait_for(self, count: int, timeout: float = 30.0, *, ok_only: bool = True) -> list:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.delivered() if ok_only else list(self.received)
            if len(got) >= count:
                return got
            time.sleep(0.05)
        got = self.delivered() if ok_only else list(self.received)
        raise AssertionError(f"receiver got {len(got)} of {count} requests in {timeout} s")
