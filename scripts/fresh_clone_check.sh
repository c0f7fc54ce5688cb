#!/usr/bin/env bash
# Fresh-clone check: clone this repository into a temporary directory and run the README's
# quick-start commands exactly as written (read from between the quickstart markers, so the
# README cannot drift from reality), each under a time limit.
#   scripts/fresh_clone_check.sh [--tests-only | --skip-tests] [--limit SECONDS]
# (.ci/run passes --skip-tests: it has just run the very same test command itself.)
# Uses the python on PATH (a virtual environment with lowformer-nas's dependencies, e.g. the
# one .ci/run builds); the clone is installed into it with `pip install --no-deps -e`.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
only_tests=0; skip_tests=0; limit=900
while [ $# -gt 0 ]; do
  case "$1" in
    --tests-only) only_tests=1 ;;
    --skip-tests) skip_tests=1 ;;
    --limit) limit="$2"; shift ;;
    *) echo "fresh_clone_check: unknown option $1 (allowed: --tests-only, --skip-tests, --limit SECONDS)" >&2; exit 2 ;;
  esac
  shift
done
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
git clone -q "$here" "$tmp/clone"
cd "$tmp/clone"
pip_quiet() { python -m pip install -q --no-deps -e . >"$tmp/pip.log" 2>&1 || { cat "$tmp/pip.log" >&2; exit 1; }; }
pip_quiet
mapfile -t cmds < <(sed -n '/<!-- quickstart:begin -->/,/<!-- quickstart:end -->/p' README.md \
  | grep -v -e '^<!--' -e '^```')
[ ${#cmds[@]} -eq 2 ] || { echo "fresh_clone_check: README must hold exactly two quick-start commands, found ${#cmds[@]}" >&2; exit 1; }
for cmd in "${cmds[@]}"; do
  if [ $only_tests -eq 1 ] && [[ "$cmd" != *pytest* ]]; then echo "skip: $cmd"; continue; fi
  if [ $skip_tests -eq 1 ] && [[ "$cmd" == *pytest* ]]; then echo "skip: $cmd"; continue; fi
  echo "run (limit ${limit}s): $cmd"
  start=$(date +%s)
  timeout "$limit" bash -c "$cmd"
  echo "ok in $(( $(date +%s) - start ))s: $cmd"
done
# re-point the environment at the original checkout
cd "$here" && pip_quiet
