"""The `nextword` command: one subcommand per module, each with its own argument parser."""

from __future__ import annotations

import importlib
import os
import sys

# name -> (module with `main(argv) -> int`, one-line description)
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("nextword.server.commands.serve", "run the language server over stdio"),
    "complete": (
        "nextword.server.commands.complete",
        "print the completions for the end of some text",
    ),
    "info": (
        "nextword.server.commands.info",
        "show a model bundle's manifest and verify its files",
    ),
    "eval": (
        "nextword.server.commands.eval_command",
        "simulate typing files and report keystroke savings",
    ),
    "learn": ("nextword.server.commands.learn", "learn your words and phrases from your writing"),
    "forget": ("nextword.server.commands.forget", "delete what was learned from your writing"),
    "settings": (
        "nextword.server.commands.settings_doc",
        "print the settings reference (Markdown)",
    ),
    "train": ("nextword.exporter.train", "train a predictor on your text (needs [train])"),
    "export": (
        "nextword.exporter.export",
        "write a model bundle from a checkpoint (needs [train])",
    ),
    "ngrams": ("nextword.exporter.ngrams", "add the corpus's word counts to a model bundle"),
}


SERVER_BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "1")
"""The server's commands run numpy's BLAS on one thread: a product of a few thousand rows (a
prefix's range, model/search.py) takes 0.4 ms on one core and ~8 ms when BLAS wakes its threads
on two busy cores. Set before numpy is first imported; a user's own setting wins."""


def usage() -> str:
    lines = ["usage: nextword COMMAND [options]   (nextword COMMAND --help for more)", ""]
    lines += [f"  {name:<9} {description}" for name, (_, description) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    if argv[0] == "--version":
        from importlib.metadata import version

        print(f"nextword {version('nextword')}")
        return 0
    entry = COMMANDS.get(argv[0])
    if entry is None:
        print(f"nextword: unknown command {argv[0]!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module_name, _ = entry
    if module_name.startswith("nextword.server."):
        os.environ.setdefault(*SERVER_BLAS_THREADS)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if module_name.startswith("nextword.exporter") and error.name in ("torch", "transformers"):
            print(
                f"nextword {argv[0]}: needs the training extra ({error.name} is not installed): "
                "pip install torch==2.13.0 && pip install 'nextword[train]'",
                file=sys.stderr,
            )
            return 2
        raise
    try:
        return int(module.main(argv[1:]) or 0)
    except BrokenPipeError:
        # The reader went away (`nextword complete ... | head`): not an error worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
