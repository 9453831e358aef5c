#!/usr/bin/env bash
# README command 2: set up, then run the whole test suite under Bazel.
# Prints a last line "N passed, N failed" (test cases, from the JUnit XML of
# every target). Extra arguments go to `bazel test`, e.g.
#   bash scripts/test.sh --test_tag_filters=-slow
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
export PATH="$PWD/.venv/bin:$PATH"
if [ -z "${PRIFA_TFDS_DIR:-}" ] && [ -d ../shared/tfds ]; then
  export PRIFA_TFDS_DIR="$(cd ../shared/tfds && pwd)"
fi
export PRIFA_TFDS_DIR="${PRIFA_TFDS_DIR:-}"
config=()
# Debian's bazel-bootstrap cannot download rules_cc & co.: use its mock repos.
if [ -d /usr/src/bazel-bootstrap/mock_repos ]; then
  config=(--config=offline
    "--override_repository=remote_coverage_tools=$PWD/third_party/bazel_offline/remote_coverage_tools")
fi
bazel test "${config[@]}" //tests/... "$@"
status=$?
python3 scripts/summarize_tests.py "$(bazel info "${config[@]}" bazel-testlogs 2>/dev/null)" \
  $(bazel query "${config[@]}" 'tests(//tests/...)' 2>/dev/null)
summary=$?
# Bazel exits 3 when tests fail, 4 when none ran; anything else is an error.
if [ $status -ne 0 ]; then exit $status; fi
exit $summary
