"""Learning from the user's writing (personal/, lsp/learning.py, `nextword learn`/`forget`)."""

from __future__ import annotations

import stat
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY_BUNDLE

from nextword.server import cli
from nextword.server.engine.documents import DocumentState
from nextword.server.engine.engine import Engine, load_engine
from nextword.server.engine.inline import suggest_inline
from nextword.server.lsp.learning import Learning
from nextword.server.model.bundle import bundle_identity
from nextword.server.personal import store
from nextword.server.personal.layer import PersonalLayer
from nextword.server.personal.table import build_table, merge, prune
from nextword.server.settings import Settings, parse_settings
from nextword.server.text.prose import prose_paragraphs

WRITING = (
    "Our Zorblat framework renders quantum widgets. It renders quantum views.\n\n"
    "The Zorblat framework renders fast. The framework renders quantum data.\n"
)
CONTEXT = "We like the Zorblat framework renders "
WORKSPACE = "file:///home/someone/project"


@pytest.fixture(autouse=True)
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path / "data" / "nextword"


def engine_with(options: dict | None = None) -> Engine:
    settings, problems = parse_settings({"nextword": options or {}})
    assert not problems
    return load_engine(TINY_BUNDLE, settings)


def completions(engine: Engine, text: str) -> list[str]:
    lines = text.split("\n")
    document = DocumentState.open("file:///home/someone/project/new.txt", text)
    return [c.text for c in engine.complete(document, len(lines) - 1, len(lines[-1]))]


def attached(engine: Engine) -> Learning:
    learning = Learning({})
    learning.attach(engine, WORKSPACE, lambda message: None)
    return learning


def learn_writing(tmp_path: Path) -> Path:
    source = tmp_path / "notes.md"
    source.write_text(WRITING, encoding="utf-8")
    assert cli.main(["learn", "--bundle", str(TINY_BUNDLE), "--quiet", str(source)]) == 0
    return source


def bundle_folder() -> Path:
    return store.bundle_folder(bundle_identity(TINY_BUNDLE))


def test_a_learned_phrase_is_offered_and_forgetting_removes_it(tmp_path: Path, capsys) -> None:
    engine = engine_with()
    attached(engine)
    assert "quantum" not in completions(engine, CONTEXT)
    learn_writing(tmp_path)
    learning = attached(engine)  # a running server re-reads it on its own (`refresh`)
    learning.tick(0.0)
    assert completions(engine, CONTEXT)[0] == "quantum"
    assert "Zorblat" in completions(engine, "Then Zo")  # a word the model lacks
    assert cli.main(["forget", "--all"]) == 0
    assert learning.layer is not None and learning.layer.refresh()
    assert "quantum" not in completions(engine, CONTEXT)
    assert "Zorblat" not in completions(engine, "Then Zo")
    assert not list(bundle_folder().rglob("*.npz"))
    capsys.readouterr()


def test_the_console_command_offers_what_was_learned(tmp_path: Path, capsys) -> None:
    learn_writing(tmp_path)
    capsys.readouterr()
    assert cli.main(["complete", "--bundle", str(TINY_BUNDLE), CONTEXT]) == 0
    assert capsys.readouterr().out.split("\t")[0] == "quantum"
    assert cli.main(["forget", "--all"]) == 0
    capsys.readouterr()
    assert cli.main(["complete", "--bundle", str(TINY_BUNDLE), CONTEXT]) == 0
    assert capsys.readouterr().out.split("\t")[0] != "quantum"


def test_the_ghost_text_offers_what_was_learned(tmp_path: Path) -> None:
    engine = engine_with({"inline": {"minProbability": 0.3}})
    attached(engine)
    document = DocumentState.open("file:///home/someone/project/ghost.md", CONTEXT)
    before = suggest_inline(engine, document, 0, len(CONTEXT))
    assert before is None or before.words[0] != "quantum"
    learn_writing(tmp_path)
    attached(engine)
    after = suggest_inline(engine, document, 0, len(CONTEXT))
    assert after is not None and after.words[0] == "quantum"


def test_learning_writes_private_files_and_says_what_it_learned(tmp_path: Path, capsys) -> None:
    source = learn_writing(tmp_path)
    assert "learned 20 words" in capsys.readouterr().out
    folder = bundle_folder()
    files = sorted(folder.rglob("*.npz"))
    assert [path.name for path in files][0] == store.COMBINED
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        for parent in path.relative_to(folder.parents[1]).parents:
            assert stat.S_IMODE((folder.parents[1] / parent).stat().st_mode) == 0o700
    assert cli.main(["learn", "--bundle", str(TINY_BUNDLE), "--status"]) == 0
    assert f"{source.resolve()}: 20 words" in capsys.readouterr().out
    assert cli.main(["forget", "--bundle", str(TINY_BUNDLE), "--source", str(source)]) == 0
    assert not list(folder.rglob("*.npz"))


