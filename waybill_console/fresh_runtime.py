"""`make fresh-runtime`: prove that the runtime requirements alone start the stack.

Run by `.ci/run` before the test suite, with the system Python and the standard library
only (this file imports nothing of the project):

1. ``make run`` with ``VENV`` pointing at a throwaway virtualenv under ``var/``, so it
   creates that virtualenv and installs ``requirements.txt`` alone (no dev tools that
   could bring in a module the runtime forgot), migrates a database of its own, seeds the
   demo and starts web, Celery worker and beat, exactly as a merchant's first
   ``make run`` does;
2. waits for the login page;
3. runs one real Celery job through the public API (a reconciliation statement: the API
   records it, the worker writes the file) and downloads its file;
4. checks that web, worker and beat are all still running, then stops them with Ctrl-C
   (SIGINT) as a person would, and checks the runner says how to stop the private servers.

Any step that fails prints the tail of the stack's output and exits 1. A worker that dies
on start (a module missing from ``requirements.txt``) makes the runner stop everything,
which fails step 2 or 3.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
VENV = VAR_DIR / "fresh-venv"
LOG = VAR_DIR / "fresh-runtime.log"
#: Redis databases of this check's broker, results and cache (the dev stack uses 0-2, the
#: tests 10-12), so neither steals the other's tasks
REDIS_DB_BASE = "40"
START_TIMEOUT = 900  # the first install downloads every wheel
JOB_TIMEOUT = 180
MAKE = shutil.which("make") or "make"


class Failed(Exception):
    pass


def say(text: str) -> None:
    print(f"[fresh-runtime] {text}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_env_file() -> dict[str, str]:
    values: dict[str, str] = {}
    path = VAR_DIR / "services.env"
    if path.exists():
        for line in path.read_text().splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                key, value = line.split("=", 1)
                values[key.strip()] = value.strip()
    return values


def private_servers_running() -> bool:
    """Whether a private PostgreSQL or Redis of ``var/`` answers (the ports they recorded)."""
    for name in ("postgres", "redis"):
        port_file = VAR_DIR / f"{name}.port"
        if not port_file.exists():
            continue
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", int(port_file.read_text().strip() or 0))) == 0:
                return True
    return False


def with_database(url: str, name: str) -> str:
    """The same server URL with another database name."""
    head, _, tail = url.partition("?")
    head = head.rsplit("/", 1)[0] + "/" + name
    return head + ("?" + tail if tail else "")


def venv_python(code: str, env: dict[str, str]) -> str:
    out = subprocess.run(
        [str(VENV / "bin" / "python"), "-c", code],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if out.returncode != 0:
        raise Failed(f"python -c failed: {out.stderr.strip()[-2000:]}")
    return out.stdout.strip()


def recreate_database(admin_url: str, name: str, env: dict[str, str], *, drop_only=False) -> None:
    code = (
        "import psycopg2, sys\n"
        f"c = psycopg2.connect({admin_url!r}); c.autocommit = True\n"
        "cur = c.cursor()\n"
        f"cur.execute('DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)')\n"
        + ("" if drop_only else f"cur.execute('CREATE DATABASE \"{name}\"')\n")
    )
    venv_python(code, env)


def http(method: str, url: str, *, token: str = "", body: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if token:
        request.add_header("Authorization", f"Token {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # nosec B310
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def tail(lines: int = 60) -> str:
    if not LOG.exists():
        return ""
    return "\n".join(LOG.read_text(errors="replace").splitlines()[-lines:])


def check(make_run: subprocess.Popen, port: int, env: dict[str, str]) -> None:
    base = f"http://127.0.0.1:{port}"
    say("waiting for the login page (installing requirements.txt alone, migrating, seeding)…")
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if make_run.poll() is not None:
            raise Failed(f"`make run` exited with {make_run.returncode} before serving pages")
        try:
            status, body = http("GET", f"{base}/accounts/login/")
            if status == 200 and b"csrfmiddlewaretoken" in body:
                break
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise Failed("the login page did not answer in time")
        time.sleep(1)
    say("login page served")

    token = venv_python(
        "import os, django, io\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'waybill_console.settings')\n"
        "django.setup()\n"
        "from django.core.management import call_command\n"
        "out = io.StringIO()\n"
        "call_command('create_api_token', shop='100001', name='fresh-runtime', stdout=out)\n"
        "print(out.getvalue().strip())",
        env,
    ).splitlines()[-1]
    status, body = http("POST", f"{base}/api/v1/reconciliations/", token=token, body={})
    if status not in (201, 202):
        raise Failed(f"POST /api/v1/reconciliations/ answered {status}: {body[:500]!r}")
    job_id = json.loads(body)["id"]
    say(f"reconciliation job {job_id} recorded; waiting for the worker")
    deadline = time.monotonic() + JOB_TIMEOUT
    while True:
        if make_run.poll() is not None:
            raise Failed(f"`make run` exited with {make_run.returncode} while the job waited")
        status, body = http("GET", f"{base}/api/v1/reconciliations/{job_id}/", token=token)
        state = json.loads(body).get("status") if status == 200 else None
        if state == "generated":
            break
        if state == "failed":
            raise Failed(f"the job failed: {body[:500]!r}")
        if time.monotonic() > deadline:
            raise Failed(f"the job is still {state!r} after {JOB_TIMEOUT} s: is the worker up?")
        time.sleep(1)
    status, body = http("GET", f"{base}/api/v1/reconciliations/{job_id}/download/", token=token)
    if status != 200 or not body.strip():
        raise Failed(f"the statement download answered {status}")
    say(f"job finished by the worker; statement of {len(body.splitlines())} lines downloaded")

    log = LOG.read_text(errors="replace")
    if not re.search(r"beat: Starting", log):
        raise Failed("Celery beat did not start")
    if not re.search(r"events@\S+ ready", log):
        raise Failed("the events worker (webhooks, the events queue) did not start")
    say("web, worker, events worker and beat running")


def main() -> int:
    os.chdir(BASE_DIR)
    VAR_DIR.mkdir(exist_ok=True)
    shutil.rmtree(VENV, ignore_errors=True)
    base_env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    base_env.pop("WBC_TESTING", None)

    # Servers this check starts run from the throwaway virtualenv's binaries: it stops them
    # before removing it (PostgreSQL reads its time zone files from there as it runs), and
    # the test suite then starts its own from .venv.
    started_here = not private_servers_running()
    say(f"`make services` with a throwaway virtualenv ({VENV.relative_to(BASE_DIR)})")
    out = subprocess.run([MAKE, "services", f"VENV={VENV}"], env=base_env)
    if out.returncode != 0:
        say("FAILED: installing requirements.txt alone or starting the servers failed")
        return 1
    urls = {**read_env_file(), **{k: v for k, v in base_env.items() if k.endswith("_URL")}}
    server_url = urls["DATABASE_URL"]
    name = server_url.partition("?")[0].rsplit("/", 1)[1] + "_fresh"
    admin_url = with_database(server_url, "postgres")
    env = {
        **base_env,
        "DATABASE_URL": with_database(server_url, name),
        "REDIS_URL": urls["REDIS_URL"],
        "REDIS_DB_BASE": REDIS_DB_BASE,
        "WBC_DEV_DEFAULTS": "1",
    }
    recreate_database(admin_url, name, env)
    port = free_port()
    say(f"`make run` on port {port}, database {name}; output in {LOG.relative_to(BASE_DIR)}")
    with LOG.open("w") as log:
        make_run = subprocess.Popen(
            [MAKE, "run", f"VENV={VENV}", f"PORT={port}"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    code = 0
    try:
        check(make_run, port, env)
    except Failed as failure:
        say(f"FAILED: {failure}\n--- last lines of {LOG} ---\n{tail()}")
        code = 1
    finally:
        if make_run.poll() is None:
            os.killpg(make_run.pid, signal.SIGINT)
            try:
                make_run.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(make_run.pid, signal.SIGKILL)
                make_run.wait()
                say("FAILED: `make run` did not stop within 60 s of Ctrl-C")
                code = 1
        try:
            recreate_database(admin_url, name, env, drop_only=True)
        except Failed as failure:
            say(f"(could not drop {name}: {failure})")
        if started_here:
            say("stopping the private servers started from the throwaway virtualenv")
            subprocess.run([MAKE, "services-down", f"VENV={VENV}"], env=base_env)
    if code == 0:
        private = not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"))
        if private and "make services-down" not in LOG.read_text(errors="replace"):
            say("FAILED: after Ctrl-C the runner did not say how to stop the private servers")
            say(tail(15))
            return 1
        shutil.rmtree(VENV, ignore_errors=True)
        say("OK: requirements.txt alone runs web, worker and beat and a real job")
    return code


if __name__ == "__main__":
    sys.exit(main())
