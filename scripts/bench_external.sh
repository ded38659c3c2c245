#!/usr/bin/env bash
# What watching a real QEMU VM costs it: QEMU from the distribution
# (qemu-system-x86_64 -enable-kvm) runs the exit BIOS (tests/data/exit_bios.S:
# N `out %al, $0x80` patched into a copy of BUILD/tests/exit_bios.bin, so
# N + 9 KVM_EXIT_IO exits, then isa-debug-exit ends QEMU with status 85),
#   1. untraced,
#   2. while `kvmscope top --interval 0.5` counts on the host (started before
#      QEMU, attached once its first frame is out),
#   3. under `kvmscope record --pid` (attached to the paused QEMU),
#   4. under `perf record -p` of the tracepoints record streams on this host
#      (the doctor's attach plan, less kvm_emulate_insn and the kvmmmu walk
#      and spte events that record only counts; sys_enter_ioctl filtered to
#      KVM_RUN where the run loop is traced there). Skipped, with the reason,
#      when perf is missing or does not work.
# QEMU is always started paused (-S); the tools attach; then QMP `cont`.
# Time = QMP `cont` to QEMU's exit (so neither QEMU's start-up nor any
# attaching is in it; QEMU's own exit is, the same in every configuration:
# the N=0 warm-up shows it). Exit rate = (N + 9) / time. Each run is
# checked: QEMU's status 85 and "kvmscope" on its debug console; top saw
# KVM_EXIT_IO; record's trace has N + 9 IO exits in `kvmscope stats`; perf
# wrote its data. Configurations are interleaved, each round in another
# order (bench_lib.sh balanced_order); medians are reported. The issue aims
# at >= 0.95 of untraced for top.
#
# Usage: scripts/bench_external.sh [--build DIR] [--n N] [--rounds R]
#   (N default 200000, R default 3). Uses DIR/app/kvmscope and
#   DIR/tests/exit_bios.bin (DIR default ./build). Needs root (BPF), /dev/kvm,
#   qemu-system-x86_64 and python3 (QMP); perf is optional.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/bench_lib.sh
source "$here/bench_lib.sh"

BUILD_DIR=${BUILD_DIR:-./build}
N=${N:-200000}
ROUNDS=${ROUNDS:-3}
while (($#)); do
  case $1 in
    --build) BUILD_DIR=$2; shift 2 ;;
    --n) N=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench_external.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ $N =~ ^[0-9]+$ && $N -le 4294967295 ]] || { echo "bench_external.sh: --n wants a 32-bit count, not '$N'" >&2; exit 2; }
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "bench_external.sh: --rounds wants a positive count, not '$ROUNDS'" >&2; exit 2; }
KVMSCOPE=$BUILD_DIR/app/kvmscope
BIOS=$BUILD_DIR/tests/exit_bios.bin
[[ -x $KVMSCOPE ]] || { echo "bench_external.sh: no $KVMSCOPE (build first, or --build DIR)" >&2; exit 2; }
[[ -f $BIOS ]] || { echo "bench_external.sh: no $BIOS (build the tests first, or --build DIR)" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "bench_external.sh: needs root (top and record load BPF programs)" >&2; exit 3; }
QEMU=qemu-system-x86_64
for need in "$QEMU" python3; do
  command -v "$need" >/dev/null || { echo "bench_external.sh: $need is not installed" >&2; exit 3; }
done
[[ -r /dev/kvm && -w /dev/kvm ]] || { echo "bench_external.sh: cannot open /dev/kvm" >&2; exit 3; }

WORK=$(mktemp -d /tmp/bench_external.XXXXXX)
QEMU_PID='' TOP_PID='' REC_PID='' PERF_PID='' CTL_FD='' ACK_FD=''
# Stops one helper: SIGTERM (top, record and perf all end cleanly on it),
# SIGKILL after 20 s.
# shellcheck disable=SC2317  # stop and cleanup run from the EXIT trap
stop() {
  local pid=$1
  [[ -n $pid ]] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 400); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
