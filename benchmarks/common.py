"""What every section shares: the throwaway database, child processes, results and targets."""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import quote, urlparse

BENCH_DB = "waybill_bench"
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
#: environment of every process the bench starts (and of the bench itself)
BASE_ENV = {
    "DJANGO_SETTINGS_MODULE": "waybill_console.settings",
    "WBC_DEV_DEFAULTS": "1",
    "REDIS_DB_BASE": "13",  # broker 13, results 14, cache 15
    "LOG_LEVEL": "WARNING",
    # WhiteNoise warns that var/staticfiles does not exist (no collectstatic): not ours
    "PYTHONWARNINGS": "ignore:No directory at",
}
#: the environment variable naming the bench database's URL (for child processes)
URL_ENV = "WBC_BENCH_DATABASE_URL"


# --- the throwaway database --------------------------------------------------------------------


def refuse_remote(settings) -> None:
    """The bench creates and drops databases: only on servers of this machine."""
    db = settings.DATABASES["default"]
    hosts = {"DATABASE_URL": db.get("HOST") or ""}
    for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
        hosts[name] = urlparse(getattr(settings, name)).hostname or ""
    hosts["CACHE_URL"] = urlparse(settings.CACHES["default"]["LOCATION"]).hostname or ""
    remote = {name: host for name, host in hosts.items() if host not in LOCAL_HOSTS}
    if remote:
        sys.exit(f"benchmarks: only servers on 127.0.0.1 are used; not {remote}")
    if db["NAME"] == BENCH_DB:
        sys.exit(f"benchmarks: DATABASE_URL already names {BENCH_DB}; point it at another database")


def database_url(db: dict, name: str = BENCH_DB) -> str:
    """A ``postgres://`` URL for ``name`` on the server of Django's settings dict ``db``."""
    user = quote(db.get("USER") or "", safe="")
    password = db.get("PASSWORD") or ""
    auth = f"{user}:{quote(password, safe='')}@" if password else (f"{user}@" if user else "")
    port = db.get("PORT") or 5432
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{port}/{name}"


def psycopg_kwargs(db: dict, name: str = BENCH_DB) -> dict:
    return {
        "dbname": name,
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
    }


def _admin_connection(db):
    import psycopg2

    conn = psycopg2.connect(**psycopg_kwargs(db, "postgres"))
    conn.autocommit = True
    return conn


def drop_database(db, name: str = BENCH_DB) -> None:
    """Drop the throwaway database ``name`` (the bench's, or the load test's)."""
    from psycopg2 import sql

    conn = _admin_connection(db)
    try:
        force = " WITH (FORCE)" if conn.server_version >= 130000 else ""
        with conn.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {}" + force).format(sql.Identifier(name)))
    finally:
        conn.close()


def create_database(db, name: str = BENCH_DB) -> None:
    """Create ``name`` afresh (dropped first if a previous run left it)."""
    from psycopg2 import sql

    drop_database(db, name)
    conn = _admin_connection(db)
    try:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        conn.close()


def setup_child_django() -> None:
    """In a process started with :func:`child_env`: Django on the bench database."""
    for key, value in BASE_ENV.items():
        os.environ.setdefault(key, value)
    os.environ["DATABASE_URL"] = os.environ[URL_ENV]
    import django

    django.setup()


def child_env(**extra) -> dict:
    """The environment for a child process (gunicorn, the export) on the bench database."""
    env = {**os.environ, **BASE_ENV, "DATABASE_URL": os.environ[URL_ENV]}
    env.update({k: str(v) for k, v in extra.items()})
    return env


# --- results -----------------------------------------------------------------------------------


@dataclass
class Row:
    section: str
    case: str
    value: float
    unit: str
    ratio: str = ""
    target: str = ""
    verdict: str = ""
    note: str = ""


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *args, **kwargs) -> Row:
        row = Row(*args, **kwargs)
        self.rows.append(row)
        return row

    def fail(self, message: str) -> None:
        print(f"  INVARIANT BROKEN: {message}")
        self.failures.append(message)

    def table(self) -> str:
        head = ("section", "case", "value", "ratio", "target", "")
        body = [
            (
                r.section,
                r.case,
                f"{r.value:,.1f} {r.unit}" if r.value < 100 else f"{r.value:,.0f} {r.unit}",
                r.ratio,
                r.target,
                f"{r.verdict} {r.note}".strip(),
            )
            for r in self.rows
        ]
        widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=True)]
        right = {2, 3}

        def line(cells):
            out = []
            for i, (cell, w) in enumerate(zip(cells, widths, strict=True)):
                out.append(str(cell).rjust(w) if i in right else str(cell).ljust(w))
            return "  ".join(out).rstrip()

        lines = [line(head), "-" * len(line(head))]
        lines += [line(cells) for cells in body]
        return "\n".join(lines)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


@contextmanager
def step(label: str):
    """Print what is being done and how long it took."""
    print(f"  {label} …", flush=True)
    started = time.monotonic()
    yield
    print(f"    {label}: {time.monotonic() - started:.1f} s", flush=True)


def header(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 76 - len(title)), flush=True)
