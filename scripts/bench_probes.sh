#!/usr/bin/env bash
# What kernel tracing costs the guest: runs the exit-heavy guests pio-loop
# (N port writes on one vCPU) and pio-pair (N on each of two vCPUs at once)
# with kvmscope's BPF probes off (--no-probes, the baseline) and on (the
# default plan with --stacks new, and --stacks none, --stacks all, and
# --insn-budget 0: every kvm_emulate_insn streamed, not only the first
# 65,536, and --perf-tracepoints: every tracepoint through perf,
# none raw), beside
# the same default run of a baseline build (--baseline REV, by default main
# before issue 16: today's figures and the baseline's in one run), and beside
# `perf record` of the same tracepoints (no stacks, events to a file; the
# peer a user would reach for). Time = the guest's run time as kvmscope itself
# measures it: the "N KVM_RUN calls, N exits in X ms" line, i.e. from the
# first KVM_RUN to the end of the run, without BPF load/attach time. The wall
# time of the whole process (date +%s%N, includes loading and attaching the
# programs) is shown alongside. Configurations are interleaved, each round
# in another order (bench_lib.sh balanced_order: over the rounds each one
# runs in each slot and right after each other one alike), so that drifting
# host noise and a slow slot after some run hit all of them alike; medians
# are reported. "events lost" sums the kernel's
# "kernel: N events LOST" lines (ring buffer full) over all rounds.
# kernel.bpf_stats_enabled is turned off while measuring (and put back).
# Last, what tracing costs other processes: dd's 2,000,000 one-byte system
# calls timed while a long guest runs untraced, traced by default and
# traced --perf-tracepoints (every syscall passes perf's syscall
# tracepoints, which then give the KVM_RUN edges; by default the VMM makes
# the entry and kvm_userspace_exit the return, and no program runs on
# system calls).
#
# With --mechanisms the traced configurations are the attach mechanisms
# instead (--attach kprobe, fentry, tracepoint; one the kernel refuses is
# reported as such, not measured). With --host svm the whole benchmark runs
# inside the AMD SVM test host (scripts/test-host.sh: Debian's 6.1 kernel
# under QEMU's emulator, where kprobes and fentry exist) with --mechanisms
# and a smaller N by default: times there are emulated, so compare ratios.
#
# Usage: scripts/bench_probes.sh [--build DIR] [--n N] [--rounds R]
#          [--baseline REV | --no-baseline] [--guests G,G] [--mechanisms] [--host svm]
#   also from the environment: BUILD_DIR (default ./build), N (default
#   200000; 20000 with --host), ROUNDS (default 9; 3 with --host). Needs root
#   (BPF) and /dev/kvm. The baseline is built once into build/baseline-REV
#   (scripts/bench_lib.sh; a few minutes); perf is left out where it is not
#   installed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/bench_lib.sh
source "$here/bench_lib.sh"

BUILD_DIR=${BUILD_DIR:-./build}
N_SET=${N:+1}
ROUNDS_SET=${ROUNDS:+1}
N=${N:-200000}
ROUNDS=${ROUNDS:-9}
BASELINE=$BENCH_DEFAULT_BASELINE
BASE_BUILD=
GUESTS=pio-loop,pio-pair

MECHANISMS=0
HOST=
while (($#)); do
  case $1 in
    --build) BUILD_DIR=$2; shift 2 ;;
    --n) N=$2; N_SET=1; shift 2 ;;
    --rounds) ROUNDS=$2; ROUNDS_SET=1; shift 2 ;;
    --baseline) BASELINE=$2; shift 2 ;;
    --no-baseline) BASELINE=; shift ;;
    --baseline-build) BASE_BUILD=$2; shift 2 ;;  # inside --host: built outside
    --guests) GUESTS=$2; shift 2 ;;
    --mechanisms) MECHANISMS=1; shift ;;
    --host) HOST=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench_probes.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

