#!/usr/bin/env bash
# What recording a trace costs, and what reading one back costs: runs the
# exit-heavy pio-loop guest (N port writes) traced as usual (-q, the
# baseline) and traced while recording (-q -o FILE), interleaved round-robin,
# and reports medians of the guest's run time (kvmscope's own "exits in X ms"
# line), the process's peak RSS, and the trace's size and event count. Then
# times `kvmscope stats` (load + stats) and `kvmscope export --chrome` on the
# recorded file, with their peak RSS: a loaded trace should cost about its
# events (88 bytes each), not the file twice over.
#
# Usage: scripts/bench_traces.sh [--build DIR] [--n N] [--rounds R]
#   (BUILD_DIR, N, ROUNDS from the environment too; defaults ./build, 200000,
#   3). Needs root (BPF) and /dev/kvm, and /usr/bin/time.
set -euo pipefail

BUILD_DIR=${BUILD_DIR:-./build}
N=${N:-200000}
ROUNDS=${ROUNDS:-3}
while (($#)); do
  case $1 in
    --build) BUILD_DIR=$2; shift 2 ;;
    --n) N=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench_traces.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
KVMSCOPE=$BUILD_DIR/app/kvmscope
[[ -x $KVMSCOPE ]] || { echo "bench_traces.sh: no $KVMSCOPE (build first, or --build DIR)" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "bench_traces.sh: needs /usr/bin/time (apt-get install time)" >&2; exit 3; }
[[ $(id -u) == 0 ]] || { echo "bench_traces.sh: needs root (kernel tracing)" >&2; exit 3; }

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# One measured command: "<run ms or -> <peak KiB> <wall s>".
measure() {
  local out
  out=$(/usr/bin/time -f 'TIME %M %e' "$@" 2>&1)
  local ms kib wall
  ms=$(grep -oP 'exits in \K[0-9.]+' <<<"$out" || echo -)
  read -r kib wall < <(grep -oP '^TIME \K.*' <<<"$out")
  echo "$ms $kib $wall"
}

declare -A RUN_MS RSS
for ((r = 0; r < ROUNDS; r++)); do
  for cfg in baseline recording; do
    opts=(run --guest pio-loop --param "$N" -q)
    [[ $cfg == recording ]] && opts+=(-o "$TMP/trace.json")
    read -r ms kib _ < <(measure "$KVMSCOPE" "${opts[@]}")
    RUN_MS[$cfg]+="$ms "; RSS[$cfg]+="$kib "
    echo "round $((r + 1))/$ROUNDS $cfg: $ms ms, peak $((kib / 1024)) MiB" >&2
  done
done

events=$(grep -o '"event_count":[0-9]*' "$TMP/trace.json" | cut -d: -f2 | awk '{s+=$1} END {print s}')
size=$(du -m "$TMP/trace.json" | cut -f1)
printf '\npio-loop N=%s, %s rounds, medians\n' "$N" "$ROUNDS"
printf '%-22s %12s %12s\n' configuration "run ms" "peak MiB"
for cfg in baseline recording; do
  ms=$(tr ' ' '\n' <<<"${RUN_MS[$cfg]}" | grep . | median)
  kib=$(tr ' ' '\n' <<<"${RSS[$cfg]}" | grep . | median)
  printf '%-22s %12s %12s\n' "$cfg" "$ms" "$((${kib%.*} / 1024))"
done
printf '\ntrace: %s events, %s MiB on disk (%s MiB of 88-byte records in memory)\n' \
  "$events" "$size" "$((events * 88 / 1048576))"
read -r _ kib wall < <(measure "$KVMSCOPE" stats "$TMP/trace.json")
printf '%-22s %10s s %8s MiB peak\n' "load + stats" "$wall" "$((kib / 1024))"
read -r _ kib wall < <(measure "$KVMSCOPE" export "$TMP/trace.json" --chrome "$TMP/chrome.json")
printf '%-22s %10s s %8s MiB peak (%s MiB written)\n' "load + Chrome export" "$wall" \
  "$((kib / 1024))" "$(du -m "$TMP/chrome.json" | cut -f1)"
