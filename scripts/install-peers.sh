#!/usr/bin/env bash
# Installs the Presage word predictor (Debian), the peer the benchmarks compare nextword with,
# and strace, which tests/test_no_network.py uses to prove the server opens no network socket.
# Idempotent; needs root or sudo for apt-get.
set -euo pipefail
if command -v presage_simulator >/dev/null && command -v text2ngram >/dev/null \
  && command -v strace >/dev/null; then
  echo "presage, strace: already installed"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
started=$SECONDS
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq presage libpresage-data strace >/dev/null
echo "presage, strace: installed in $((SECONDS - started)) s"