[[ $N =~ ^[0-9]+$ && $N -gt 0 ]] || { echo "bench_probes.sh: N must be a positive integer" >&2; exit 2; }
[[ $ROUNDS =~ ^[0-9]+$ && $ROUNDS -gt 0 ]] || { echo "bench_probes.sh: ROUNDS must be a positive integer" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "bench_probes.sh: needs root (the traced configurations load BPF programs)" >&2; exit 3; }
# Built here, before any emulated host starts: it shares this machine's files
# (read-only), so inside it the build is named, not built.
if [[ -n $BASELINE && -z $BASE_BUILD ]]; then BASE_BUILD=$(bench_baseline "$BASELINE" bench_probes.sh); fi

if [[ -n $HOST ]]; then
  [[ $HOST == svm ]] || { echo "bench_probes.sh: --host takes svm (the VMX host is too slow to time)" >&2; exit 2; }
  [[ -n $N_SET ]] || N=20000
  [[ -n $ROUNDS_SET ]] || ROUNDS=3
  build=$(cd "$BUILD_DIR" && pwd)
  base_opt=--no-baseline
  [[ -n $BASELINE ]] && base_opt="--baseline $BASELINE --baseline-build $BASE_BUILD"
  exec "$here/test-host.sh" svm --build "$build" \
    --run "$here/bench_probes.sh --build $build --n $N --rounds $ROUNDS --guests $GUESTS $base_opt --mechanisms"
fi

KVMSCOPE=$BUILD_DIR/app/kvmscope
[[ -x $KVMSCOPE ]] || { echo "bench_probes.sh: no $KVMSCOPE (build first, or --build DIR)" >&2; exit 2; }
BASE_KVMSCOPE=${BASE_BUILD:+$BASE_BUILD/app/kvmscope}
PERF=$(command -v perf || true)
[[ -n $PERF ]] && ! "$PERF" list 'kvm:kvm_pio' 2>/dev/null | grep -q kvm_pio && PERF=

# name|binary|kvmscope options ("perf" as binary: perf record of the
# tracepoints, the guest run with --no-probes).
CONFIGS=("no-probes (untraced)|$KVMSCOPE|--no-probes")
[[ -n $BASE_KVMSCOPE ]] && CONFIGS+=("default, baseline $BASELINE|$BASE_KVMSCOPE|")
REFUSED=()
if ((MECHANISMS)); then
  CONFIGS+=("default (auto)|$KVMSCOPE|")
  for m in kprobe fentry tracepoint; do
    # A mechanism the kernel refuses (exit 3) is named, not measured.
    if why=$("$KVMSCOPE" run --guest hello --attach $m -q 2>&1); then
      CONFIGS+=("--attach $m|$KVMSCOPE|--attach $m")
    else
      REFUSED+=("--attach $m: refused here: $(grep -m1 -iE 'error|cannot|refus' <<<"$why" || head -1 <<<"$why")")
    fi
  done
else
  CONFIGS+=(
    "stacks new (default)|$KVMSCOPE|"
    "stacks none|$KVMSCOPE|--stacks none"
    "stacks all|$KVMSCOPE|--stacks all"
    "every emulate_insn streamed|$KVMSCOPE|--insn-budget 0"
    "no raw tracepoints|$KVMSCOPE|--perf-tracepoints"
  )
