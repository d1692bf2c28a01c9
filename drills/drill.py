"""One drill, in this process: `python -m drills.drill postgres`. Starts the drill's own
services (drills.stack.Stack), runs it, prints what it did and found, stops everything."""

import importlib
import os
import sys
import time
import traceback

from drills.report import Report
from drills.stack import Stack, say

TITLES = {
    "postgres": ("1", "drills.drill_postgres"),
    "redis": ("2", "drills.drill_redis"),
    "worker": ("3", "drills.drill_worker"),
    "smtp": ("4", "drills.drill_smtp"),
    "backup": ("5", "drills.drill_backup"),
    "pgbouncer": ("6", "drills.drill_pgbouncer"),
    "upgrade": ("7", "drills.drill_upgrade"),
}


def main(name: str) -> int:
    number, module_name = TITLES[name]
    module = importlib.import_module(module_name)
    say(f"== Drill {number} ({name}): {module.TITLE} ==")
    started = time.monotonic()
    stack = Stack(name, **getattr(module, "STACK", {}))
    report = Report()
    crashed = False
    try:
        stack.up()
        module.run(stack, report)
    except Exception:  # the drill itself broke: say where, keep the files
        crashed = True
        say(traceback.format_exc())
        report.failures.append("the drill stopped with an error (above)")
    finally:
        passed = report.end() and not crashed
        stack.down(keep=not passed or os.environ.get("DRILLS_KEEP") == "1")
    say(f"  {'PASSED' if passed else 'FAILED'} in {time.monotonic() - started:.0f} s")
    say()
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
