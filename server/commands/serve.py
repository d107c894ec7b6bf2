"""`nextword serve`: the language server over stdio (lsp/server.py).

The model starts loading (lsp/loading.py) before the protocol libraries are imported, so that
the two overlap; stdout is handed to the protocol first, so that nothing the loading prints can
reach the message stream, and what it logs meanwhile is held for the log (`held_records`).
The protocol libraries' attrs classes reuse the code compiled at an earlier start
(lsp/attrs_code.py).
"""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import os
import sys
from typing import Any


def held_records(verbose: bool) -> logging.handlers.MemoryHandler:
    """Hold what is logged until `configure_logging` has the log's handler (its module imports
    the protocol libraries, which the model's load overlaps)."""
    held = logging.handlers.MemoryHandler(capacity=10_000, flushLevel=logging.CRITICAL + 1)
    root = logging.getLogger()
    root.handlers[:] = [held]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    return held


def configure_logging(
    log_file: str | None, verbose: bool, held: logging.handlers.MemoryHandler | None = None
) -> str | None:
    """Log to the file (else stderr), after the `held` records; returns why the file cannot be
    used, if it cannot."""
    from nextword.server.lsp.transport import log_handler

    handler, problem = log_handler(log_file)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    if not verbose:
        logging.getLogger("pygls").setLevel(logging.WARNING)
    if held is not None:
        held.setTarget(handler)
        held.close()  # hands its records to `handler`
    return problem


def protocol_stdout() -> Any:
    """The real stdout for the protocol; fd 1 and sys.stdout then point at stderr, so a stray
    print (ours or a native library's) can never corrupt the message stream."""
    protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    return protocol_out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="nextword serve", description=__doc__.split("\n")[0])
    parser.add_argument("--log-file", help="write the log here instead of stderr")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.add_argument("--bundle", help="model bundle directory (overrides the setting)")
    parser.add_argument("--stdio", action="store_true", help="accepted for editors; the default")
    args = parser.parse_args(argv)
    protocol_out = protocol_stdout()
    held = held_records(args.verbose)
    from nextword.server.engine.heap import one_heap
    from nextword.server.lsp.loading import ModelLoad

    one_heap()

    early = ModelLoad.early(args.bundle)
    from nextword.server.lsp.attrs_code import compiled_attrs_code

    with compiled_attrs_code():  # the protocol libraries' classes, without compiling them
        problem = configure_logging(args.log_file, args.verbose, held)
        from nextword.server.lsp.server import serve

    return serve(args.bundle, problem, protocol_out, early)
