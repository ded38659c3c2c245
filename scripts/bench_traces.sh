#!/usr/bin/env bash
# What recording a trace costs, and what reading and writing one costs, for
# this build and a baseline build side by side in one run (--baseline REV, by
# default main before issue 16: today's figures next to the baseline's).
#
# Recording: the exit-heavy pio-loop guest (N port writes) traced as usual
# (-q) and traced while recording (-q -o FILE), by both builds, interleaved
# round-robin: medians of the guest's run time (kvmscope's own "exits in X
# ms" line) and of the process's peak RSS, beside the trace's events and the
# bytes they take in memory: what recording adds to the peak (recorded minus
# traced, the same run without -o, which keeps no events) over the stored
# events' bytes; the target is <= 1.2.
#
# Files: build/tests/trace_bench (tests/trace_bench.cpp; the baseline's is the
# same source built against the baseline's library) on the trace this build
# recorded: load (parse + spans; events/s, MB/s), `stats` after load, native
# save (MB/s written), Chrome export (MB/s written), bytes per stored event,
# and a live trace fed 1M events of a vCPU that stays in KVM_RUN, read back
# every 4,096 (events/s: what a window's store keeps up with).
# Each binary runs ROUNDS times in-process, alternating; medians.
#
# Timeline: build/tests/ui_bench's frame cost (CPU µs, median of 200 frames)
# at 10M synthetic events, fit-all and zoomed in, for both builds.
#
# Usage: scripts/bench_traces.sh [--build DIR] [--n N] [--rounds R]
#          [--baseline REV | --no-baseline]
#   (BUILD_DIR, N, ROUNDS from the environment too; defaults ./build, 200000,
#   3). Needs root (BPF), /dev/kvm and /usr/bin/time. The baseline is built
#   once into build/baseline-REV (scripts/bench_lib.sh; a few minutes).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/bench_lib.sh
source "$here/bench_lib.sh"

BUILD_DIR=${BUILD_DIR:-./build}
N=${N:-200000}
ROUNDS=${ROUNDS:-3}
BASELINE=$BENCH_DEFAULT_BASELINE
while (($#)); do
  case $1 in
    --build) BUILD_DIR=$2; shift 2 ;;
    --n) N=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --baseline) BASELINE=$2; shift 2 ;;
    --no-baseline) BASELINE=; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench_traces.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
KVMSCOPE=$BUILD_DIR/app/kvmscope
BENCH=$BUILD_DIR/tests/trace_bench
[[ -x $KVMSCOPE && -x $BENCH ]] || { echo "bench_traces.sh: no $KVMSCOPE or $BENCH (build first, or --build DIR)" >&2; exit 2; }
[[ $N =~ ^[0-9]+$ && $N -gt 0 ]] || { echo "bench_traces.sh: N must be a positive integer" >&2; exit 2; }
[[ $ROUNDS =~ ^[0-9]+$ && $ROUNDS -gt 0 ]] || { echo "bench_traces.sh: ROUNDS must be a positive integer" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "bench_traces.sh: needs /usr/bin/time (apt-get install time)" >&2; exit 3; }
[[ $(id -u) == 0 ]] || { echo "bench_traces.sh: needs root (kernel tracing)" >&2; exit 3; }

# build name|kvmscope|trace_bench|ui_bench
BUILDS=("this build|$KVMSCOPE|$BENCH|$BUILD_DIR/tests/ui_bench")
if [[ -n $BASELINE ]]; then
  base=$(bench_baseline "$BASELINE" bench_traces.sh)
  BUILDS=("baseline $BASELINE|$base/app/kvmscope|$base/trace_bench|$base/tests/ui_bench" "${BUILDS[@]}")
