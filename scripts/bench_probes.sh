#!/usr/bin/env bash
# What kernel tracing costs the guest: runs the exit-heavy pio-loop guest
# (N port writes, one VM exit to the VMM each) with kvmscope's BPF probes off
# (--no-probes, the baseline) and on (--stacks new = the default, --stacks
# none, --stacks all), and compares the guest's run time as kvmscope itself
# measures it: the "N KVM_RUN calls, N exits in X ms" line, i.e. from the
# first KVM_RUN to the end of the run, without BPF load/attach time. The wall
# time of the whole process (date +%s%N, includes loading and attaching the
# programs) is shown alongside. Configurations are interleaved round-robin,
# the starting one rotating each round, so that drifting host noise hits all
# of them alike; medians are reported. "events lost" sums the kernel's
# "kernel: N events LOST" lines (ring buffer full) over all rounds.
#
# With --mechanisms the traced configurations are the attach mechanisms
# instead (--attach kprobe, fentry, tracepoint; one the kernel refuses is
# reported as such, not measured). With --host svm the whole benchmark runs
# inside the AMD SVM test host (scripts/test-host.sh: Debian's 6.1 kernel
# under QEMU's emulator, where kprobes and fentry exist) with --mechanisms
# and a smaller N by default: times there are emulated, so compare ratios.
#
# Usage: scripts/bench_probes.sh [--build DIR] [--n N] [--rounds R] [--mechanisms] [--host svm]
#   also from the environment: BUILD_DIR (default ./build), N (default
#   200000; 20000 with --host), ROUNDS (default 5; 3 with --host). Needs root
#   (BPF) and /dev/kvm.
set -euo pipefail

BUILD_DIR=${BUILD_DIR:-./build}
N_SET=${N:+1}
ROUNDS_SET=${ROUNDS:+1}
N=${N:-200000}
ROUNDS=${ROUNDS:-5}

MECHANISMS=0
HOST=
while (($#)); do
  case $1 in
    --build) BUILD_DIR=$2; shift 2 ;;
    --n) N=$2; N_SET=1; shift 2 ;;
    --rounds) ROUNDS=$2; ROUNDS_SET=1; shift 2 ;;
    --mechanisms) MECHANISMS=1; shift ;;
    --host) HOST=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench_probes.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

if [[ -n $HOST ]]; then
  [[ $HOST == svm ]] || { echo "bench_probes.sh: --host takes svm (the VMX host is too slow to time)" >&2; exit 2; }
  [[ -n $N_SET ]] || N=20000
  [[ -n $ROUNDS_SET ]] || ROUNDS=3
  here=$(cd "$(dirname "$0")" && pwd)
  build=$(cd "$BUILD_DIR" && pwd)
  exec "$here/test-host.sh" svm --build "$build" \
    --run "$here/bench_probes.sh --build $build --n $N --rounds $ROUNDS --mechanisms"
fi

KVMSCOPE=$BUILD_DIR/app/kvmscope
[[ -x $KVMSCOPE ]] || { echo "bench_probes.sh: no $KVMSCOPE (build first, or --build DIR)" >&2; exit 2; }
[[ $N =~ ^[0-9]+$ && $N -gt 0 ]] || { echo "bench_probes.sh: N must be a positive integer" >&2; exit 2; }
[[ $ROUNDS =~ ^[0-9]+$ && $ROUNDS -gt 0 ]] || { echo "bench_probes.sh: ROUNDS must be a positive integer" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "bench_probes.sh: needs root (the traced configurations load BPF programs)" >&2; exit 3; }

# name|kvmscope options
CONFIGS=(
  "no-probes (baseline)|--no-probes"
  "stacks new (default)|"
  "stacks none|--stacks none"
  "stacks all|--stacks all"
)
REFUSED=()
if ((MECHANISMS)); then
  CONFIGS=("no-probes (baseline)|--no-probes")
  for m in kprobe fentry tracepoint; do
    # A mechanism the kernel refuses (exit 3) is named, not measured.
    if why=$("$KVMSCOPE" run --guest hello --attach $m -q 2>&1); then
      CONFIGS+=("--attach $m|--attach $m")
    else
      REFUSED+=("--attach $m: refused here: $(grep -m1 -iE 'error|cannot|refus' <<<"$why" || head -1 <<<"$why")")
    fi
  done
