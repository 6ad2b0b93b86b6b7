#!/usr/bin/env bash
# Sets everything up and deploys one stack: ./scripts/up.sh [STACK] [pulumi up flags]
#
# Creates .venv with requirements.txt, points Pulumi at local state (scripts/env.sh),
# selects or creates the stack (default: dev) and runs `pulumi up --refresh`, which
# first reads what really runs (a container or stream removed by hand is put back),
# then shows the preview and asks before changing anything (--yes skips the question).
set -euo pipefail
cd "$(dirname "$0")/.."

stack=dev
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
  stack="$1"
  shift
fi

fail() { echo "up.sh: $*" >&2; exit 1; }
command -v pulumi >/dev/null || fail "the Pulumi CLI is not on PATH; install it first (see README, Prerequisites)."
command -v docker >/dev/null || fail "the docker CLI is not on PATH; install Docker first."
docker info >/dev/null 2>&1 || fail "'docker info' fails: start the Docker engine (e.g. 'sudo systemctl start docker'), or give your user access to it."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt

# shellcheck source=scripts/env.sh
source scripts/env.sh
pulumi stack select --create "$stack"
pulumi up --refresh "$@"