# shellcheck disable=SC2317
cleanup() {
  set +e
  if [[ -n $QEMU_PID ]]; then kill -KILL "$QEMU_PID" 2>/dev/null; wait "$QEMU_PID" 2>/dev/null; fi
  stop "$PERF_PID"; stop "$REC_PID"; stop "$TOP_PID"
  [[ -n $CTL_FD ]] && exec {CTL_FD}>&-
  [[ -n $ACK_FD ]] && exec {ACK_FD}>&-
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
fail() { echo "bench_external.sh: $*" >&2; exit 1; }

# The exit BIOS with N after its "KSCOUNT=" marker (little-endian, as
# tests/qemu_vm.h patches it).
python3 - "$BIOS" "$N" "$WORK/bios.bin" "$WORK/bios0.bin" <<'EOF' || fail "cannot patch $BIOS"
import struct, sys
image = bytearray(open(sys.argv[1], 'rb').read())
at = image.find(b'KSCOUNT=')
if len(image) != 0x10000 or at < 0:
    sys.exit(f'{sys.argv[1]}: not the 64 KiB exit BIOS with a KSCOUNT= marker')
for path, n in ((sys.argv[3], int(sys.argv[2])), (sys.argv[4], 0)):
    image[at + 8:at + 12] = struct.pack('<I', n)
    open(path, 'wb').write(image)
EOF

# QMP: capabilities, then `cont`, then waits for QEMU (a pidfd) to exit and
# prints the milliseconds from sending `cont` to the exit.
cat >"$WORK/cont.py" <<'EOF'
import json, os, select, socket, sys, time
qmp, pid = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(qmp)
f = s.makefile('rwb', buffering=0)
def command(c):
    f.write(json.dumps({'execute': c}).encode() + b'\n')
    while True:
        line = f.readline()
        if not line:
            sys.exit(f'QMP closed during {c}')
        reply = json.loads(line)
        if 'error' in reply:
            sys.exit(f'QMP {c}: {reply["error"]}')
        if 'return' in reply:
            return
if b'"QMP"' not in f.readline():
    sys.exit('no QMP greeting')
command('qmp_capabilities')
pidfd = os.pidfd_open(pid)
p = select.poll()
p.register(pidfd, select.POLLIN)
start = time.perf_counter()
f.write(b'{"execute": "cont"}\n')
if not p.poll(600 * 1000):
    sys.exit('QEMU still runs 600 s after cont')
print(f'{(time.perf_counter() - start) * 1000:.3f}')
EOF

# The same options as tests/qemu_vm.h (exit BIOS, 1 vCPU, 16 MiB), paused.
start_qemu() {
  local bios=$1
  rm -f "$WORK/qmp" "$WORK/debugcon"
  "$QEMU" -enable-kvm -nographic -display none -nodefaults -S \
    -name bench_external,debug-threads=on -qmp "unix:$WORK/qmp,server,nowait" -m 16 -smp 1 \
    -bios "$bios" -device isa-debug-exit,iobase=0xf4,iosize=1 \
    -chardev "file,id=dbg,path=$WORK/debugcon" -device isa-debugcon,iobase=0x402,chardev=dbg \
    </dev/null >"$WORK/qemu.log" 2>&1 &
  QEMU_PID=$!
  for _ in $(seq 400); do
    [[ -S $WORK/qmp ]] && return 0
    kill -0 "$QEMU_PID" 2>/dev/null || break
    sleep 0.05
  done
  fail "QEMU did not come up: $(cat "$WORK/qemu.log")"
}
# cont, the time to QEMU's exit (into $MS), and its checks.
cont_and_wait() {
  local st=0
  MS=$(python3 "$WORK/cont.py" "$WORK/qmp" "$QEMU_PID") || fail "QMP cont failed: $(cat "$WORK/qemu.log")"
  wait "$QEMU_PID" || st=$?
  QEMU_PID=
  ((st == 85)) || fail "QEMU exited with status $st, not 85: $(cat "$WORK/qemu.log")"
  [[ $(cat "$WORK/debugcon" 2>/dev/null) == kvmscope ]] || fail "QEMU's debug console has not 'kvmscope'"
}

# perf's events: the tracepoints of the doctor's plan that record streams.
PERF_SKIP='' PERF_EVENTS=() PERF_DESC=''
if ! command -v perf >/dev/null; then
  PERF_SKIP="perf is not installed (Debian package linux-perf)"
elif ! perf --version >/dev/null 2>&1; then
  PERF_SKIP="perf does not run here: $(perf --version 2>&1 | awk 'NR == 1')"
else
  doctor=$("$KVMSCOPE" doctor 2>/dev/null || true)
  read -r -a tps <<<"$(sed -nE 's/^  tracepoints +[0-9]+ attached: //p' <<<"$doctor")"
  if grep -qE '^  run loop .*syscalls:sys_enter_ioctl/sys_exit_ioctl' <<<"$doctor"; then
    PERF_EVENTS+=(-e syscalls:sys_enter_ioctl --filter 'cmd == 0xae80' -e syscalls:sys_exit_ioctl)
    PERF_DESC="-e syscalls:sys_enter_ioctl --filter 'cmd == 0xae80' -e syscalls:sys_exit_ioctl"
  fi
  for tp in "${tps[@]}"; do
    case $tp in kvm:kvm_emulate_insn|kvmmmu:kvm_mmu_pagetable_walk|kvmmmu:kvm_mmu_set_spte) continue ;; esac
    PERF_EVENTS+=(-e "$tp")
    PERF_DESC+=" -e $tp"
  done
  ((${#tps[@]})) || PERF_SKIP="'kvmscope doctor' lists no attached tracepoints here"
fi

KINDS=(untraced top record perf)
declare -A NAME=([untraced]="untraced" [top]="under kvmscope top" [record]="under kvmscope record" [perf]="under perf record")
RUN=()
for kind in "${KINDS[@]}"; do [[ $kind == perf && -n $PERF_SKIP ]] || RUN+=("$kind"); done
NC=${#RUN[@]}

run_one() {
  local kind=$1 extra1=- extra2=-
  case $kind in
    top)
      "$KVMSCOPE" top --interval 0.5 >"$WORK/top.out" 2>&1 </dev/null &
      TOP_PID=$!
      for _ in $(seq 100); do [[ -s $WORK/top.out ]] && break; sleep 0.05; done
      [[ -s $WORK/top.out ]] || fail "top did not start: $(cat "$WORK/top.out")"
      start_qemu "$WORK/bios.bin" ;;
    record)
      start_qemu "$WORK/bios.bin"
      rm -f "$WORK/trace.json"
      "$KVMSCOPE" record --pid "$QEMU_PID" -o "$WORK/trace.json" >"$WORK/rec.out" 2>&1 </dev/null &
      REC_PID=$!
      # Attached once it says so (printed after its programs are in).
      for _ in $(seq 600); do
        grep -q '^kvmscope: recording pid' "$WORK/rec.out" && break
        kill -0 "$REC_PID" 2>/dev/null || break
        sleep 0.05
      done
      grep -q '^kvmscope: recording pid' "$WORK/rec.out" || fail "record did not attach: $(cat "$WORK/rec.out")" ;;
    perf)
      start_qemu "$WORK/bios.bin"
      rm -f "$WORK/perf.data" "$WORK/ctl" "$WORK/ack"
      mkfifo "$WORK/ctl" "$WORK/ack"
      exec {CTL_FD}<>"$WORK/ctl" {ACK_FD}<>"$WORK/ack"
      perf record "${PERF_EVENTS[@]}" -p "$QEMU_PID" -o "$WORK/perf.data" \
        --control "fd:$CTL_FD,$ACK_FD" >"$WORK/perf.out" 2>&1 </dev/null &
      PERF_PID=$!
      # perf answers the control fd only from its main loop: events are open.
      local ack=
      echo ping >&"$CTL_FD"
      read -r -t 30 -u "$ACK_FD" ack || true
      [[ $ack == ack ]] || fail "perf record did not attach: $(cat "$WORK/perf.out")" ;;
    *) start_qemu "$WORK/bios.bin" ;;
  esac

  cont_and_wait

  local st=0
  case $kind in
    top)
      # A short run can end inside top's first interval: give it one more frame.
      for _ in $(seq 40); do grep -q KVM_EXIT_IO "$WORK/top.out" && break; sleep 0.05; done
      kill -INT "$TOP_PID"
      wait "$TOP_PID" || true
      TOP_PID=
      grep -q KVM_EXIT_IO "$WORK/top.out" || fail "top saw no KVM_EXIT_IO: $(cat "$WORK/top.out")" ;;
    record)
      wait "$REC_PID" || st=$?   # ends by itself when QEMU exits
      REC_PID=
      ((st == 0)) || fail "record ended with status $st: $(cat "$WORK/rec.out")"
      [[ -s $WORK/trace.json ]] || fail "record wrote no trace: $(cat "$WORK/rec.out")"
      extra1=$(sed -nE 's/^kvmscope: .*; ([0-9]+) events recorded$/\1/p' "$WORK/rec.out")
      extra2=$(stat -c %s "$WORK/trace.json")
      local io
      io=$("$KVMSCOPE" stats "$WORK/trace.json" | awk '$1 == "IO" && !n++ {print $2}') || true
      [[ -n $io && $io -le $((N + 9)) && $io -ge $(((N + 9) * 99 / 100)) ]] ||
        fail "record's trace has ${io:-no} KVM_EXIT_IO, not about $((N + 9)): $(cat "$WORK/rec.out")"
      rm -f "$WORK/trace.json" ;;
    perf)
      wait "$PERF_PID" || st=$?   # ends by itself when QEMU exits
      PERF_PID=
      exec {CTL_FD}>&- {ACK_FD}>&-
      CTL_FD='' ACK_FD=''
      ((st == 0)) || fail "perf record ended with status $st: $(cat "$WORK/perf.out")"
      extra1=$(sed -nE 's/^\[ perf record: Captured and wrote .* \(([0-9]+) samples\) \]$/\1/p' "$WORK/perf.out")
      [[ -s $WORK/perf.data && -n $extra1 ]] || fail "perf wrote no data: $(cat "$WORK/perf.out")"
      extra2=$(stat -c %s "$WORK/perf.data")
      local lost
      lost=$(perf report -i "$WORK/perf.data" --stats 2>/dev/null | awk '/^ *LOST events:/ && !n++ {print $3}')
      [[ -z $lost || $lost == 0 ]] || echo "  (perf lost $lost chunks of events)" >&2
      rm -f "$WORK/perf.data" ;;
  esac
  echo "$MS $extra1 $extra2" >>"$WORK/$kind.dat"
  printf '  %-24s %10.1f ms  %10.0f exits/s\n' "${NAME[$kind]}" "$MS" \
    "$(awk -v e=$((N + 9)) -v m="$MS" 'BEGIN {print e / (m / 1000)}')" >&2
}

