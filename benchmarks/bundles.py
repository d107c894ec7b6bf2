"""Bundles to compare: one taken out of git history, and what a results page says about each."""

from __future__ import annotations

import hashlib
import io
import logging
import subprocess
import tarfile
from pathlib import Path

from fetch import extract_tar

from nextword.server.model.bundle import BundleError, read_manifest

log = logging.getLogger("benchmarks.bundles")

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BUNDLE_PATH = "server/default_bundle"
PREVIOUS_DEFAULT_COMMIT = "86de6ae"
"""The last default bundle trained on the old corpus only (../shared/corpus)."""
PREVIOUS_NAME = "previous default (old corpus)"


def bundle_from_git(commit: str, cache: Path, repo: Path = REPO) -> Path:
    """The default bundle as committed at `commit`, extracted once into the cache."""
    full = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--verify", f"{commit}^{{commit}}"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    folder = cache / "bundles" / f"git-{full[:12]}"
    bundle = folder / DEFAULT_BUNDLE_PATH
    if (bundle / "manifest.json").is_file():
        return bundle
    log.info("extracting %s from commit %s into %s", DEFAULT_BUNDLE_PATH, full[:12], folder)
    archive = subprocess.run(
        ["git", "-C", str(repo), "archive", "--format=tar", full, DEFAULT_BUNDLE_PATH],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    partial = folder.with_name(folder.name + ".partial")
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        extract_tar(tar, partial)
    partial.rename(folder)
    return bundle


def same_bundle(first: Path, second: Path) -> bool:
    """Whether two bundles have the same manifest (which holds every other file's hash)."""

    def digest(bundle: Path) -> str:
        return hashlib.sha256((bundle / "manifest.json").read_bytes()).hexdigest()

    return digest(first) == digest(second)


def bundle_label(path: Path | None) -> dict:
    if path is None:
        return {}
    try:
        manifest = read_manifest(path)
    except BundleError as error:
        return {"path": str(path), "error": str(error)}
    network = manifest["network"]
    training = manifest.get("training", {})
    return {
        "path": str(path),
        "network": f"{network.get('cell', '?').upper()} {network.get('layers')}x"
        f"{network.get('hidden_size')}, {network.get('output', 'continuous')} output",
        "vocabulary": manifest["vocab"].get("n_words"),
        "train_seconds": training.get("train_seconds"),
        "tokens_seen": training.get("tokens_seen"),
        "bytes": sum(f.get("bytes", 0) for f in manifest["files"].values()),
        "dev": manifest.get("evaluation", {}).get("dev"),
    }
