#!/usr/bin/env bash
# README command 1: set up, then train the built-in CPU demo (a small WRN on a
# CIFAR-10 subset, a few minutes) into runs/demo. Extra flags pass through,
# e.g.  bash scripts/demo.sh --preset=smoke_dpsat
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec .venv/bin/python experiments/train.py --preset=smoke --workdir=runs/demo "$@"