fi
[[ -n $PERF ]] && CONFIGS+=("perf record (peer)|perf|--no-probes")
NC=${#CONFIGS[@]}
IFS=, read -r -a GUEST_LIST <<<"$GUESTS"

WORK=$(mktemp -d /tmp/bench_probes.XXXXXX)
# BPF run-time statistics (kernel.bpf_stats_enabled, left on by bpftool
# users) add two clock reads to every program run: off while measuring,
# put back after.
STATS=/proc/sys/kernel/bpf_stats_enabled
STATS_WAS=$(cat "$STATS" 2>/dev/null || echo 0)
trap 'rm -rf "$WORK"; [[ $STATS_WAS == 0 ]] || echo "$STATS_WAS" >"$STATS"' EXIT
if [[ $STATS_WAS != 0 ]]; then
  echo 0 >"$STATS" && echo "kernel.bpf_stats_enabled was on: off while measuring" >&2
fi
# The tracepoints kvmscope's default plan attaches on this kernel, for perf.
PERF_EVENTS=(-e 'syscalls:sys_enter_ioctl' -e 'syscalls:sys_exit_ioctl' -e 'kvm:*' -e 'kvmmmu:*')

# One run of configuration $1 on guest $2; appends "vmm_ms wall_ms exits
# lost" to $WORK/$2.$1.dat.
run_one() {
  local i=$1 guest=$2 name bin opts out=$WORK/out.$1
  IFS='|' read -r name bin opts <<<"${CONFIGS[$1]}"
  local t0 t1 status=0 cmd=()
  [[ -e $WORK/$guest.$i.skip ]] && return 0
  if [[ $bin == perf ]]; then
    cmd=("$PERF" record -q -o "$WORK/perf.data" "${PERF_EVENTS[@]}" -- "$KVMSCOPE")
  else
    cmd=("$bin")
  fi
  t0=$(date +%s%N)
  # shellcheck disable=SC2086  # opts is a word list on purpose
  "${cmd[@]}" run --guest "$guest" --param "$N" --timeout 3600 -q $opts >"$out" 2>&1 || status=$?
  t1=$(date +%s%N)
  if ((status != 0)) || ! grep -q '^verdict: passed' "$out"; then
    echo "bench_probes.sh: '$name' on $guest failed (exit $status):" >&2
    cat "$out" >&2
    exit 1
  fi
  local line ms exits lost=-
  line=$(grep -E '^[0-9]+ KVM_RUN calls, [0-9]+ exits in [0-9.]+ ms$' "$out") || {
    echo "bench_probes.sh: no 'KVM_RUN calls ... exits in ... ms' line in '$name' output:" >&2
    cat "$out" >&2
    exit 1
  }
  exits=$(awk '{print $4}' <<<"$line")
  ms=$(awk '{print $7}' <<<"$line")
  if [[ $opts != --no-probes ]]; then
    # A traced configuration must really trace: a summary line, no "off".
    if ! grep -q '^kernel: .* events' "$out" || grep -q 'kernel tracing is off' "$out"; then
      echo "bench_probes.sh: '$name' did not trace the kernel:" >&2
      cat "$out" >&2
      exit 1
    fi
    lost=$(sed -nE 's/^kernel: ([0-9]+) events LOST.*/\1/p' "$out")
    lost=${lost:-0}
  elif [[ $bin == perf ]]; then
    # perf's own words when its buffers overflowed: "Processed N events and lost M chunks!"
    lost=$(awk '{for (i = 1; i < NF; i++) if ($i == "lost" && $(i + 2) ~ /^chunks/) s += $(i + 1)} END {print s + 0}' "$out")
  fi
  echo "$ms $(( (t1 - t0) / 1000000 )) $exits $lost" >>"$WORK/$guest.$i.dat"
  printf '  %-9s %-30s %10.1f ms  (wall %d ms)  lost %s\n' "$guest" "$name" "$ms" $(( (t1 - t0) / 1000000 )) "$lost" >&2
}

# A guest the baseline's catalog lacks (pio-pair is newer) is not run there.
NOTES=()
for guest in "${GUEST_LIST[@]}"; do
  for ((i = 0; i < NC; i++)); do
    IFS='|' read -r name bin _ <<<"${CONFIGS[$i]}"
    [[ $bin == perf ]] && bin=$KVMSCOPE
    if ! "$bin" guests "$guest" >/dev/null 2>&1; then
      touch "$WORK/$guest.$i.skip"
      NOTES+=("$guest: not in the catalog of '$name': not measured there")
    fi
  done
done

echo "kvmscope tracing cost: ${GUESTS//,/ and }, N=$N port writes per vCPU, $ROUNDS rounds × $NC configurations" >&2
echo "warm-up (not counted)" >&2
"$KVMSCOPE" run --guest pio-loop --param 1000 -q >/dev/null 2>&1 || true
for ((r = 0; r < ROUNDS; r++)); do
  echo "round $((r + 1))/$ROUNDS" >&2
  for guest in "${GUEST_LIST[@]}"; do
    for i in $(balanced_order "$NC" "$r"); do
      run_one "$i" "$guest"
    done
  done
done

backend=$(sed -nE 's/^KVM backend +//p' < <("$KVMSCOPE" doctor 2>/dev/null || true))
echo
echo "kvmscope tracing cost — N=$N port writes per vCPU, $ROUNDS rounds interleaved, medians"
echo "host: $(uname -r), ${backend:-KVM backend unknown}, $(nproc) CPUs, $(sed -nE 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
echo "time = kvmscope's own 'exits in X ms' (first KVM_RUN to end of run); wall = whole process;"
echo "rate = exits/s over untraced's (the target is >= 0.90 for the default)"
[[ -n $BASE_BUILD ]] && echo "baseline: $BASELINE, built in $BASE_BUILD"
[[ -n $PERF ]] && echo "perf record: ${PERF_EVENTS[*]} (no stacks), the guest run with --no-probes"
for guest in "${GUEST_LIST[@]}"; do
  echo
  printf '%-9s %-28s %10s %9s %10s %6s %16s\n' guest configuration "median ms" "wall ms" "exits/s" rate "events lost"
  base=
  for ((i = 0; i < NC; i++)); do
    name=${CONFIGS[$i]%%|*}
    dat=$WORK/$guest.$i.dat
    [[ -e $WORK/$guest.$i.skip ]] && continue
    ms=$(awk '{print $1}' "$dat" | median)
    wall=$(awk '{print $2}' "$dat" | median)
    exits=$(awk 'NR == 1 {print $3}' "$dat")
    lost=$(awk '$4 == "-" {dash = 1} $4 != "-" {s += $4; if ($4 > 0) n++} END {if (dash) print "-"; else printf "%d (%d/%d runs)", s, n, NR}' "$dat")
    base=${base:-$ms}
    printf '%-9s %-28s %10.1f %9.0f %10.0f %5.2f %16s\n' "$guest" "$name" "$ms" "$wall" \
      "$(awk -v e="$exits" -v m="$ms" 'BEGIN {print e / (m / 1000)}')" \
      "$(awk -v m="$ms" -v b="$base" 'BEGIN {print b / m}')" "$lost"
  done
done
for line in "${REFUSED[@]}" "${NOTES[@]}"; do echo "$line"; done

# What tracing costs the rest of the machine: any syscall tracepoint in use
# sends every system call of every process through the kernel's slow path
# (--perf-tracepoints); by default kvmscope's own VM needs none (the VMM
# makes KVM_RUN's entry, kvm_userspace_exit gives its return).
# dd copies 1,000,000 single bytes (2,000,000 read/write calls) while a long
# pio-loop is untraced, traced by default, and traced --perf-tracepoints;
# balanced rounds, medians.
((MECHANISMS)) && exit 0
OTHERS=("untraced guest|--no-probes" "default (no syscall program)|" "--perf-tracepoints|--perf-tracepoints")
dd_once() {
  local opts=$1 guest t0 t1
  # shellcheck disable=SC2086
  "$KVMSCOPE" run --guest pio-loop --param 100000000 --timeout 3600 -q $opts >/dev/null 2>&1 &
  guest=$!
  sleep 2.5  # loaded, attached and running
  t0=$(date +%s%N)
  dd if=/dev/zero of=/dev/null bs=1 count=1000000 2>/dev/null
  t1=$(date +%s%N)
  kill -TERM "$guest" 2>/dev/null || true
  wait "$guest" 2>/dev/null || true
  echo $(( (t1 - t0) / 1000 ))
}
echo "other processes: dd, $ROUNDS rounds × ${#OTHERS[@]}" >&2
for ((r = 0; r < ROUNDS; r++)); do
  for i in $(balanced_order ${#OTHERS[@]} "$r"); do
    dd_once "${OTHERS[$i]#*|}" >>"$WORK/dd.$i.dat"
  done
done
echo
echo "other processes' system calls while a guest runs (dd bs=1 count=1000000: 2,000,000 calls, median)"
printf '%-30s %10s %22s\n' "while kvmscope runs" "dd ms" "ns added per call"
for ((i = 0; i < ${#OTHERS[@]}; i++)); do
  us=$(median <"$WORK/dd.$i.dat")
  ((i == 0)) && base_us=$us
  printf '%-30s %10.0f %22.0f\n' "${OTHERS[$i]%%|*}" "$(awk -v u="$us" 'BEGIN {print u / 1000}')" \
    "$(awk -v u="$us" -v b="$base_us" 'BEGIN {print (u - b) * 1000 / 2000000}')"
done
