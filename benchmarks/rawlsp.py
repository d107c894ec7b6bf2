"""The stdio client (`nextword.server.lsp.client`) with the server's stderr in a log file.

Used by the fuzz benchmark (benchmarks/fuzz.py) and by the robustness tests, which need to
send what a well-behaved client library never would (broken headers, malformed JSON, bodies of
the wrong length) and to watch the process itself (exit codes, sockets, files).
"""

from __future__ import annotations

from pathlib import Path

from nextword.server.lsp.client import (  # noqa: F401  (what the tests and fuzz.py use)
    EXIT_SECONDS,
    HANG_SECONDS,
    StdioClient,
    encode,
    frame,
    serve_command,
)

MEGABYTE = 1 << 20


class RawServer(StdioClient):
    """`nextword serve` on pipes, its stderr appended to `log_path`."""

    def __init__(
        self,
        command: list[str],
        log_path: Path,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.log_path = log_path
        self.log = log_path.open("ab")
        super().__init__(command, stderr=self.log, cwd=None if cwd is None else str(cwd), env=env)

    def stop(self) -> int | None:
        code = super().stop()
        self.log.close()
        return code
