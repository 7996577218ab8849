"""Instructions per call on the hot path, counted by valgrind (repeatable on a busy machine).

Run from the repository root: .venv/bin/python benchmarks/instructions.py [--n 2000]
For each setup (bare SDK, otel-bridge; null exporters) and operation it runs hot_path.py under
``valgrind --tool=callgrind`` twice, with n calls and with none, and reports the difference / n.

The garbage collector is off during the calls: whether one full collection (tens of millions of
instructions) lands inside a window of a few thousand calls depends on the allocations made during
setup, and would swing the result by thousands of instructions per call. Over long runs both setups
do the same number of collections of each generation (checked with ``gc.get_stats()``).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

HOT_PATH = Path(__file__).with_name("hot_path.py")
OPS = ("logger.info", "span start+end", "counter.add")


def collected(setup: str, op: str, n: int) -> int:
    result = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            str(HOT_PATH),
            "--single",
            setup,
            op,
            "--n",
            str(n),
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "HOT_PATH_NO_GC": "1"},
    )
    match = re.search(r"Collected : (\d+)", result.stderr)
    if match is None:
        raise RuntimeError(result.stderr[-2000:])
    return int(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    print(f"instructions per call (callgrind, {args.n} calls minus 0 calls)")
    print(f"{'operation':<18}{'bare SDK':>14}{'otel-bridge':>14}")
    for op in OPS:
        row = [(collected(setup, op, args.n) - collected(setup, op, 0)) / args.n for setup in ("sdk", "bridge")]
        print(f"{op:<18}{row[0]:>14,.0f}{row[1]:>14,.0f}", flush=True)


if __name__ == "__main__":
    main()
