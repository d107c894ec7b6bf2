#!/usr/bin/env bash
# Installs the Presage word predictor (Debian), the peer the benchmarks compare nextword with.
# Idempotent; needs root or sudo for apt-get.
set -euo pipefail
if command -v presage_simulator >/dev/null && command -v text2ngram >/dev/null; then
  echo "presage: already installed"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
started=$SECONDS
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq presage libpresage-data >/dev/null
echo "presage: installed in $((SECONDS - started)) s"
