"""Cold start of `nextword serve` over stdio: process start to the first completion answered.

    python benchmarks/cold_start.py [--bundle DIR] [--runs N] [--json]

Each run starts a fresh server as an editor does (initialize, initialized, didOpen, completion)
and times, from just before the process is started: the initialize answer, and the first
completion's answer. It also reads the server's CPU time (user + system, /proc) once the answer
came: on a loaded machine the wall time is mostly waiting for a core, the CPU time is not.
Reports the median, min and max of each over the runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from speed import Server  # noqa: E402

TEXT = "The President of the "
URI = "file:///bench/cold.txt"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_start(bundle: str | None) -> dict[str, float]:
    started = time.perf_counter()
    server = Server(bundle)
    initialized = time.perf_counter() - started
    try:
        server.open(URI, TEXT)
        items = server.complete(URI)
        answered = time.perf_counter() - started
        cpu = cpu_seconds(server.client.process.pid)
    finally:
        server.close()
    if not items:
        raise RuntimeError("the first completion came back empty")
    return {"initialize_s": initialized, "first_completion_s": answered, "cpu_s": cpu}


def cold_start(bundle: str | None, runs: int = 5) -> dict[str, Any]:
    """Medians (and min, max) over `runs` fresh servers; `median_s` is start to first answer."""
    each = [one_start(bundle) for _ in range(runs)]
    answered = [run["first_completion_s"] for run in each]
    return {
        "runs": runs,
        "median_s": statistics.median(answered),
        "min_s": min(answered),
        "max_s": max(answered),
        "initialize_median_s": statistics.median(run["initialize_s"] for run in each),
        "cpu_median_s": statistics.median(run["cpu_s"] for run in each),
        "load_average": os.getloadavg()[0],
        "each": each,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bundle", help="model bundle (default: the one shipped with nextword)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    report = cold_start(args.bundle, args.runs)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(
        f"start to first completion: median {report['median_s']:.3f} s "
        f"(min {report['min_s']:.3f}, max {report['max_s']:.3f}); initialize answered: median "
        f"{report['initialize_median_s']:.3f} s; server CPU time: median "
        f"{report['cpu_median_s']:.3f} s; {args.runs} runs, load average "
        f"{report['load_average']:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
