#!/usr/bin/env bash
# First contact, checked: clone the committed HEAD into an empty temporary directory (no
# shared/ or anything else beside it), then do what the README's first lines tell a newcomer.
#
#   1. `make demo` non-interactively (stdin closed, no terminal): it must exit 0 and its
#      output must show the demo's own test runs with real counts ("test run 1: N passed,
#      M failed, ...", N + M > 0), not a tool error.
#   2. the tests that use evaluation data, from the clone: they must pass with no skips
#      (the data are fixtures inside the repository; tests/conftest.py refuses any read of
#      ../shared while the suite runs).
#   3. with --full, the whole `make test` in the clone as well (what a stranger runs second;
#      CI already runs `make test` on its own clean clone, so it does not pass --full).
#
# pip's wheel cache is shared with the machine, so the clone's `make` installs in about a
# minute once llama-cpp-python has been built anywhere on it.
# usage: scripts/fresh_clone_check.sh [--full] [--keep]     (from anywhere in the repository)
set -uo pipefail
full=0 keep=0
for arg in "$@"; do
    case "$arg" in
        --full) full=1 ;;
        --keep) keep=1 ;;
        *) echo "usage: $0 [--full] [--keep]" >&2; exit 2 ;;
    esac
done
top=$(git rev-parse --show-toplevel) || exit 2
dest=$(mktemp -d "${TMPDIR:-/tmp}/bicameral-fresh-clone.XXXXXX")
[ $keep = 1 ] || trap 'rm -rf "$dest"' EXIT
git clone -q "$top" "$dest/repo" || exit 2
cd "$dest/repo" || exit 2
failed=0
say() { printf 'fresh-clone: %s\n' "$*"; }
bad() { say "FAIL: $*"; failed=1; }

start=$(date +%s)
make demo </dev/null >"$dest/demo.log" 2>&1; rc=$?
say "make demo: exit $rc after $(( $(date +%s) - start )) s"
tail -12 "$dest/demo.log" | sed 's/^/  | /'
[ $rc = 0 ] || bad "make demo exited $rc (log: $dest/demo.log)"
runs=$(grep -E '^test run [0-9]+: [0-9]+ passed, [0-9]+ failed' "$dest/demo.log")
if [ -z "$runs" ]; then
    bad "the demo printed no test run with counts"
elif ! grep -qE ': ([1-9][0-9]* passed|[0-9]+ passed, [1-9][0-9]* failed)' <<<"$runs"; then
    bad "the demo's tests never ran (every run counted 0 passed and 0 failed): $runs"
fi

start=$(date +%s)
data_tests=(tests/unit/test_eval_datasets.py tests/unit/test_code_judge.py
    tests/unit/test_math_judge.py tests/unit/test_repository_guards.py)
make .venv/.stamp-dev+local+eval </dev/null >"$dest/pip.log" 2>&1 \
    || bad "installing the dev and eval extras failed (log: $dest/pip.log)"
.venv/bin/python -m pytest -q -rs -p no:cacheprovider "${data_tests[@]}" </dev/null \
    >"$dest/data-tests.log" 2>&1; rc=$?
say "tests using evaluation data: exit $rc after $(( $(date +%s) - start )) s"
tail -3 "$dest/data-tests.log" | sed 's/^/  | /'
[ $rc = 0 ] || bad "the tests using evaluation data failed (log: $dest/data-tests.log)"
grep -q '^SKIPPED' "$dest/data-tests.log" && bad "tests skipped in a fresh clone"

if [ $full = 1 ]; then
    start=$(date +%s)
    CI=true make test </dev/null >"$dest/test.log" 2>&1; rc=$?
    say "make test: exit $rc after $(( $(date +%s) - start )) s"
    tail -3 "$dest/test.log" | sed 's/^/  | /'
    [ $rc = 0 ] || bad "make test failed (log: $dest/test.log)"
    grep -qiE '^SKIPPED.*(not found|no such file|needs \.\./|shared)' "$dest/test.log" \
        && bad "tests skipped for missing files"
fi
if [ $failed = 0 ]; then say "ok"; else [ $keep = 1 ] || trap - EXIT; say "clone kept in $dest"; fi
exit $failed
