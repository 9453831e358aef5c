#!/usr/bin/env bash
# Sets up everything prifa_tf needs on a fresh Debian machine (idempotent):
# Bazel from Debian (bazel-bootstrap + the offline mock repos in
# bazel-bootstrap-source), a Python 3.11 virtualenv in .venv with the pinned
# requirements, and prifa_tf installed into it (editable, with its prifa-*
# commands).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v bazel >/dev/null 2>&1 || need_apt+=(bazel-bootstrap)
[ -d /usr/src/bazel-bootstrap/mock_repos ] || need_apt+=(bazel-bootstrap-source)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "[setup] installing ${need_apt[*]} from Debian"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)'; then
  if command -v python3.11 >/dev/null 2>&1; then PYTHON=python3.11; else
    echo "[setup] ERROR: prifa_tf needs Python 3.11 (TensorFlow 2.15); found $("$PYTHON" --version 2>&1). Set PYTHON=/path/to/python3.11." >&2
    exit 1
  fi
fi

did=0  # Whether this call installed anything (else it prints nothing).
stamp=.venv/.prifa_requirements
want="$(cat requirements.txt requirements-nodeps.txt | sha256sum | cut -d' ' -f1)"
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  did=1
  echo "[setup] creating .venv and installing requirements (several minutes the first time)"
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -r requirements.txt
  .venv/bin/python -m pip install -q --no-deps -r requirements-nodeps.txt
  rm -f "$stamp.installed"
  echo "$want" > "$stamp"
fi
# prifa_tf itself, editable (this checkout), with the prifa-* commands.
# Done per checkout: a .venv copied or linked from elsewhere still points
# its install at the checkout that made it.
installed="$(pwd -P) $want $(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ "$(cat "$stamp.installed" 2>/dev/null)" != "$installed" ]; then
  if ! out="$(.venv/bin/python -m pip install --no-deps --no-build-isolation -e . 2>&1)"; then
    echo "$out" >&2
    echo "[setup] ERROR: installing prifa_tf into .venv failed (above)." >&2
    exit 1
  fi
  echo "$installed" > "$stamp.installed"
  did=1
fi
if [ "$did" = 1 ] || [ ${#need_apt[@]} -gt 0 ]; then
  echo "[setup] ready: $(.venv/bin/python --version), $(bazel --version 2>/dev/null | head -1)"
fi