def test_typed_sentences_survive_a_restart(tmp_path: Path) -> None:
    engine = engine_with()
    learning = attached(engine)
    document = DocumentState.open("file:///home/someone/project/a.txt", WRITING + "More")
    learning.edited(document, 0, 3)
    assert learning.learn(document) == 4  # the finished sentences, not the word being typed
    assert completions(engine, CONTEXT)[0] == "quantum"
    learning.closed(document)
    restarted = engine_with()
    attached(restarted)
    assert completions(restarted, CONTEXT)[0] == "quantum"


def test_with_learning_off_nothing_is_written(data_home: Path) -> None:
    for options in ({"learning": {"typing": False}}, {"learning": {"enabled": False}}):
        engine = engine_with(options)
        learning = attached(engine)
        document = DocumentState.open("file:///home/someone/project/a.txt", WRITING + "More")
        learning.edited(document, 0, 3)
        assert learning.learn(document) == 0
        learning.closed(document)
        learning.shutdown()
        assert not data_home.exists()


def test_damaged_foreign_and_outdated_files_are_set_aside_once(tmp_path: Path) -> None:
    learn_writing(tmp_path)
    folder = bundle_folder()
    combined = folder / store.COMBINED
    table, _ = store.read_table(combined, bundle_identity(TINY_BUNDLE))
    cases = {
        "damaged": lambda: combined.write_bytes(b"PK\x03\x04 not a zip"),
        "foreign": lambda: store.save_table(combined, table, "another bundle", "x"),
        "outdated": lambda: np.savez(combined, format=np.asarray([0])),
    }
    for name, spoil in cases.items():
        spoil()
        told: list[str] = []
        engine = engine_with()
        Learning({}).attach(engine, WORKSPACE, told.append)
        assert len(told) == 1 and "set aside" in told[0], name
        assert (folder / (store.COMBINED + ".damaged")).is_file()
        assert completions(engine, "The ")  # the server goes on completing
        (folder / (store.COMBINED + ".damaged")).unlink()


def test_a_workspace_cannot_turn_learning_on() -> None:
    """The VS Code client takes `learning` from the user's settings only (its test runs the
    real editor with a hostile workspace); the setting it names itself is application-scoped."""
    root = Path(__file__).resolve().parents[1] / "editor-clients" / "vscode"
    import json

    properties = json.loads((root / "package.json").read_text())["contributes"]["configuration"][
        "properties"
    ]
    assert properties["nextword.learnFromTyping"]["scope"] == "application"
    assert properties["nextword.learnFromTyping"]["default"] == Settings().learning.typing
    source = (root / "src" / "settings.ts").read_text()
    assert '["learning", "enabled"],' in source and '["learning", "typing"],' in source
    assert 'learnFromTyping: userValue(config, "learnFromTyping", true)' in source


def test_code_blocks_inline_code_and_addresses_are_not_learned() -> None:
    text = "Text one.\n```\nsecret code here\n```\nSee `x = y` at https://a.org now.\n"
    words = [[token.text for token in paragraph] for paragraph in prose_paragraphs(text, ".md")]
    assert words == [["Text", "one", "."], ["See"], ["at"], ["now", "."]]


def test_tables_stay_bounded_and_old_counts_decay() -> None:
    paragraphs = list(prose_paragraphs("a b c d e f g h. " * 20 + "\n\nx y z.\n"))
    table = build_table(paragraphs)
    assert table.unigram[table.index["a"]] == 20
    halved = merge([table, build_table(paragraphs[-1:])], [0.5, 1.0])
    assert halved.unigram[halved.index["a"]] == 10 and halved.unigram[halved.index["x"]] == 1.5
    small = prune(halved, 5)
    assert len(small) == 5 and small.tokens == sorted(small.tokens)
    assert all(
        int(level.keys.max(initial=0)) < small.size ** (n + 2)
        for n, level in enumerate(small.levels)
    )


def test_a_learned_layer_ignores_another_bundles_files(tmp_path: Path) -> None:
    learn_writing(tmp_path)
    engine = engine_with()
    layer = PersonalLayer(engine.vocab, "another bundle's identity")
    layer.load()
    assert not layer.tables and not layer.warnings  # its folder is another: nothing mixed
