"""A progress bar on stderr for the commands (redrawn on a terminal, one line in a log)."""

from __future__ import annotations

import sys
from collections.abc import Callable


def progress_bar(
    label: str, enabled: bool, unit: str = "words"
) -> Callable[[int, int], None] | None:
    """A callback taking (done, total); None when not `enabled`."""
    if not enabled:
        return None
    redraw = sys.stderr.isatty()  # in a log file, only the finished line

    def show(done: int, total: int) -> None:
        if not redraw and done < total:
            return
        width = 30
        filled = width * done // max(total, 1)
        bar = "#" * filled + "." * (width - filled)
        end = "\n" if done >= total else ""
        start = "\r" if redraw else ""
        sys.stderr.write(f"{start}{label:<40.40} [{bar}] {done}/{total} {unit}{end}")
        sys.stderr.flush()

    return show
