"""`nextword info`: where the bundle is, what is in its manifest, and whether its files verify."""

from __future__ import annotations

import argparse
import json
import sys

from nextword.server.model.bundle import BundleError, load_bundle


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="nextword info", description=__doc__)
    parser.add_argument("--bundle", help="bundle directory (default: the bundled default model)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    try:
        bundle = load_bundle(args.bundle)
    except BundleError as error:
        print(f"nextword info: {error}", file=sys.stderr)
        return 1
    manifest = bundle.manifest
    if args.json:
        summary = {
            "path": str(bundle.path),
            "verified": True,
            "total_bytes": sum(bundle.sizes.values()),
            "manifest": manifest,
        }
        print(json.dumps(summary, indent=2, ensure_ascii=False))
        return 0
    network = manifest["network"]
    print(f"bundle      {bundle.path}")
    print(f"format      {manifest['format']} v{manifest['format_version']} (all files verified)")
    print(
        f"network     {network.get('cell', '?').upper()} {network.get('layers')}x"
        f"{network.get('hidden_size')}, input {network.get('input_dim')}, "
        f"{network.get('output', 'continuous')} output {network.get('output_dim')}"
        + (" with a learned word bias" if network.get("word_bias") else "")
    )
    print(f"vocabulary  {manifest['vocab']['size']} entries, {manifest['vocab']['n_words']} words")
    print(
        f"context     resets at paragraphs and every "
        f"{manifest['tokenizer']['max_context_tokens']} tokens"
    )
    for key in ("targets", "corpus", "training", "evaluation", "ngrams"):
        if key in manifest:
            print(f"{key:<11} {json.dumps(manifest[key], ensure_ascii=False)}")
    print("files")
    for name, size in bundle.sizes.items():
        print(
            f"  {name:<24} {size / 1e6:8.2f} MB  sha256 {manifest['files'][name]['sha256'][:16]}…"
        )
    print(f"  {'total':<24} {sum(bundle.sizes.values()) / 1e6:8.2f} MB")
    return 0
