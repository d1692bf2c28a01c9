"""`make drills` (python -m drills [name …]): the fault drills of issue 21, each in a process of
its own against its own PostgreSQL cluster, Redis and SMTP sink (drills/services.py), with the
portal running as scripts/cluster.sh runs it: two web nodes, two workers and two beats.

    python -m drills                 # every drill
    python -m drills postgres redis  # some
    DRILLS_KEEP=1                    # keep each drill's files (logs, data) in /tmp
    DRILLS_RECORD=0                  # do not write the run into README.md

Never part of `make test` (several minutes); tests/portal/test_outages.py holds the parts that fit
in its time. When every drill passes, the output replaces the run recorded in README.md ("Fault
drills")."""

import datetime
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / ".venv" / "bin" / "python"
README = ROOT / "README.md"
BEGIN = "<!-- drills: begin (python -m drills writes the run between these lines) -->"
END = "<!-- drills: end -->"
NAMES = ["postgres", "redis", "worker", "smtp", "backup", "pgbouncer", "upgrade"]


def machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = " / ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, {memory:.0f} GiB, Python "
        f"{platform.python_version()}; load average before the run {load}"
    )


def run_one(name: str) -> tuple[bool, str]:
    """The drill in a process of its own (its own Django settings: its own database)."""
    process = subprocess.Popen(
        [str(PYTHON), "-m", "drills.drill", name],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    for line in process.stdout:
        print(line, end="", flush=True)
        lines.append(line)
    return process.wait() == 0, "".join(lines)


def record(output: str) -> None:
    text = README.read_text()
    if BEGIN not in text or END not in text:
        print(f"(README.md has no {BEGIN!r} block: not recorded)")
        return
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    block = f"{BEGIN}\nRun of {stamp} on {machine()}:\n\n```text\n{output.rstrip()}\n```\n{END}"
    README.write_text(
        re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _m: block, text, flags=re.DOTALL)
    )
    print("(recorded in README.md, section Fault drills)")


def main(names: list[str]) -> int:
    unknown = set(names) - set(NAMES)
    if unknown:
        sys.exit(f"no such drill: {', '.join(sorted(unknown))} (drills: {', '.join(NAMES)})")
    started = time.monotonic()
    results, outputs = [], []
    for name in names or NAMES:
        ok, output = run_one(name)
        results.append((name, ok))
        outputs.append(output)
    passed = [name for name, ok in results if ok]
    summary = (
        f"{len(passed)} of {len(results)} drills passed in {time.monotonic() - started:.0f} s"
        + ("" if len(passed) == len(results) else f"; failed: {[n for n, ok in results if not ok]}")
    )
    print(summary)
    if len(passed) == len(results) == len(NAMES) and os.environ.get("DRILLS_RECORD", "1") != "0":
        record("".join(outputs) + summary + "\n")
    return 0 if len(passed) == len(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
