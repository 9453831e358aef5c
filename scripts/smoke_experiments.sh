#!/usr/bin/env bash
# Runs every paper experiment and the CIFAR-10 companion studies (past, fnr)
# at smoke scale on CPU into sweeps/smoke/<name>
# (real CIFAR-10 from $PRIFA_TFDS_DIR or ../shared/tfds). Each binary is
# resumable: re-running skips finished runs. Pass experiment names to run a
# subset, e.g.  bash scripts/smoke_experiments.sh ablation onion
# PRIFA_SCALE (default smoke) and PRIFA_FLAGS (extra flags for every binary)
# change the scale, e.g. PRIFA_SCALE=tiny PRIFA_FLAGS=--attacks=threshold.
# CelebA needs the celeb_a TFDS data; without it, its smoke run is the Bazel
# test //tests/paper:experiments_test (TFDS mock data); the imbalance study
# (also CelebA) runs on mock data in benchmarks/imbalance_smoke_mock.py.
set -uo pipefail
cd "$(dirname "$0")/.."
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  names=(demo ablation individual dpsgd_vs_dpsat budget_bias memorization onion
         past fnr)
fi
status=0
for name in "${names[@]}"; do
  echo "=== $name ($(date -u +%H:%M:%S))"
  start=$SECONDS
  # shellcheck disable=SC2086  # PRIFA_FLAGS is a list of flags.
  .venv/bin/python "experiments/$name.py" --out="sweeps/smoke/$name" \
      --scale="${PRIFA_SCALE:-smoke}" ${PRIFA_FLAGS:-} || status=1
  echo "=== $name took $((SECONDS - start)) s"
done
exit $status
