#!/usr/bin/env bash
# README command 1: set up, then run the built-in CPU demo into runs/demo: a
# private (DP-SAT) and a non-private (SAM) WRN with every generalization
# technique on a CIFAR-10S subset, each attacked and scored, ending in a
# table (runs/demo/demo.md) and a figure (runs/demo/demo.png). About ten
# minutes on 2 cores. Re-running resumes. Extra flags pass through, e.g.
#   bash scripts/demo.sh --seeds=3
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python experiments/demo.py --out=runs/demo --scale=smoke "$@"
