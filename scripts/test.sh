#!/usr/bin/env bash
# Installs everything the tests need, then runs the whole test suite.
#
#   bash scripts/test.sh [pytest args...]
#
# Python packages go into ./.venv (or the virtualenv already active): torch 2.13.0 CPU first, so
# nothing pulls a CUDA build, then nextword with its [train,test] extras. Editor toolchains
# (Neovim from PyPI, node 24, code-server, Chromium) and the Presage peer are installed by
# scripts/install-editors.sh and scripts/install-peers.sh into .ci/cache (reused on later runs).
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

if [ -z "${VIRTUAL_ENV:-}" ]; then
  [ -x .venv/bin/python ] || python3 -m venv .venv
  # shellcheck disable=SC1091
  source .venv/bin/activate
fi
echo "== python packages ($(python --version))"
python -m pip install -q --upgrade pip
python -m pip install -q torch==2.13.0
python -m pip install -q -e '.[train,test]'

echo "== editors and peers"
bash scripts/install-editors.sh
bash scripts/install-peers.sh
echo "== installs took $((SECONDS - started)) s"

echo "== ruff"
ruff check .
ruff format --check .

echo "== pytest"
set +e
python -m pytest -ra "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure" >&2
  exit 1
fi
echo "== scripts/test.sh finished in $((SECONDS - started)) s with pytest status $status"
exit "$status"
