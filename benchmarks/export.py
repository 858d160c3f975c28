"""The reconciliation statement (电子对账单) of the data set: CSV of every number, XLSX of a slice.

The job is created by ``reconciliation_start`` (its Celery enqueue replaced by nothing)
and run by ``waybill_console.jobs.job_run`` in a fresh child process
(``python -m benchmarks.export JOB_ID``), which reports the time of ``job_run``, the rows
written and its own peak RSS: the kernel's high-water mark ``VmHWM`` of
``/proc/self/status``, Python and Django included (not ``ru_maxrss``, which on Linux
also keeps the forking parent's RSS across ``exec``); the parent also samples the
child's RSS every 50 ms as a cross-check.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import Results, child_env, header, verdict

CSV_SECONDS = 90
CSV_MB = 300
FULL_SIZE = 1_000_000


def _start(actor, params: dict, file_format: str):
    from unittest import mock

    from waybills.services import reconciliation_start

    with mock.patch("waybill_console.tasks.run_job"):  # no broker: run here, in a child
        return reconciliation_start(actor=actor, params=params, file_format=file_format)


def _run_child(job_id: int) -> dict:
    import psutil

    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.export", str(job_id)],
        env=child_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    sampled = 0
    watched = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            sampled = max(sampled, watched.memory_info().rss)
        except psutil.Error:
            break
        time.sleep(0.05)
    out, _ = proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"the export child failed ({proc.returncode}):\n{out}")
    report = json.loads(out.strip().splitlines()[-1])
    report["sampled_mb"] = sampled / 2**20
    return report


def run(args, results: Results, dataset) -> None:
    from benchmarks import seed

    header(f"reconciliation export of shop 100002 ({dataset.total:,} waybills)")
    actor = seed.main_actor(dataset.shop)
    for file_format, params, rows in (
        ("csv", {"days": 366}, dataset.total),
        ("xlsx", {"days": 366, "subscription": dataset.subs[1].pk}, dataset.xlsx),
    ):
        job = _start(actor, params, file_format)
        report = _run_child(job.pk)
        print(
            f"  {file_format.upper()}: job {report['status']}, {report['rows']:,} rows in "
            f"{report['seconds']:.1f} s ({report['rows'] / report['seconds']:,.0f} rows/s), "
            f"{report['file_mb']:.0f} MB file; peak RSS {report['peak_mb']:.0f} MB "
            f"(sampled {report['sampled_mb']:.0f} MB; {report['start_mb']:.0f} MB before the job)"
        )
        if report["status"] != "succeeded" or report["rows"] != rows:
            results.fail(
                f"{file_format} export: {report['status']}, {report['rows']} rows of {rows} "
                f"({report.get('error')})"
            )
        label = f"{file_format.upper()} export, {report['rows']:,} rows"
        row = results.add(
            "export",
            label,
            report["seconds"],
            "s",
            ratio=f"{report['rows'] / report['seconds']:,.0f} rows/s",
        )
        memory = results.add("export", f"{label}: peak RSS", report["peak_mb"], "MB")
        if file_format == "csv":
            if rows == FULL_SIZE:
                row.target, row.verdict = (
                    f"< {CSV_SECONDS} s",
                    verdict(report["seconds"] < CSV_SECONDS),
                )
                memory.target, memory.verdict = (
                    f"< {CSV_MB} MB",
                    verdict(report["peak_mb"] < CSV_MB),
                )
            else:
                row.target = f"(< {CSV_SECONDS} s at 1,000,000)"
                memory.target = f"(< {CSV_MB} MB at 1,000,000)"


def _peak_mb() -> float:
    """This process's peak RSS in MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_main(job_id: int) -> None:
    """In the child: run the job and print one JSON line about it."""
    import psutil

    from benchmarks.common import setup_child_django

    setup_child_django()
    from waybill_console.jobs import job_run
    from waybill_console.models import Job

    start_mb = psutil.Process().memory_info().rss / 2**20
    started = time.monotonic()
    status = job_run(job_id=job_id)
    seconds = time.monotonic() - started
    job = Job.objects.get(pk=job_id)
    path = Path(job.file_path) if job.file_path else None
    print(
        json.dumps(
            {
                "status": str(status),
                "seconds": seconds,
                "rows": (job.result or {}).get("rows", 0),
                "error": job.error,
                "file_mb": path.stat().st_size / 2**20 if path and path.exists() else 0,
                "peak_mb": _peak_mb(),
                "start_mb": start_mb,
            }
        )
    )


if __name__ == "__main__":
    child_main(int(sys.argv[1]))
