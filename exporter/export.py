"""`nextword export CHECKPOINT --out BUNDLE`: write the model bundle the server loads.

The network is rebuilt from the checkpoint alone. Its single recurrent step is exported to ONNX,
then replayed with onnxruntime against PyTorch over held-out text, one token at a time from the
carried state, resetting where the server's context resets; the bundle is written only if every
output and state agrees within the tolerance. The bundle is assembled in a temporary directory
and renamed into place, so a failed export never leaves a half-written bundle.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nextword.exporter.checkpoint import Checkpoint, CheckpointError, load_checkpoint
from nextword.exporter.model import OneStep, Predictor
from nextword.server.model.bundle import (
    FORMAT_NAME,
    INPUT_EMBEDDINGS,
    MANIFEST,
    OUTPUT_BIAS,
    OUTPUT_EMBEDDINGS,
    OUTPUT_SCALES,
    PREDICTOR,
    VOCAB,
    BundleError,
    install_directory,
    load_bundle,
    quantize_rows,
    write_manifest,
)
from nextword.server.text.tokenizer import (
    CONTINUE_SYMBOL,
    PARAGRAPH_SYMBOL,
    TOKENIZER_VERSION,
)
from nextword.server.text.window import window_start

DEFAULT_TOLERANCE = 1e-4
OPSET = 17


class ParityError(Exception):
    pass


class OutputDirError(Exception):
    """`--out` names something export must not replace; the message is one line."""


def holds_bundle(folder: Path) -> bool:
    """Whether `folder` holds a nextword bundle (its manifest says so), of any format version."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return False
    return isinstance(manifest, dict) and manifest.get("format") == FORMAT_NAME


def check_replaceable(out: Path, force: bool) -> None:
    """Refuse to replace `out` unless it is absent, an empty folder or a bundle (or `force`)."""
    if force or not (out.exists() or out.is_symlink()):
        return
    if out.is_symlink() or not out.is_dir():
        raise OutputDirError(f"{out} exists and is not a folder; not replacing it (--force to)")
    if any(out.iterdir()) and not holds_bundle(out):
        raise OutputDirError(
            f"{out} is not empty and holds no nextword bundle; not replacing it (--force to)"
        )


def export_onnx(model: Predictor, path: Path) -> None:
    """One recurrent step with fixed shapes (batch 1), weights inside the file."""
    config = model.config
    step = OneStep(model).eval()
    vector = torch.zeros(1, config.input_dim)
    state = model.initial_state(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            step,
            (vector, state),
            str(path),
            input_names=["input", "state"],
            output_names=["output", "state_out"],
            opset_version=OPSET,
            dynamo=False,
        )


def replay_symbols(paragraph: list[int], max_tokens: int, paragraph_id: int, continue_id: int):
    """The ids the server feeds for a paragraph, with a reset flag where its context restarts
    (the context-window rule, `window_start`)."""
    for position in range(len(paragraph)):
        start = window_start(position, max_tokens)
        if start == position:
            yield True, paragraph_id if start == 0 else continue_id
        yield False, paragraph[position]


