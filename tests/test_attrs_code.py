"""attrs' generated methods are compiled once and taken from the kept file at later starts
(lsp/attrs_code.py), and give the same classes."""

from __future__ import annotations

import attr
import pytest

from nextword.server.lsp import attrs_code
from nextword.server.lsp.attrs_code import compiled_attrs_code

CLASS_SOURCE = """
@attr.define
class Point:
    x: int
    y: int = 0
"""


def define_point() -> type:
    namespace: dict = {"attr": attr}
    exec(CLASS_SOURCE, namespace)
    return namespace["Point"]


def test_code_compiled_once_is_taken_from_the_file_later(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with compiled_attrs_code() as first:
        point = define_point()
    assert first is not None and first.new and first.hits == 0
    assert attrs_code.cache_file().is_file()
    with compiled_attrs_code() as second:
        again = define_point()
    assert second is not None and second.hits == len(first.new) and not second.new
    assert again(1, 2) == again(1, 2) != again(2) and repr(again(3)) == repr(point(3))
    assert not hasattr(attr._make, "compile")  # the built-in is attrs' own again


def test_a_damaged_file_is_passed_over(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    attrs_code.cache_file().parent.mkdir(parents=True)
    attrs_code.cache_file().write_bytes(b"\x00not marshal")
    with compiled_attrs_code() as compiled:
        point = define_point()
    assert compiled is not None and compiled.hits == 0 and compiled.new
    assert point(1) == point(1, 0)
