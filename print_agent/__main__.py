"""``wbc-print-agent --server URL --key KEY [--once] [--poll 2]`` (or ``python -m print_agent``).

Takes the jobs of this agent's printers from the server, sends each document to its
printer in order (stopping at the first one that is not confirmed, as the server does),
and reports the result of every document it tried. The server keeps the job; a failed
job is retried from the console and resends only what the printer did not confirm.

Exit status: 0 done (or, with ``--once``, no job waiting), 1 a document failed
(``--once``), 2 the key was refused, 3 the server could not be reached (``--once``).
"""

from __future__ import annotations

import argparse
import base64
import logging
import os
import sys
import time

from print_agent import __version__, printers
from print_agent.client import AgentAuthError, Client, ServerError

log = logging.getLogger("print_agent")

KEY_ENV = "WBC_PRINT_AGENT_KEY"
REPORT_TRIES = 5


def print_job(job: dict) -> list[dict]:
    """Send the job's documents in order; one result per document tried."""
    target = job["printer"]["target"]
    results = []
    for document in job["documents"]:
        data = base64.b64decode(document["data"])
        try:
            sent = printers.send(target, data)
        except printers.SendError as err:
            log.warning(
                "job %s label %s (%s) on %s: %s",
                job["job"],
                document["sequence"],
                document.get("waybill_no") or "test",
                target,
                err,
            )
            results.append(
                {
                    "sequence": document["sequence"],
                    "ok": False,
                    "bytes_sent": err.sent,
                    "error": err.as_dict(),
                }
            )
            break
        log.info("job %s label %s: %s bytes confirmed", job["job"], document["sequence"], sent)
        results.append({"sequence": document["sequence"], "ok": True, "bytes_sent": sent})
    return results


def report(client: Client, job: dict, results: list[dict]) -> dict:
    """Post the results, again after a network failure (the server records them once)."""
    delay = 1.0
    for attempt in range(REPORT_TRIES):
        try:
            return client.report(job["job"], job["attempt"], results)
        except ServerError as err:
            if attempt == REPORT_TRIES - 1:
                raise
            log.warning("reporting job %s failed (%s); again in %.0f s", job["job"], err, delay)
            time.sleep(delay)
            delay = min(delay * 2, 30)
    return {}


def take_job(client: Client, *, wait: int) -> int | None:
    """Print the next job: 0 when every label was confirmed, 1 when one was not, ``None``
    when no job was waiting."""
    job = client.next_job(wait=wait)
    if job is None:
        return None
    log.info(
        "job %s: %s label(s) for %s (%s)",
        job["job"],
        len(job["documents"]),
        job["printer"]["name"],
        job["printer"]["target"],
    )
    results = print_job(job)
    answer = report(client, job, results)
    log.info("job %s is %s", job["job"], answer.get("status", "reported"))
    confirmed = all(r["ok"] for r in results) and len(results) == len(job["documents"])
    return 0 if confirmed else 1


def run_once(client: Client, *, wait: int) -> int:
    outcome = take_job(client, wait=wait)
    if outcome is None:
        log.info("no print job waiting")
        return 0
    return outcome


def run(client: Client, *, wait: int, poll: float) -> int:
    """Poll for ever; back off while the server cannot be reached."""
    delay = poll
    while True:
        try:
            outcome = take_job(client, wait=wait)
        except ServerError as err:
            log.warning("server: %s; trying again in %.0f s", err, delay)
            time.sleep(delay)
            delay = min(max(delay, 1.0) * 2, 60)
            continue
        delay = poll
        if outcome is None:
            time.sleep(poll)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="wbc-print-agent",
        description="Print Waybill Console labels on this PC's printers.",
    )
    parser.add_argument("--server", required=True, help="the console's URL, e.g. https://…")
    parser.add_argument("--key", help=f"the agent's key (or the {KEY_ENV} environment variable)")
    parser.add_argument("--once", action="store_true", help="take at most one job, then exit")
    parser.add_argument("--poll", type=float, default=2.0, help="seconds between polls")
    parser.add_argument("--wait", type=int, default=20, help="long-poll seconds (≤ 25)")
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    key = args.key or os.environ.get(KEY_ENV, "")
    if not key:
        parser.error(f"--key or {KEY_ENV} is required")
    client = Client(args.server, key)
    try:
        if args.once:
            return run_once(client, wait=args.wait)
        return run(client, wait=args.wait, poll=args.poll)
    except AgentAuthError as err:
        log.error("%s: create a new agent key in the console (打印机 → 打印代理)", err)
        return 2
    except ServerError as err:
        log.error("server: %s", err)
        return 3
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
