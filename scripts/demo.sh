#!/usr/bin/env bash
# README command 1: set up, then run the built-in CPU demo into runs/demo: a
# private (DP-SAT) and a non-private (SAM) WRN with every generalization
# technique on a 10,000-image CIFAR-10S subset (the `demo` scale), each
# attacked (the pooled backend, at most 5,000 members) and scored, ending in
# a table (runs/demo/demo.md) and a figure (runs/demo/demo.png). About ten
# minutes on 2 cores (docs/experiments/demo.md). Re-running resumes. Extra
# flags pass through, e.g.
#   bash scripts/demo.sh --seeds=3
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python experiments/demo.py --out=runs/demo --scale=demo \
    --backend=pooled --max_examples=5000 "$@"
