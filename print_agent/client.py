"""The agent's two calls to the server (standard-library HTTP, JSON):

- ``GET  /api/v1/agent/jobs/next/?wait=N``: the next job of this agent's printers
  (long poll; 204 when there is none);
- ``POST /api/v1/agent/jobs/{id}/result/``: what happened to each document it tried.

The agent authenticates with ``Authorization: Agent <key>``; the key is never logged.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

from print_agent import __version__


class AgentAuthError(Exception):
    """The server refused the key (wrong or revoked)."""


class ServerError(Exception):
    """The server could not be reached or answered with an error."""


class Client:
    def __init__(self, server: str, key: str, *, timeout: float = 30.0):
        if urllib.parse.urlsplit(server).scheme not in ("http", "https"):
            raise ValueError(f"--server must be an http(s):// URL, not {server!r}")
        self.base = server.rstrip("/") + "/api/v1/agent/"
        self.key = key
        self.timeout = timeout

    def _call(self, method: str, path: str, body: dict | None = None, *, timeout: float):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            urllib.parse.urljoin(self.base, path),
            data=data,
            method=method,
            headers={
                "Authorization": f"Agent {self.key}",
                "Accept": "application/json",
                "Content-Type": "application/json",
                "User-Agent": f"wbc-print-agent/{__version__}",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # nosec B310
                raw = response.read()
                return response.status, (json.loads(raw) if raw else None)
        except urllib.error.HTTPError as err:
            if err.code in (401, 403):
                raise AgentAuthError(f"the server refused the key ({err.code})") from None
            try:
                detail = json.loads(err.read() or b"{}").get("message", "")
            except ValueError:
                detail = ""
            raise ServerError(f"{method} {path}: HTTP {err.code} {detail}".strip()) from None
        except (urllib.error.URLError, OSError, ValueError) as err:
            raise ServerError(f"{method} {path}: {getattr(err, 'reason', err)}") from None

    def next_job(self, *, wait: int = 20) -> dict | None:
        status, body = self._call("GET", f"jobs/next/?wait={int(wait)}", timeout=wait + 30)
        return body if status == 200 else None

    def report(self, job: int, attempt: int, documents: list[dict]) -> dict:
        _status, body = self._call(
            "POST",
            f"jobs/{int(job)}/result/",
            {"attempt": attempt, "documents": documents},
            timeout=self.timeout,
        )
        return body or {}
