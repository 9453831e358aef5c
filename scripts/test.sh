#!/usr/bin/env bash
# README command 2: set up, then run the whole test suite: the README's
# first command (scripts/demo.sh, end to end, into a fresh directory) and
# every Bazel test target. Prints a last line "N passed, N failed, N skipped"
# (test cases, from the JUnit XML of every target, plus one case for the
# demo and one for the linter, `ruff check .`). Where ../shared/tfds (or $PRIFA_TFDS_DIR) holds CIFAR-10, a data
# test that finds no data fails instead of skipping. Extra arguments go to
# `bazel test`, e.g.
#   bash scripts/test.sh --test_tag_filters=-slow
# PRIFA_SKIP_DEMO=1 leaves the demo out (a quicker local loop; CI never).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
export PATH="$PWD/.venv/bin:$PATH"
if [ -z "${PRIFA_TFDS_DIR:-}" ] && [ -d ../shared/tfds ]; then
  export PRIFA_TFDS_DIR="$(cd ../shared/tfds && pwd)"
fi
export PRIFA_TFDS_DIR="${PRIFA_TFDS_DIR:-}"
export PRIFA_REQUIRE_DATA=0
# Decoded CIFAR-10 splits, shared by the demo and every test process
# (prifa_tf/data/tfds_loader.py; keyed by the TFDS folder's files).
export PRIFA_DATA_CACHE="${PRIFA_DATA_CACHE:-$PWD/.cache/data}"
mkdir -p "$PRIFA_DATA_CACHE"
[ -n "$PRIFA_TFDS_DIR" ] && [ -d "$PRIFA_TFDS_DIR/cifar10" ] && PRIFA_REQUIRE_DATA=1

extra=()
if [ "${PRIFA_SKIP_DEMO:-0}" != 1 ]; then
  demo_dir="$(mktemp -d)"
  echo "[test] README command 1: bash scripts/demo.sh --out=$demo_dir/demo"
  start=$SECONDS
  bash scripts/demo.sh --out="$demo_dir/demo" > "$demo_dir/demo.log" 2>&1
  demo_status=$?
  echo "[test] demo exited $demo_status after $((SECONDS - start)) s; log: $demo_dir/demo.log"
  tail -n 25 "$demo_dir/demo.log"
  extra+=(--demo "$demo_dir/demo" --demo_status "$demo_status")
fi

echo "[test] ruff check . (the linter; pyproject.toml configures it)"
.venv/bin/ruff check .
extra+=(--lint_status $?)

config=()
# Debian's bazel-bootstrap cannot download rules_cc & co.: use its mock repos.
if [ -d /usr/src/bazel-bootstrap/mock_repos ]; then
  config=(--config=offline
    "--override_repository=remote_coverage_tools=$PWD/third_party/bazel_offline/remote_coverage_tools")
fi
bazel test "${config[@]}" --test_env=PRIFA_REQUIRE_DATA \
  --test_env=PRIFA_DATA_CACHE "--sandbox_writable_path=$PRIFA_DATA_CACHE" \
  //tests/... "$@"
status=$?
python3 scripts/summarize_tests.py "${extra[@]}" \
  "$(bazel info "${config[@]}" bazel-testlogs 2>/dev/null)" \
  $(bazel query "${config[@]}" 'tests(//tests/...)' 2>/dev/null)
summary=$?
# Bazel exits 3 when tests fail, 4 when none ran; anything else is an error.
if [ $status -ne 0 ]; then exit $status; fi
exit $summary
