"""Run a function in several OS processes at once, each with its own PostgreSQL connection.

The parent closes its connections before forking; each child opens its own, waits at a
barrier so that all start together, runs, closes its connection and reports a result.
"""

from __future__ import annotations

import multiprocessing as mp
import traceback

from django.db import connections


def _child(index, target, args, barrier, queue):
    try:
        connections.close_all()
        barrier.wait(timeout=60)
        queue.put((index, "ok", target(*args)))
    except BaseException:  # report anything, the parent asserts
        queue.put((index, "crash", traceback.format_exc()))
    finally:
        connections.close_all()


def run_in_processes(target, args_list: list[tuple], timeout: float = 120) -> list:
    """``target(*args)`` in one process per args tuple; results in the same order."""
    connections.close_all()
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(len(args_list))
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_child, args=(i, target, args, barrier, queue))
        for i, args in enumerate(args_list)
    ]
    for p in procs:
        p.start()
    results = {}
    for _ in procs:
        index, state, value = queue.get(timeout=timeout)
        if state == "crash":
            raise AssertionError(f"process {index} crashed:\n{value}")
        results[index] = value
    for p in procs:
        p.join(timeout=timeout)
    return [results[i] for i in range(len(args_list))]