fi
NC=${#CONFIGS[@]}

WORK=$(mktemp -d /tmp/bench_probes.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# One run of configuration $1; appends "vmm_ms wall_ms exits lost" to
# $WORK/$1.dat.
run_one() {
  local i=$1 name=${CONFIGS[$1]%%|*} opts=${CONFIGS[$1]#*|} out=$WORK/out.$1
  local t0 t1 status=0
  t0=$(date +%s%N)
  # shellcheck disable=SC2086  # opts is a word list on purpose
  "$KVMSCOPE" run --guest pio-loop --param "$N" --timeout 3600 -q $opts >"$out" 2>&1 || status=$?
  t1=$(date +%s%N)
  if ((status != 0)) || ! grep -q '^verdict: passed' "$out"; then
    echo "bench_probes.sh: '$name' run failed (exit $status):" >&2
    cat "$out" >&2
    exit 1
  fi
  local line ms exits lost=0
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
  else
    lost=-
  fi
  echo "$ms $(( (t1 - t0) / 1000000 )) $exits $lost" >>"$WORK/$i.dat"
  printf '  %-22s %10.1f ms  (wall %d ms)  lost %s\n' "$name" "$ms" $(( (t1 - t0) / 1000000 )) "$lost" >&2
}

median() {  # of the numbers on stdin
  sort -g | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}

echo "kvmscope tracing cost: pio-loop, N=$N port writes, $ROUNDS rounds × $NC configurations" >&2
echo "warm-up (not counted)" >&2
"$KVMSCOPE" run --guest pio-loop --param 1000 -q >/dev/null 2>&1 || true
for ((r = 0; r < ROUNDS; r++)); do
  echo "round $((r + 1))/$ROUNDS" >&2
  for ((k = 0; k < NC; k++)); do
    run_one $(( (r + k) % NC ))
  done
done

backend=$(sed -nE 's/^KVM backend +//p' < <("$KVMSCOPE" doctor 2>/dev/null || true))
echo
echo "kvmscope tracing cost — guest pio-loop, N=$N, $ROUNDS rounds, medians"
echo "host: $(uname -r), ${backend:-KVM backend unknown}, $(nproc) CPUs, $(sed -nE 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
echo "time = kvmscope's own 'exits in X ms' (first KVM_RUN to end of run); wall = whole process"
echo
printf '%-22s %12s %12s %12s %11s %18s\n' configuration "median ms" "wall ms" "exits/s" "vs baseline" "events lost"
printf '%-22s %12s %12s %12s %11s %18s\n' ---------------------- ------------ ------------ ------------ ----------- ------------------
base=
for ((i = 0; i < NC; i++)); do
  name=${CONFIGS[$i]%%|*}
  ms=$(awk '{print $1}' "$WORK/$i.dat" | median)
  wall=$(awk '{print $2}' "$WORK/$i.dat" | median)
  exits=$(awk 'NR == 1 {print $3}' "$WORK/$i.dat")
  lost=$(awk '$4 == "-" {dash = 1} $4 != "-" {s += $4; if ($4 > 0) n++} END {if (dash) print "-"; else printf "%d (%d/%d runs)", s, n, NR}' "$WORK/$i.dat")
  base=${base:-$ms}
  printf '%-22s %12.1f %12.0f %12.0f %10.2fx %18s\n' "$name" "$ms" "$wall" \
    "$(awk -v e="$exits" -v m="$ms" 'BEGIN {print e / (m / 1000)}')" \
    "$(awk -v m="$ms" -v b="$base" 'BEGIN {print m / b}')" "$lost"
done
for line in "${REFUSED[@]}"; do echo "$line"; done
