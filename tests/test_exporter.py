"""Train and export end to end on a few KB of generated text: CLI, ONNX parity, resume, torchrun."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from nextword.exporter import export  # noqa: E402
from nextword.exporter.checkpoint import load_checkpoint  # noqa: E402
from nextword.exporter.export import check_parity  # noqa: E402
from nextword.server.cli import main as nextword  # noqa: E402
from nextword.server.model.bundle import load_bundle  # noqa: E402
from nextword.server.text.tokenizer import CONTINUE_SYMBOL, PARAGRAPH_SYMBOL  # noqa: E402

pytestmark = pytest.mark.train

SUBJECTS = ["the cat", "a dog", "my neighbour", "the old man", "Anna", "London"]
VERBS = ["sees", "likes", "walks past", "doesn't trust", "paints", "follows"]
OBJECTS = ["the river", "a well-known house", "the garden", "her friend", "3 birds", "the city"]


def write_corpus(path: Path, paragraphs: int = 160, seed: int = 0) -> Path:
    """Structured prose so a tiny model can learn something; ~10 KB."""
    rng = random.Random(seed)
    lines = []
    for _ in range(paragraphs):
        sentences = [
            f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}."
            for _ in range(rng.randint(1, 4))
        ]
        lines.append(" ".join(s[0].upper() + s[1:] for s in sentences))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def train_args(corpus: Path, out: Path, *extra: str) -> list[str]:
    return [
        "train", "--corpus", str(corpus), "--out", str(out), "--targets", "random",
        "--target-dim", "12", "--hidden", "16", "--input-dim", "8", "--batch-size", "8",
        "--max-context-tokens", "12", "--min-count", "1", "--eval-every", "0", "--quiet",
        "--threads", "1", *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("corpus") / "text.txt")


def test_train_then_export_through_the_cli(corpus: Path, tmp_path: Path) -> None:
    run, bundle_dir = tmp_path / "run", tmp_path / "bundle"
    assert nextword(train_args(corpus, run, "--epochs", "2", "--loss", "vmf")) == 0
    checkpoint = load_checkpoint(run)
    assert checkpoint.progress.done and checkpoint.dev["words"] > 0
    assert nextword(["export", str(run), "--out", str(bundle_dir)]) == 0
    bundle = load_bundle(bundle_dir)
    manifest = bundle.manifest
    assert manifest["network"]["state_shape"] == [1, 1, 16]
    assert manifest["network"]["output_dim"] == 12
    assert manifest["loss"]["name"] == "vmf"
    assert manifest["targets"]["source"] == "random"
    assert manifest["export"]["parity_max_abs_diff"] <= 1e-4
    assert manifest["corpus"]["dev_paragraphs"] == 8
    assert bundle.vocab.display[bundle.vocab.index["london"]] == "London"
    assert np.allclose(np.linalg.norm(bundle.output_embeddings, axis=1), 1, atol=1e-5)
    assert not list(tmp_path.glob(".bundle*")), "no staging directory may be left behind"
    history = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    assert history[-1]["step"] == checkpoint.progress.step
    # the corpus's word counts join the bundle; the server reads them
    tokens = str(tmp_path / "tokens")
    counting = ["ngrams", "--bundle", str(bundle_dir), "--corpus", str(corpus)]
    assert nextword([*counting, "--token-cache", tokens]) == 0
    bundle = load_bundle(bundle_dir)
    assert bundle.ngrams is not None and bundle.manifest["ngrams"]["pruning"] == "entropy"
    assert bundle.manifest["ngrams"]["train_paragraphs"] == 152
    walks = bundle.vocab.index["walks"]
    bigrams = bundle.ngrams.levels[0]
    row = bigrams.find(walks)
    begin, end = bigrams.offsets[row : row + 2]
    assert bundle.vocab.folded[int(bigrams.next_ids[begin])] == "past"
    assert end - begin == 1  # "walks" is always followed by "past"


def _onnx_vs_sequence(run: Path, bundle_dir: Path) -> None:
    """Step ONNX one token at a time from carried state; compare with PyTorch over the sequence."""
    import onnxruntime as ort

    checkpoint = load_checkpoint(run)
    model = checkpoint.predictor()
    bundle = load_bundle(bundle_dir)
    session = ort.InferenceSession(str(bundle.predictor_path), providers=["CPUExecutionProvider"])
    vocab = checkpoint.vocab
    ids = [vocab.index[PARAGRAPH_SYMBOL]] + checkpoint.parity_sample[0]
    inputs = bundle.input_embeddings.astype(np.float32)
    vectors = torch.from_numpy(inputs[ids])[None]
    with torch.no_grad():
        expected, final_state = model.run(vectors, model.initial_state(1))
    state = np.zeros(bundle.state_shape, dtype=np.float32)
    for position, token in enumerate(ids):
        output, state = session.run(None, {"input": inputs[token : token + 1], "state": state})
        assert np.abs(output[0] - expected[0, position].numpy()).max() < 1e-4
    assert np.abs(state - final_state.numpy()).max() < 1e-4


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_onnx_matches_pytorch_one_word_at_a_time(cell: str, corpus: Path, tmp_path: Path) -> None:
    run, bundle_dir = tmp_path / "run", tmp_path / "bundle"
    assert (
        nextword(train_args(corpus, run, "--cell", cell, "--layers", "2", "--max-steps", "6")) == 0
    )
    assert nextword(["export", str(run), "--out", str(bundle_dir)]) == 0
    assert load_bundle(bundle_dir).state_shape == (2, 1, 32 if cell == "lstm" else 16)
    _onnx_vs_sequence(run, bundle_dir)


def test_export_refuses_when_onnx_disagrees(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    run, bundle_dir = tmp_path / "run", tmp_path / "bundle"
    assert nextword(train_args(corpus, run, "--max-steps", "3")) == 0
    real_export = export.export_onnx

    def export_a_different_network(model, path):  # an ONNX graph whose weights are off by 1e-3
        with torch.no_grad():
            model.head.bias += 1e-3
            real_export(model, path)
            model.head.bias -= 1e-3

    monkeypatch.setattr(export, "export_onnx", export_a_different_network)
    assert nextword(["export", str(run), "--out", str(bundle_dir)]) == 1
    assert "ONNX and PyTorch differ" in capsys.readouterr().err
    assert not bundle_dir.exists()
    assert not list(tmp_path.glob(".bundle*"))


def test_parity_check_resets_like_the_server(corpus: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert nextword(train_args(corpus, run, "--max-steps", "3")) == 0
    checkpoint = load_checkpoint(run)
    model = checkpoint.predictor()
    onnx_path = tmp_path / "step.onnx"
    export.export_onnx(model, onnx_path)
    table = model.embed.weight.detach().numpy().astype(np.float16).astype(np.float32)
    long_paragraph = [t for chunk in checkpoint.parity_sample for t in chunk][:40]
    vocab = checkpoint.vocab
    worst, steps = check_parity(
        model, onnx_path, table, [long_paragraph], 12,
        vocab.index[PARAGRAPH_SYMBOL], vocab.index[CONTINUE_SYMBOL],
    )  # fmt: skip
    assert steps == len(long_paragraph) + 4  # <p> and three <cont> restarts
    assert worst < 1e-4


def test_resume_equals_an_uninterrupted_run(corpus: Path, tmp_path: Path) -> None:
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    common = ("--max-steps", "14", "--dropout", "0.3", "--loss", "vmf")
    assert nextword(train_args(corpus, whole, *common)) == 0
    assert nextword(train_args(corpus, parts, *common, "--halt-after", "5")) == 0
    halted = load_checkpoint(parts)
    assert halted.progress.step == 5 and not halted.progress.done
    assert nextword(train_args(corpus, parts, *common, "--halt-after", "4", "--resume")) == 0
    assert nextword(train_args(corpus, parts, *common, "--resume")) == 0
    expected, resumed = load_checkpoint(whole), load_checkpoint(parts)
    assert resumed.progress.step == expected.progress.step == 14 and resumed.progress.done
    for name, tensor in expected.model_state.items():
        assert torch.equal(tensor, resumed.model_state[name]), name
    assert torch.equal(expected.targets, resumed.targets)


def test_a_raised_time_budget_continues_a_spent_run(corpus: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert nextword(train_args(corpus, run, "--max-steps", "14", "--time-budget", "1e-9")) == 0
    spent = load_checkpoint(run).progress
    assert spent.step == 1 and spent.done
    assert nextword(train_args(corpus, run, "--resume", "--time-budget", "1e-9")) == 0
    assert load_checkpoint(run).progress.step == 1
    raised = ("--resume", "--time-budget", "1e9", "--halt-after", "3")
    assert nextword(train_args(corpus, run, *raised)) == 0
    assert load_checkpoint(run).progress.step == 4


def test_a_finished_run_is_not_overwritten(corpus: Path, tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    assert nextword(train_args(corpus, run, "--max-steps", "2")) == 0
    assert nextword(train_args(corpus, run, "--max-steps", "2")) == 1
    assert "--resume" in capsys.readouterr().err


@pytest.mark.slow
def test_torchrun_trains_with_two_processes(corpus: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "-m", "nextword.server.cli", *train_args(corpus, run, "--max-steps", "6"),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    checkpoint = load_checkpoint(run)
    assert checkpoint.args["world_size"] == 2
    assert checkpoint.progress.step == 6 and checkpoint.progress.done
    single = load_checkpoint(_single_process_run(corpus, tmp_path / "single"))
    # Two processes read twice the sequences per step.
    assert checkpoint.progress.tokens > 1.5 * single.progress.tokens


def _single_process_run(corpus: Path, out: Path) -> Path:
    assert nextword(train_args(corpus, out, "--max-steps", "6")) == 0
    return out


def test_softmax_output_and_softmax_derived_targets(corpus: Path, tmp_path: Path) -> None:
    run, bundle_dir = tmp_path / "run", tmp_path / "bundle"
    # No --targets-from: a softmax model of the same shape is trained first, in the run directory.
    assert nextword(train_args(corpus, run, "--targets", "softmax", "--max-steps", "4")) == 0
    source = load_checkpoint(run / "softmax-targets")
    assert source.config.output == "softmax" and source.progress.step == 4
    derived = load_checkpoint(run)
    head = source.model_state["head.weight"]
    expected = head / head.norm(dim=1, keepdim=True)
    assert torch.allclose(derived.targets, expected, atol=1e-6)
    assert derived.config.output_dim == 16 and derived.targets_info["source"] == "softmax"
    assert derived.targets_info["softmax_model"]["steps"] == 4
    assert nextword(["export", str(run / "softmax-targets"), "--out", str(bundle_dir)]) == 0
    bundle = load_bundle(bundle_dir)
    assert bundle.is_softmax and bundle.output_embeddings is None
    assert bundle.manifest["network"]["output_dim"] == len(bundle.vocab)


def test_table_softmax_head_refit_exports_a_word_bias(corpus: Path, tmp_path: Path) -> None:
    base, run, bundle_dir = tmp_path / "base", tmp_path / "run", tmp_path / "bundle"
    assert nextword(train_args(corpus, base, "--max-steps", "6")) == 0
    refit = ["--init-from", str(base), "--loss", "table-softmax", "--train-only", "head"]
    refit += ["--negatives", "8"]  # sampled softmax in training; the dev figures use all words
    assert nextword(train_args(corpus, run, *refit, "--max-steps", "8", "--lr", "0.01")) == 0
    source, refitted = load_checkpoint(base), load_checkpoint(run)
    assert refitted.config.word_bias and not source.config.word_bias
    assert torch.equal(refitted.targets, source.targets)
    for name, weights in source.model_state.items():
        same = torch.equal(refitted.model_state[name], weights)
        assert same == (not name.startswith("head.")), name  # only the head was trained
    assert refitted.targets_info["network_from"]["steps"] == 6
    assert nextword(["export", str(run), "--out", str(bundle_dir)]) == 0
    bundle = load_bundle(bundle_dir)
    assert bundle.manifest["network"]["word_bias"] is True
    assert bundle.manifest["loss"]["name"] == "table-softmax"
    assert bundle.output_bias is not None
    assert np.allclose(bundle.output_bias, refitted.model_state["word_bias"].numpy())


def test_sigterm_writes_a_checkpoint_that_resumes(corpus: Path, tmp_path: Path) -> None:
    import signal
    import time

    run = tmp_path / "run"
    command = [
        sys.executable, "-m", "nextword.server.cli",
        *train_args(corpus, run, "--epochs", "1000", "--time-budget", "120"),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = run / "train.log"
    deadline = time.monotonic() + 60
    while not (log.exists() and "steps planned" in log.read_text()):
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
        time.sleep(0.1)
    time.sleep(1.0)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    halted = load_checkpoint(run)
    assert halted.progress.step > 0 and not halted.progress.done
    assert "interrupted: continue with --resume" in log.read_text()
    resume = train_args(corpus, run, "--resume", "--halt-after", "3")
    assert nextword(resume) == 0
    assert load_checkpoint(run).progress.step == halted.progress.step + 3


def test_export_replaces_only_an_empty_folder_or_a_bundle(
    corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    run, notes, bundle_dir = tmp_path / "run", tmp_path / "notes", tmp_path / "bundle"
    assert nextword(train_args(corpus, run, "--max-steps", "3")) == 0
    notes.mkdir()
    (notes / "thesis.md").write_text("years of work", encoding="utf-8")
    capsys.readouterr()
    assert nextword(["export", str(run), "--out", str(notes)]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "holds no nextword bundle" in error, error
    assert (notes / "thesis.md").read_text(encoding="utf-8") == "years of work"
    bundle_dir.mkdir()  # empty: replaced
    assert nextword(["export", str(run), "--out", str(bundle_dir)]) == 0
    assert nextword(["export", str(run), "--out", str(bundle_dir)]) == 0  # a bundle: replaced
    load_bundle(bundle_dir)
    assert nextword(["export", str(run), "--out", str(notes), "--force"]) == 0
    assert not (notes / "thesis.md").exists()