echo "QEMU exit rate watched: exit BIOS, N=$N, $ROUNDS rounds × $NC configurations" >&2
[[ -z $PERF_SKIP ]] || echo "perf record skipped: $PERF_SKIP" >&2
start_qemu "$WORK/bios0.bin"  # warm-up, and QEMU's fixed cont-to-exit time
cont_and_wait
FIXED_MS=$MS
for ((r = 0; r < ROUNDS; r++)); do
  echo "round $((r + 1))/$ROUNDS" >&2
  for i in $(balanced_order "$NC" "$r"); do run_one "${RUN[i]}"; done
done

echo
echo "QEMU exit rate watched — exit BIOS, N=$N ($((N + 9)) KVM_EXIT_IO), $ROUNDS rounds interleaved, medians"
echo "host: $(uname -r), $(nproc) CPUs, $(awk -F ': ' '/^model name/ && !n++ {print $2}' /proc/cpuinfo)"
echo "$("$QEMU" --version | awk 'NR == 1'); time = QMP cont → QEMU exit (N=0: $(printf '%.1f' "$FIXED_MS") ms)"
printf '%-24s %12s %12s %12s  %s\n' configuration "median ms" "exits/s" "vs untraced" notes
base=
for kind in "${KINDS[@]}"; do
  if [[ ! -f $WORK/$kind.dat ]]; then
    printf '%-24s %12s %12s %12s  skipped: %s\n' "${NAME[$kind]}" - - - "$PERF_SKIP"
    continue
  fi
  ms=$(awk '{print $1}' "$WORK/$kind.dat" | median)
  base=${base:-$ms}
  e1=$(awk '{print $2}' "$WORK/$kind.dat" | median)
  e2=$(awk '{print $3}' "$WORK/$kind.dat" | median)
  case $kind in
    top) note="kvmscope top --interval 0.5 (all VMs)" ;;
    record) note=$(awk -v e="$e1" -v b="$e2" 'BEGIN {printf "trace: %d events, %.1f MiB JSON", e, b / 1048576}') ;;
    perf) note=$(awk -v e="$e1" -v b="$e2" 'BEGIN {printf "perf.data: %d samples, %.1f MiB", e, b / 1048576}') ;;
    *) note= ;;
  esac
  printf '%-24s %12.1f %12.0f %12.3f  %s\n' "${NAME[$kind]}" "$ms" \
    "$(awk -v e=$((N + 9)) -v m="$ms" 'BEGIN {print e / (m / 1000)}')" \
    "$(awk -v m="$ms" -v b="$base" 'BEGIN {print b / m}')" "$note"
done
[[ -n $PERF_SKIP ]] || echo "perf record ${PERF_DESC# } -p QEMU_PID"
exit 0
