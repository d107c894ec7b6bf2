"""Write the tiny synthetic bundles the server tests use (tests/data/tiny_bundle*).

    python tests/make_tiny_bundle.py

A real bundle in the real format (bundle.py), small enough to commit: a GRU with random weights
built with onnx.helper, a vocabulary from the text below, random unit target vectors. The
completions it gives are meaningless but deterministic, which is what the plumbing and invariant
tests need. Needs onnx (the [train] extra); the tests only read the written files.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from nextword.server.model.bundle import quantize_rows, write_manifest
from nextword.server.model.vocab import Vocabulary
from nextword.server.text.tokenizer import (
    CONTINUE_SYMBOL,
    NUMBER_SYMBOL,
    PARAGRAPH_SYMBOL,
    TOKENIZER_VERSION,
    UNKNOWN_SYMBOL,
    tokenize,
)

TEXT = """
The President of the United States spoke to the government and the governor of the state.
Ladies and gentlemen, the people of London and Paris govern themselves. I think I know.
We hold these truths to be self-evident, that all men are created equal. It was the best of
times, it was the worst of times. Call me Ishmael. The house stood on a hill above the river,
and the children played there every day until the evening came. Government of the people, by
the people, for the people. She said that the weather would change soon, and then it did.
Émile went to the café. Straße. Don't stop; well-known words matter. Naïve résumé.
"""
INPUT_DIM, HIDDEN, OUTPUT_DIM, MAX_CONTEXT = 8, 12, 10, 8
PUNCTUATION = ".,;:!?'\"()-"


def vocabulary() -> Vocabulary:
    words: Counter[str] = Counter()
    display: dict[str, Counter[str]] = {}
    for token in tokenize(TEXT):
        if token.kind == "word":
            words[token.folded] += 1
            display.setdefault(token.folded, Counter())[token.text] += 1
    entries = {}
    for word, count in words.items():
        forms = display[word]
        lower = [form for form in forms if form == form.lower()]
        entries[word] = (lower[0] if lower else forms.most_common(1)[0][0], count)
    symbols = {symbol: 1 for symbol in PUNCTUATION}
    symbols.update({NUMBER_SYMBOL: 1, PARAGRAPH_SYMBOL: 5, CONTINUE_SYMBOL: 1, UNKNOWN_SYMBOL: 3})
    return Vocabulary.build(entries, symbols)


def predictor_graph(rng: np.random.Generator, output_dim: int) -> onnx.ModelProto:
    def weight(name: str, *shape: int) -> onnx.TensorProto:
        values = rng.normal(0, 0.6, size=shape).astype(np.float32)
        return numpy_helper.from_array(values, name)

    initializers = [
        weight("W", 1, 3 * HIDDEN, INPUT_DIM),
        weight("R", 1, 3 * HIDDEN, HIDDEN),
        weight("B", 1, 6 * HIDDEN),
        weight("head_w", HIDDEN, output_dim),
        weight("head_b", output_dim),
        numpy_helper.from_array(np.array([0], dtype=np.int64), "axis0"),
        numpy_helper.from_array(np.array([1, HIDDEN], dtype=np.int64), "flat"),
    ]
    nodes = [
        helper.make_node("Unsqueeze", ["input", "axis0"], ["x"]),
        helper.make_node("GRU", ["x", "W", "R", "B", "", "state"], ["", "h"], hidden_size=HIDDEN),
        helper.make_node("Identity", ["h"], ["state_out"]),
        helper.make_node("Reshape", ["h", "flat"], ["h2"]),
        helper.make_node("Gemm", ["h2", "head_w", "head_b"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_predictor",
        [
            helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, INPUT_DIM]),
            helper.make_tensor_value_info("state", TensorProto.FLOAT, [1, 1, HIDDEN]),
        ],
        [
            helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, output_dim]),
            helper.make_tensor_value_info("state_out", TensorProto.FLOAT, [1, 1, HIDDEN]),
        ],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def write_bundle(path: Path, softmax: bool, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    path.mkdir(parents=True, exist_ok=True)
    for child in path.iterdir():
        child.unlink()
    vocab = vocabulary()
    vocab.save(path / "vocab.tsv")
    size = len(vocab)
    np.save(path / "input_embeddings.npy", rng.normal(size=(size, INPUT_DIM)).astype(np.float16))
    output_dim = size if softmax else OUTPUT_DIM
    if not softmax:
        table = rng.normal(size=(size, OUTPUT_DIM)).astype(np.float32)
        table /= np.linalg.norm(table, axis=1, keepdims=True)
        quantized, scales = quantize_rows(table)
        np.save(path / "output_embeddings.npy", quantized)
        np.save(path / "output_scales.npy", scales)
    onnx.save(predictor_graph(rng, output_dim), str(path / "predictor.onnx"))
    manifest = {
        "tokenizer": {"version": TOKENIZER_VERSION, "max_context_tokens": MAX_CONTEXT},
        "vocab": {"size": size, "n_words": vocab.n_words},
        "network": {
            "cell": "gru",
            "layers": 1,
            "hidden_size": HIDDEN,
            "input_dim": INPUT_DIM,
            "output_dim": output_dim,
            "output": "softmax" if softmax else "continuous",
            "state_shape": [1, 1, HIDDEN],
        },
        "corpus": {"note": "synthetic test bundle, random weights (tests/make_tiny_bundle.py)"},
    }
    write_manifest(path, manifest)


def main() -> int:
    data = Path(__file__).resolve().parent / "data"
    write_bundle(data / "tiny_bundle", softmax=False)
    write_bundle(data / "tiny_softmax_bundle", softmax=True, seed=1)
    for name in ("tiny_bundle", "tiny_softmax_bundle"):
        manifest = json.loads((data / name / "manifest.json").read_text())
        total = sum(entry["bytes"] for entry in manifest["files"].values())
        print(f"{name}: {manifest['vocab']['n_words']} words, {total} bytes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    assert re.search(r"gover", TEXT)
    sys.exit(main())
