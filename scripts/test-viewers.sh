#!/usr/bin/env bash
# kvmscope's Chrome export in the viewers people open it with, installed
# from the npm registry into BUILD/viewers (tests/viewers/package-lock.json
# pins them) and Debian's Chromium:
#   - Chrome DevTools' trace engine (@paulirish/trace_engine, in Node): every
#     span and instant kvmscope wrote is kept, on its thread, under its name,
#     with no unmatched B/E, and the time range is the trace's own
#     CLOCK_MONOTONIC range (not 0);
#   - speedscope, its built page in headless Chromium (playwright-core): the
#     .trace.json imports with no error, the .gz too; a name ending in
#     .chrome.json is what speedscope takes for a DevTools CPU profile, and
#     fails, which is why kvmscope names its files .trace.json.
# Perfetto's UI cannot be installed here; its format rules are the same
# (traces_json_test checks nesting and order).
# Usage: scripts/test-viewers.sh BUILD_DIR [SCREENSHOT.png]. Exit 77: a tool
# is missing (said which).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=$(cd "${1:?usage: test-viewers.sh BUILD_DIR [SCREENSHOT.png]}" && pwd)
SHOT=${2:-}
KVMSCOPE=$BUILD/app/kvmscope
for tool in node npm /usr/bin/chromium; do
  command -v "$tool" >/dev/null || { echo "test-viewers: skipped: no $tool (scripts/setup.sh installs nodejs, npm and chromium)"; exit 77; }
done
[[ -x $KVMSCOPE ]] || { echo "test-viewers: $KVMSCOPE is not built" >&2; exit 2; }

VIEWERS=$BUILD/viewers
mkdir -p "$VIEWERS"
cp tests/viewers/package.json tests/viewers/package-lock.json tests/viewers/*.mjs "$VIEWERS/"
if ! (cd "$VIEWERS" && npm ci --no-audit --no-fund --loglevel=error >npm.log 2>&1); then
  echo "test-viewers: npm ci failed (is the npm registry reachable?):" >&2
  cat "$VIEWERS/npm.log" >&2
  exit 1
fi

WORK=$(mktemp -d /tmp/kvmscope-viewers.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
fail=0
check() {  # check WHAT CONDITION...
  local what=$1; shift
  if "$@"; then echo "  ok: $what"; else echo "  FAILED: $what"; fail=1; fi
}
for trace in tests/data/pagefault-pvm.json tests/data/exceptions-svm.json tests/data/pagefault-vmx.json; do
  name=$(basename "$trace" .json)
  echo "$name"
  out=$("$KVMSCOPE" export "$trace" --chrome "$WORK/$name.trace.json")
  # "wrote Chrome trace (...): PATH (N trace events: I instants, S spans, M names, SIZE)"
  read -r instants spans < <(sed -nE 's/.* trace events: ([0-9]+) instants, ([0-9]+) spans, .*/\1 \2/p' <<<"$out")
  [[ -n ${instants:-} ]] || { echo "test-viewers: export said: $out" >&2; exit 1; }
  "$KVMSCOPE" export "$trace" --chrome "$WORK/$name.trace.json.gz" >/dev/null

  engine=$(cd "$VIEWERS" && node trace_engine_check.mjs "$WORK/$name.trace.json")
  kept=$(jq '[.threads[].entries] | add' <<<"$engine")
  check "trace engine keeps every span and instant ($kept of $((instants + spans)))" \
    test "$kept" -eq $((instants + spans))
  check "trace engine matched every B/E pair ($(jq -r '.first_complaint // "no complaint"' <<<"$engine"))" \
    test "$(jq .complaints <<<"$engine")" -eq 0
  check "every thread named: $(jq -c '[.threads[].name]' <<<"$engine")" \
    test "$(jq '[.threads[] | select(.name == null)] | length' <<<"$engine")" -eq 0
  check "time range is the trace's CLOCK_MONOTONIC one (from $(jq .min_us <<<"$engine") µs)" \
    test "$(jq '.min_us > 1000' <<<"$engine")" = true
  gz=$(cd "$VIEWERS" && node trace_engine_check.mjs "$WORK/$name.trace.json.gz")
  check "the .gz parses the same" test "$(jq -c .threads <<<"$gz")" = "$(jq -c .threads <<<"$engine")"

  shot=
  [[ -n $SHOT && $name == exceptions-svm ]] && shot=$SHOT
  speed=$(cd "$VIEWERS" && node speedscope_check.mjs "$WORK/$name.trace.json" $shot)
  check "speedscope imports it: $(jq -r '.title' <<<"$speed") $(jq -c '.errors' <<<"$speed")" \
    test "$(jq .imported <<<"$speed")" = true
done
# The name matters: the same file as *.chrome.json is refused by speedscope.
cp "$WORK/pagefault-pvm.trace.json" "$WORK/pagefault-pvm.chrome.json"
speed=$(cd "$VIEWERS" && node speedscope_check.mjs "$WORK/pagefault-pvm.chrome.json")
check "speedscope refuses the name *.chrome.json (why kvmscope writes .trace.json)" \
  test "$(jq .imported <<<"$speed")" = false
exit $fail
