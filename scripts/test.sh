#!/usr/bin/env bash
# Runs every check CI runs: ./scripts/test.sh [pytest arguments]
#
# Creates .venv with requirements-dev.txt, prepares the real components the tests
# use (tests/env/prepare.sh: Docker engine, nats-server, Centrifugo, the Pulumi CLI,
# local images), then lints, type-checks and runs pytest: unit, integration and
# end-to-end tiers. Any failure, or a missing prerequisite, exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt

bash tests/env/prepare.sh
# shellcheck source=/dev/null
source build/test-env.sh

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
.venv/bin/python -m pytest "$@"
