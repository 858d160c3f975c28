"""Where the CPU went during a timed case: per allocation, by process group.

The machine is shared (another engineer's tests, a load test): a figure alone does not
say whether the code got slower or the machine busier. Around the timed part the bench
reads ``/proc``: the client processes' own CPU time (each reports it), the PostgreSQL
backends connected to the bench database, the gunicorn workers (HTTP case), and the
whole machine's busy and idle time. What is busy but none of these is everything else
(Redis, the kernel, other work on the machine): when it is large, the figure measured
the neighbours as much as the code.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

TICK = os.sysconf("SC_CLK_TCK")


def process_seconds(pid: int) -> float | None:
    """User + system CPU of one process so far (None once it has gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICK


def machine_seconds() -> tuple[float, float]:
    """(busy, idle) CPU seconds of the whole machine so far, all cores."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    busy = sum(values[:8]) - idle  # user nice system idle iowait irq softirq steal
    return busy / TICK, idle / TICK


def children(pid: int) -> list[int]:
    """The direct child processes of ``pid`` (gunicorn's workers)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(entry))
            except OSError:
                continue
    return out


def backend_pids(db: dict, database: str) -> list[int]:
    """Process ids of the PostgreSQL backends connected to ``database`` (a local server)."""
    import psycopg2

    from benchmarks.common import psycopg_kwargs

    conn = psycopg2.connect(**psycopg_kwargs(db, database))
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [database],
            )
            return [row[0] for row in cur.fetchall()]
    finally:
        conn.close()


@dataclass
class Watch:
    """CPU of named process groups between :meth:`start` and :meth:`stop`. A process
    that exits meanwhile (a client's database backend) counts up to its last sample,
    taken every ``every`` seconds by a thread."""

    every: float = 0.02
    groups: dict[str, list[int]] = field(default_factory=dict)
    before: dict[int, float] = field(default_factory=dict)
    last: dict[int, float] = field(default_factory=dict)
    spent: dict[str, float] = field(default_factory=dict)
    machine: tuple[float, float] = (0.0, 0.0)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _sample(self) -> None:
        for pids in self.groups.values():
            for pid in pids:
                seconds = process_seconds(pid)
                if seconds is not None:
                    self.last[pid] = seconds

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._sample()

    def start(self, groups: dict[str, list[int]]) -> None:
        self.groups = groups
        self._sample()
        self.before = dict(self.last)
        self.machine = machine_seconds()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is None:
            return
        busy, idle = machine_seconds()
        self._stop.set()
        self._thread.join()
        self._sample()
        self.machine = (busy - self.machine[0], idle - self.machine[1])
        for name, pids in self.groups.items():
            self.spent[name] = sum(
                self.last[pid] - self.before[pid] for pid in pids if pid in self.before
            )

    def line(self, count: int, clients: float) -> str:
        """Milliseconds per allocation by group; ``clients`` is what the client processes
        reported themselves (they may have exited before :meth:`stop`)."""
        if not count or self._thread is None:
            return ""
        spent = {"clients": clients, **self.spent}
        busy, idle = self.machine
        rest = max(0.0, busy - sum(spent.values()))
        parts = [f"{name} {1000 * seconds / count:.2f}" for name, seconds in spent.items()]
        parts.append(f"everything else {1000 * rest / count:.2f}")
        return (
            f"CPU per allocation (ms): {', '.join(parts)}; the machine "
            f"{1000 * busy / count:.2f} busy, {1000 * idle / count:.2f} idle"
        )
