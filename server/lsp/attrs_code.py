"""attrs' generated methods, compiled once and kept between starts.

lsprotocol (the LSP types pygls speaks) defines ~570 attrs classes. attrs writes each class's
`__init__`, `__eq__` and the like as source text and compiles it when the module is imported:
554 `compile` calls, ~0.2 s of the ~0.4 s the import takes on this project's machines, at every
start of the server. What `compile` returns depends only on the source and its file name, so
`compiled_attrs_code` keeps the code objects (marshal, in a file named for the Python and attrs
versions under `$XDG_CACHE_HOME/nextword/`) and hands them back while the protocol libraries are
imported. A file that cannot be read or written is passed over: attrs compiles as it always does.
"""

from __future__ import annotations

import builtins
import contextlib
import logging
import marshal
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType
from typing import Any

from nextword.server.model.derived import cache_home

log = logging.getLogger(__name__)

MOST_KEPT = 10_000
"""Compiled methods kept at most (lsprotocol's are 554; 1.8 MB on disk)."""

Table = dict[tuple[str, str], CodeType]


@dataclass
class CompiledCode:
    """What one `compiled_attrs_code` block found kept (`hits`) and had to compile (`new`)."""

    path: Path
    kept: Table = field(default_factory=dict)
    new: Table = field(default_factory=dict)
    hits: int = 0

    def compile(self, source: Any, filename: Any, mode: str, *args: Any, **kwargs: Any) -> Any:
        """`compile`, looking in the kept code first."""
        key = (source, filename)
        if isinstance(source, str) and isinstance(filename, str):
            code = self.kept.get(key)
            if code is not None:
                self.hits += 1
                return code
        code = builtins.compile(source, filename, mode, *args, **kwargs)
        if isinstance(source, str) and isinstance(filename, str) and isinstance(code, CodeType):
            self.new[key] = code
        return code


def cache_file() -> Path:
    import attr

    versions = f"{sys.implementation.cache_tag}-attrs-{attr.__version__}"
    return cache_home() / "nextword" / f"attrs-code-{versions}.marshal"


def read_table(path: Path) -> Table:
    try:
        table = marshal.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, EOFError, TypeError) as error:
        log.info("kept attrs code in %s not used (%s)", path, error)
        return {}
    return table if isinstance(table, dict) else {}


def write_table(path: Path, table: Table) -> None:
    """Replace the file with `table` (whole or not at all)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".writing-")
    except OSError as error:
        log.info("attrs code not kept (%s)", error)
        return
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(marshal.dumps(table))
        os.replace(temporary, path)
    except (OSError, ValueError) as error:
        log.info("attrs code not kept (%s)", error)
        with contextlib.suppress(OSError):
            os.unlink(temporary)


@contextlib.contextmanager
def compiled_attrs_code() -> Iterator[CompiledCode | None]:
    """While the block runs, attrs takes its generated methods' code from the kept file; when
    there was none, what it compiled is kept after the block. Yields None where attrs cannot be
    hooked."""
    try:
        import attr._make as make
    except ImportError:
        make = None
    if make is None or hasattr(make, "compile"):  # not attrs as this module knows it
        yield None
        return
    path = cache_file()
    compiled = CompiledCode(path, read_table(path))
    make.compile = compiled.compile  # the module's `compile` now shadows the built-in one
    try:
        yield compiled
    finally:
        del make.compile
        # Written once (per Python and attrs versions): a few classes' sources differ at every
        # start (cattrs makes one with the process's addresses in it), and would rewrite it.
        if compiled.new and not compiled.kept and len(compiled.new) <= MOST_KEPT:
            write_table(path, compiled.new)
