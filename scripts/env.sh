# shellcheck shell=bash
# Source this file (`source scripts/env.sh`) to point the Pulumi CLI at this
# machine's local state: no Pulumi Cloud account is needed.
#
# State goes to $ZKM_STATE_DIR (default ~/.local/share/zk-messenger); secrets in it
# are encrypted with a passphrase generated once into $ZKM_STATE_DIR/passphrase
# (mode 0600). Keep that file: without it the stack's secrets cannot be read.
# Variables already set (PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE[_FILE]) win.

ZKM_STATE_DIR="${ZKM_STATE_DIR:-$HOME/.local/share/zk-messenger}"
mkdir -p "$ZKM_STATE_DIR/state"
if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
  if [ ! -s "$ZKM_STATE_DIR/passphrase" ]; then
    (umask 077 && python3 -c 'import secrets; print(secrets.token_urlsafe(32))' \
      >"$ZKM_STATE_DIR/passphrase")
  fi
  export PULUMI_CONFIG_PASSPHRASE_FILE="$ZKM_STATE_DIR/passphrase"
fi
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$ZKM_STATE_DIR/state}"
export PULUMI_SKIP_UPDATE_CHECK="${PULUMI_SKIP_UPDATE_CHECK:-true}"