def check_parity(
    model: Predictor,
    onnx_path: Path,
    input_table: np.ndarray,
    sample: list[list[int]],
    max_tokens: int,
    paragraph_id: int,
    continue_id: int,
) -> tuple[float, int]:
    """Max |onnx - torch| over outputs and states, one token at a time; and steps compared.

    The ONNX side reads the same float16-rounded input vectors the server will read.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    step = OneStep(model).eval()
    worst, steps = 0.0, 0
    for paragraph in sample:
        torch_state = model.initial_state(1)
        onnx_state = torch_state.numpy()
        for reset, token in replay_symbols(paragraph, max_tokens, paragraph_id, continue_id):
            if reset:
                torch_state = model.initial_state(1)
                onnx_state = torch_state.numpy()
            vector = input_table[token : token + 1]
            with torch.no_grad():
                torch_out, torch_state = step(torch.from_numpy(vector), torch_state)
            onnx_out, onnx_state = session.run(None, {"input": vector, "state": onnx_state})
            worst = max(
                worst,
                float(np.abs(onnx_out - torch_out.numpy()).max()),
                float(np.abs(onnx_state - torch_state.numpy()).max()),
            )
            steps += 1
    return worst, steps


def manifest_for(checkpoint: Checkpoint, parity: float, steps: int, tolerance: float) -> dict:
    config, args, vocab = checkpoint.config, checkpoint.args, checkpoint.vocab
    training_keys = (
        "epochs", "max_steps", "time_budget", "batch_size", "lr", "warmup", "clip", "seed",
        "world_size", "dropout", "vocab_size", "min_count", "dev_tokens", "dev_every",
        "paragraphs", "threads",
    )  # fmt: skip
    training: dict[str, Any] = {key: args.get(key) for key in training_keys}
    progress = checkpoint.progress
    training.update(
        steps=progress.step,
        epoch=progress.epoch,
        tokens_seen=progress.tokens,
        train_seconds=round(progress.train_seconds, 1),
        finished=progress.done,
        command=args.get("command", ""),
    )
    return {
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "tokenizer": {
            "version": TOKENIZER_VERSION,
            "max_context_tokens": int(args["max_context_tokens"]),
            "context_policy": "resets at paragraphs (<p>) and every max_context_tokens (<cont>)",
        },
        "vocab": {"size": len(vocab), "n_words": vocab.n_words},
        "network": {
            "cell": config.cell,
            "layers": config.layers,
            "hidden_size": config.hidden_size,
            "input_dim": config.input_dim,
            "output_dim": config.output_dim if config.output == "continuous" else len(vocab),
            "state_shape": [config.layers, 1, config.state_size],
            "output": config.output,
            "word_bias": config.output == "continuous" and config.word_bias,
        },
        "targets": checkpoint.targets_info,
        "loss": {
            "name": args.get("loss") if config.output == "continuous" else "cross-entropy",
            "vmf_lambda1": args.get("vmf_lambda1"),
            "vmf_lambda2": args.get("vmf_lambda2"),
            "negatives": args.get("negatives", 0),
        },
        "corpus": checkpoint.corpus,
        "training": training,
        "evaluation": {
            "dev": checkpoint.dev,
            "history": [
                {
                    key: entry[key]
                    for key in ("step", "train_tokens", "top1", "top6", "ksr6")
                    if key in entry
                }
                for entry in checkpoint.history
            ],
            "decoding": (
                "best output.e_w + b_w in the prefix's id range (no prior, no cache)"
                if config.word_bias
                else "nearest target row in the prefix's id range (no prior, no cache)"
            ),
        },
        "export": {
            "parity_max_abs_diff": parity,
            "parity_tolerance": tolerance,
            "parity_steps": steps,
            "onnx_opset": OPSET,
        },
    }


def write_bundle(checkpoint: Checkpoint, out: Path, tolerance: float, force: bool = False) -> dict:
    model = checkpoint.predictor()
    vocab = checkpoint.vocab
    out = out.expanduser().absolute()
    check_replaceable(out, force)
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        inputs16 = model.embed.weight.detach().numpy().astype(np.float16)
        np.save(staging / INPUT_EMBEDDINGS, inputs16)
        if checkpoint.config.output == "continuous":
            quantized, scales = quantize_rows(checkpoint.targets.numpy())
            np.save(staging / OUTPUT_EMBEDDINGS, quantized)
            np.save(staging / OUTPUT_SCALES, scales)
            if checkpoint.config.word_bias:
                np.save(staging / OUTPUT_BIAS, model.word_bias.detach().numpy().astype(np.float32))
        vocab.save(staging / VOCAB)
        export_onnx(model, staging / PREDICTOR)
        max_tokens = int(checkpoint.args["max_context_tokens"])
        sample = checkpoint.parity_sample or [[vocab.unknown_id] * 8]
        parity, steps = check_parity(
            model, staging / PREDICTOR, inputs16.astype(np.float32), sample, max_tokens,
            vocab.index[PARAGRAPH_SYMBOL], vocab.index[CONTINUE_SYMBOL],
        )  # fmt: skip
        if not parity <= tolerance:
            raise ParityError(
                f"ONNX and PyTorch differ by {parity:.3g} (> tolerance {tolerance:g}) over "
                f"{steps} steps; bundle not written"
            )
        manifest = manifest_for(checkpoint, parity, steps, tolerance)
        write_manifest(staging, manifest)
        load_bundle(staging)  # the server's own reader must accept it
        staging.chmod(0o755)
        check_replaceable(out, force)  # it may have changed during the export
        install_directory(staging, out)
        return manifest
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nextword export", description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", help="checkpoint.pt, or the run directory holding it")
    parser.add_argument("--out", required=True, help="bundle directory to write")
    parser.add_argument(
        "--tolerance", type=float, default=DEFAULT_TOLERANCE,
        help=f"max abs ONNX-vs-PyTorch difference accepted (default {DEFAULT_TOLERANCE:g})",
    )  # fmt: skip
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace --out even when it is not empty and holds no bundle",
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        checkpoint = load_checkpoint(args.checkpoint)
        manifest = write_bundle(checkpoint, Path(args.out), args.tolerance, args.force)
    except (CheckpointError, ParityError, BundleError, OutputDirError, OSError) as error:
        print(f"nextword export: {error}", file=sys.stderr)
        return 1
    figures = manifest["evaluation"]["dev"]
    print(
        f"wrote {args.out}: parity max diff {manifest['export']['parity_max_abs_diff']:.2g} over "
        f"{manifest['export']['parity_steps']} steps; dev top-1 {figures.get('top1', 0):.2%}, "
        f"top-6 {figures.get('top6', 0):.2%}, KSR@6 {figures.get('ksr6', 0):.2%}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