fi
NB=${#BUILDS[@]}

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# One measured command: "<run ms or -> <peak KiB>".
measure() {
  local out ms kib
  out=$(/usr/bin/time -f 'TIME %M' "$@" 2>&1) || { echo "bench_traces.sh: failed: $*" >&2; echo "$out" >&2; exit 1; }
  ms=$(grep -oP 'exits in \K[0-9.]+' <<<"$out" || echo -)
  kib=$(grep -oP '^TIME \K[0-9]+' <<<"$out")
  echo "$ms $kib"
}

echo "recording: pio-loop N=$N, $ROUNDS rounds × $NB builds × 2" >&2
for ((r = 0; r < ROUNDS; r++)); do
  for ((b = 0; b < NB; b++)); do
    IFS='|' read -r name bin _ <<<"${BUILDS[$(( (r + b) % NB ))]}"
    for cfg in traced recorded; do
      opts=(run --guest pio-loop --param "$N" -q)
      [[ $cfg == recorded ]] && opts+=(-o "$TMP/trace.$b.json")
      read -r ms kib < <(measure "$bin" "${opts[@]}")
      echo "$ms $kib" >>"$TMP/rec.$(( (r + b) % NB )).$cfg"
      echo "  round $((r + 1))/$ROUNDS $name, $cfg: $ms ms, peak $((kib / 1024)) MiB" >&2
    done
  done
done
# The trace both builds read: this build's recording (the newest file format).
TRACE=$TMP/trace.$((NB - 1)).json

echo "files: trace_bench on $(du -m "$TRACE" | cut -f1) MiB, $ROUNDS rounds per build, alternating" >&2
for ((r = 0; r < ROUNDS; r++)); do
  for ((b = 0; b < NB; b++)); do
    IFS='|' read -r name _ bench _ <<<"${BUILDS[$b]}"
    "$bench" "$TRACE" 1 "$TMP" 2>/dev/null >>"$TMP/files.$b" || { echo "bench_traces.sh: $bench failed" >&2; exit 1; }
    echo "  round $((r + 1))/$ROUNDS $name: $(grep load_s "$TMP/files.$b" | tail -1)" >&2
  done
done

echo "timeline: ui_bench per build (a minute or two each)" >&2
for ((b = 0; b < NB; b++)); do
  IFS='|' read -r name _ _ ui <<<"${BUILDS[$b]}"
  # The 10M-event row: events, build s, |, fit-all median p99 vertices, |, zoomed median ...
  "$ui" 2>/dev/null | awk '$1 == 9999990 {print "timeline_fit_us", $4; print "timeline_zoomed_us", $8}' >>"$TMP/files.$b"
done

# figure KEY of build B: the median of trace_bench's "KEY value unit" lines.
figure() { awk -v k="$2" '$1 == k {print $2}' "$TMP/files.$1" | median; }
col() { awk -v c="$2" '{print $c}' "$1" | median; }

echo
echo "kvmscope traces — pio-loop N=$N recorded, $ROUNDS rounds per build, medians"
echo "host: $(uname -r), $(nproc) CPUs, $(sed -nE 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
echo "trace: $(figure $((NB - 1)) events) events, $(du -m "$TRACE" | cut -f1) MiB on disk"
header=$(for ((b = 0; b < NB; b++)); do printf ' %20s' "${BUILDS[$b]%%|*}"; done)
printf '\n%-36s%s %14s\n' figure "$header" target
row() {  # label target value...
  local label=$1 target=$2; shift 2
  printf '%-36s' "$label"
  for v in "$@"; do printf ' %20s' "$v"; done
  printf ' %14s\n' "$target"
}
fmt_fig() { printf "%.${3}f\n" "$(figure "$1" "$2")"; }
# shellcheck disable=SC2046  # one word per build on purpose
{
  row "traced run (-q), ms" "" $(for ((b = 0; b < NB; b++)); do col "$TMP/rec.$b.traced" 1; done)
  row "traced + recorded (-q -o), ms" "" $(for ((b = 0; b < NB; b++)); do col "$TMP/rec.$b.recorded" 1; done)
  row "peak RSS traced, MiB" "" $(for ((b = 0; b < NB; b++)); do echo $(( $(col "$TMP/rec.$b.traced" 2 | cut -d. -f1) / 1024 )); done)
  row "peak RSS recorded, MiB" "" $(for ((b = 0; b < NB; b++)); do echo $(( $(col "$TMP/rec.$b.recorded" 2 | cut -d. -f1) / 1024 )); done)
  row "stored events in memory, MiB" "" $(for ((b = 0; b < NB; b++)); do awk -v e="$(figure "$b" events)" -v p="$(figure "$b" event_bytes_per_event)" 'BEGIN {printf "%.0f\n", e * p / 1048576}'; done)
  row "recording's extra peak / stored" "<= 1.2" $(for ((b = 0; b < NB; b++)); do awk -v k="$(col "$TMP/rec.$b.recorded" 2)" -v t="$(col "$TMP/rec.$b.traced" 2)" -v e="$(figure "$b" events)" -v p="$(figure "$b" event_bytes_per_event)" 'BEGIN {printf "%.2f\n", (k - t) * 1024 / (e * p)}'; done)
  row "bytes per stored event" "<= 48" $(for ((b = 0; b < NB; b++)); do fmt_fig "$b" event_bytes_per_event 1; done)
  row "load, s" "" $(for ((b = 0; b < NB; b++)); do fmt_fig "$b" load_s 3; done)
  row "load, events/s" ">= 2,000,000" $(for ((b = 0; b < NB; b++)); do fmt_fig "$b" load_events_per_s 0; done)
  row "load, MB/s read" "" $(for ((b = 0; b < NB; b++)); do fmt_fig "$b" load_mb_per_s 1; done)
  row "stats after load, s" "<= 0.5" $(for ((b = 0; b < NB; b++)); do fmt_fig "$b" stats_s 3; done)
  row "native save, MB/s" ">= 200" $(for ((b = 0; b < NB; b++)); do fmt_fig "$b" save_mb_per_s 1; done)
  row "Chrome export, MB/s" ">= 100" $(for ((b = 0; b < NB; b++)); do fmt_fig "$b" chrome_mb_per_s 1; done)
  row "Chrome export, s" "" $(for ((b = 0; b < NB; b++)); do fmt_fig "$b" chrome_s 3; done)
  row "live, one open KVM_RUN, events/s" "" $(for ((b = 0; b < NB; b++)); do fmt_fig "$b" live_open_run_events_per_s 0; done)
  row "trace_bench peak RSS, MiB" "" $(for ((b = 0; b < NB; b++)); do fmt_fig "$b" peak_rss_mib 0; done)
  row "timeline frame, 10M events, fit, µs" "<= 4,000" $(for ((b = 0; b < NB; b++)); do fmt_fig "$b" timeline_fit_us 0; done)
  row "timeline frame, 10M, zoomed, µs" "<= 4,000" $(for ((b = 0; b < NB; b++)); do fmt_fig "$b" timeline_zoomed_us 0; done)
}
