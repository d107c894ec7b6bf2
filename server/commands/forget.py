"""`nextword forget`: delete the memory nextword stored for a workspace (memory.persist)."""

from __future__ import annotations

import argparse

from nextword.server.memory.persist import data_dir, delete_stored


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="nextword forget",
        description="Delete the memory nextword stored for a workspace (memory.persist).",
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--workspace", help="the workspace folder (a path or a file:// URI)")
    which.add_argument("--all", action="store_true", help="every workspace")
    args = parser.parse_args(argv)
    removed = delete_stored(None if args.all else args.workspace)
    print(f"nextword forget: removed {len(removed)} file(s) from {data_dir()}")
    return 0
