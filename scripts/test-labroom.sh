#!/usr/bin/env bash
# The lab-room set-up of README.md ("Install on lab machines"), tested for
# real: a student who is not root, in group kvm, runs a copy of kvmscope that
# carries the file capabilities cap_bpf,cap_perfmon,cap_sys_resource.
#   - tracing their own guest works once tracefs is readable by group kvm, and
#     says what the administrator must do while it is not;
#   - --system-wide, and another user's VMM by pid (record, top), are refused
#     with a clear message; `top` and `vms` do not show another user's VM;
#   - files are written as the student, and not where the student may not write;
#   - nothing in the student's environment makes kvmscope load a library:
#     LD_PRELOAD (glibc's secure mode) and LIBGL_DRIVERS_PATH (Mesa's loader,
#     which honours it whenever uid == euid, so kvmscope drops it). The same
#     copy without capabilities does load both: the check can fail.
# Needs root (to create the user and set capabilities), /dev/kvm and BPF;
# exits 77 (skipped) saying why where the host lacks them.
# usage: scripts/test-labroom.sh BUILD_DIR
set -euo pipefail
BUILD=$(cd "${1:?usage: test-labroom.sh BUILD_DIR}" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

[[ $(id -u) -eq 0 ]] || skip "creating a student user and setting file capabilities needs root"
[[ -c /dev/kvm ]] || skip "no /dev/kvm on this host"
getent group kvm >/dev/null || skip "no group kvm on this host (udev's rule for /dev/kvm makes it)"
command -v setcap >/dev/null || skip "setcap missing (Debian package libcap2-bin)"
for t in Xvfb gcc jq; do command -v $t >/dev/null || skip "$t missing (scripts/setup.sh installs it)"; done

STUDENT=kvmscope-student
WORK=$(mktemp -d /tmp/kvmscope-labroom.XXXXXX)
chmod 755 "$WORK"
TRACEFS=/sys/kernel/tracing
TRACEFS_OPTS=""
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  pkill -u "$STUDENT" 2>/dev/null || true  # anything of the student's still running
  wait 2>/dev/null || true
  # A remount changes only what it names: gid and mode, as they were (the
  # kernel lists neither when they are the defaults, root's 0700).
  if [[ -n $TRACEFS_OPTS ]]; then
    local gid=0 mode=0700 o
    for o in ${TRACEFS_OPTS//,/ }; do
      case $o in gid=*) gid=${o#gid=} ;; mode=*) mode=${o#mode=} ;; esac
    done
    mount -o "remount,gid=$gid,mode=$mode" $TRACEFS 2>/dev/null || true
  fi
  userdel -f "$STUDENT" 2>/dev/null || true  # -f: a zombie nobody reaps may still bear its uid
  rm -rf "$WORK"
}
trap cleanup EXIT

# --- The set-up, as README.md tells the administrator ------------------------
getent passwd "$STUDENT" >/dev/null && userdel -f "$STUDENT"
useradd --no-create-home --home-dir "$WORK/home" --groups kvm --shell /bin/bash "$STUDENT"
install -d -o "$STUDENT" -g "$STUDENT" "$WORK/home"
install -m 755 "$BUILD/app/kvmscope" "$WORK/kvmscope"        # with capabilities
install -m 755 "$BUILD/app/kvmscope" "$WORK/kvmscope-plain"  # the same program without
# Only capabilities this machine's bounding set holds can be granted; with
# "=ep" a missing one makes exec fail. (Containers often drop cap_sys_resource,
# which kernels since 5.11 do not need for BPF: memory is charged to the cgroup.)
WANTED=(cap_bpf:39 cap_perfmon:38 cap_sys_resource:24)
bounding=$((16#$(awk '/^CapBnd/ {print $2}' /proc/self/status)))
CAPS=()
for c in "${WANTED[@]}"; do
  if (( (bounding >> ${c#*:}) & 1 )); then CAPS+=("${c%:*}"); else
    echo "note: ${c%:*} is not in this machine's capability bounding set (not even root has it): not granted"
  fi
done
(( (bounding >> 39) & 1 && (bounding >> 38) & 1 )) || skip "cap_bpf and cap_perfmon are not in the bounding set"
CAPSET=$(IFS=,; echo "${CAPS[*]}")
setcap "$CAPSET=ep" "$WORK/kvmscope" || skip "setcap failed on $WORK (a file system without extended attributes?)"
echo "granted: $(getcap "$WORK/kvmscope")"

# exec: the background job's pid is the student's process itself (killed and
# reaped by this script, never left running on its own).
as_student() { (cd "$WORK/home" && exec setpriv --reuid="$STUDENT" --regid="$STUDENT" --init-groups \
  env -i HOME="$WORK/home" PATH=/usr/bin:/bin KVMSCOPE_LABS="$SRC/labs" "$@"); }
KS="$WORK/kvmscope"
# A command's output and exit status, for the checks below.
run_student() { set +e; OUT=$(as_student "$@" 2>&1); RC=$?; set -e; }

# tracefs as this host has it; restored on exit.
grep -q " $TRACEFS tracefs " /proc/mounts || mount -t tracefs nodev $TRACEFS
TRACEFS_OPTS=$(awk -v d=$TRACEFS '$2 == d && $3 == "tracefs" {print $4}' /proc/mounts)
mount -o remount,gid=0,mode=0700 $TRACEFS

# --- tracefs still root's: the VMM runs, and the message says what to do -----
run_student "$KS" run --guest hello --quiet
[[ $RC -eq 0 ]] || fail "hello as the student without tracefs access: exit $RC: $OUT"
grep -q "tracefs at $TRACEFS is not readable by this user" <<<"$OUT" || fail "no tracefs advice: $OUT"
grep -q "mount -o remount,gid=kvm,mode=0750" <<<"$OUT" || fail "the advice lacks the command: $OUT"
ok "tracefs root's alone: the guest runs untraced and the student is told the administrator's command"

mount -o remount,gid="$(getent group kvm | cut -d: -f3)",mode=0750 $TRACEFS

# --- doctor and a traced run of the student's own guest ----------------------
run_student "$KS" doctor
[[ $RC -eq 0 ]] || fail "doctor as the student: exit $RC: $OUT"
grep -q "not root, with the capabilities cap_bpf, cap_perfmon" <<<"$OUT" || fail "doctor: $OUT"
grep -q "verdict: kernel tracing works" <<<"$OUT" || fail "doctor verdict: $OUT"
ok "doctor as the student: $(grep '^privileges' <<<"$OUT")"

run_student "$KS" run --guest hello --quiet -o "$WORK/home/hello.json" --chrome "$WORK/home/hello.trace.json"
[[ $RC -eq 0 ]] || fail "traced hello as the student: exit $RC: $OUT"
for f in hello.json hello.trace.json; do
  [[ $(stat -c %U "$WORK/home/$f") == "$STUDENT" ]] || fail "$f is owned by $(stat -c %U "$WORK/home/$f")"
done
grep -q "KVM's own counters: exits" <<<"$OUT" || fail "no KVM_GET_STATS_FD counters for the student: $OUT"
pio=$(jq '.kernel_counts.kinds.kvm_pio.received' "$WORK/home/hello.json")
[[ $pio -gt 0 ]] || fail "no kvm_pio events in the student's trace"
ok "traced hello as the student: $pio kvm_pio events, KVM's own counters; files owned by $STUDENT"

run_student "$KS" run --guest hello --quiet -o /root/kvmscope-labroom.json
[[ $RC -eq 2 && ! -e /root/kvmscope-labroom.json ]] || fail "-o /root/...: exit $RC, $OUT"
ok "-o into /root refused (exit 2): $(head -1 <<<"$OUT")"

run_student "$KS" run --guest hello --quiet --system-wide
[[ $RC -eq 3 ]] && grep -q "needs root" <<<"$OUT" || fail "--system-wide as the student: exit $RC: $OUT"
ok "--system-wide refused: $OUT"

# --- Another user's VM: refused by pid, invisible in top and vms --------------
"$BUILD/app/kvmscope" run --guest pio-loop --param 400000001 --no-probes --quiet >/dev/null 2>&1 &
ROOT_VM=$!; PIDS+=($ROOT_VM)
# The student's own VMM is an ordinary program (as a QEMU would be): a process
# started with capabilities keeps its /proc/PID/fd closed even to its user.
as_student "$WORK/kvmscope-plain" run --guest pio-loop --param 400000002 --no-probes --quiet >/dev/null 2>&1 &
PIDS+=($!)
sleep 1
STUDENT_VM=$(pgrep -u "$STUDENT" -f "param 400000002" | head -1)
[[ -n $STUDENT_VM ]] || fail "the student's VM did not start"

run_student "$KS" record --pid "$ROOT_VM" --duration 1 -o "$WORK/home/root.json"
[[ $RC -eq 3 && ! -e $WORK/home/root.json ]] || fail "record --pid of root's VM: exit $RC: $OUT"
grep -q "belongs to another user" <<<"$OUT" || fail "record --pid message: $OUT"
ok "record --pid of root's VM refused: $OUT"
run_student "$KS" top --pid "$ROOT_VM" --once
[[ $RC -eq 3 ]] && grep -q "belongs to another user" <<<"$OUT" || fail "top --pid of root's VM: exit $RC: $OUT"
ok "top --pid of root's VM refused"

as_student "$KS" run --guest pio-loop --param 400000003 --no-probes --quiet >/dev/null 2>&1 &
PIDS+=($!)
sleep 0.5
CAPPED_VM=$(pgrep -u "$STUDENT" -f "param 400000003" | head -1)
run_student "$KS" record --pid "$CAPPED_VM" --duration 1 -o "$WORK/home/capped.json"
[[ $RC -eq 3 ]] && grep -q "is yours but runs with privileges" <<<"$OUT" || fail "record --pid of a capable kvmscope: exit $RC: $OUT"
ok "record --pid of the student's own kvmscope (with capabilities): $OUT"

run_student "$KS" record --pid "$STUDENT_VM" --duration 1 -o "$WORK/home/own.json"
[[ $RC -eq 0 ]] || fail "record --pid of the student's own VM: exit $RC: $OUT"
own=$(jq '.kernel_counts.kinds.kvm_pio.received' "$WORK/home/own.json")
[[ $own -gt 0 ]] || fail "no kvm_pio events recorded from the student's own VM"
ok "record --pid of the student's own VM: $own kvm_pio events"

run_student "$KS" top --once --interval 1
[[ $RC -eq 0 ]] || fail "top --once as the student: exit $RC: $OUT"
grep -qw "$STUDENT_VM" <<<"$OUT" || fail "top as the student does not show their VM $STUDENT_VM: $OUT"
grep -qw "$ROOT_VM" <<<"$OUT" && fail "top as the student shows root's VM $ROOT_VM: $OUT"
root_top=$("$BUILD/app/kvmscope" top --once --interval 1 2>&1)
grep -qw "$ROOT_VM" <<<"$root_top" || fail "control: top as root does not show root's VM either: $root_top"
ok "top as the student counts their VM $STUDENT_VM only; as root it shows $ROOT_VM too"

run_student "$KS" vms
grep -q "param 400000001" <<<"$OUT" && fail "vms as the student shows root's command line: $OUT"
grep -q "param 400000002" <<<"$OUT" || fail "vms as the student does not show their own VM: $OUT"
ok "vms as the student: their own VM, root's only as 'not permitted'"
for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done

# --- Nothing the student passes loads a library into kvmscope -----------------
mkdir -m 1777 "$WORK/marks" "$WORK/evil"
cat > "$WORK/evil/mark.c" <<'EOF'
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
__attribute__((constructor)) static void mark(void) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s-%d", MARKS, NAME, getpid());
  close(open(path, O_CREAT | O_WRONLY, 0644));
}
EOF
gcc -shared -fPIC -DMARKS="\"$WORK/marks\"" -DNAME='"preload"' -o "$WORK/evil/preload.so" "$WORK/evil/mark.c"
gcc -shared -fPIC -DMARKS="\"$WORK/marks\"" -DNAME='"dri"' -o "$WORK/evil/swrast_dri.so" "$WORK/evil/mark.c"
Xvfb :77 -ac -nolisten tcp >/dev/null 2>&1 &
PIDS+=($!)
sleep 1
loads() {  # loads BINARY: which marker libraries a student's run of BINARY loaded
  rm -f "$WORK/marks"/*
  as_student env LD_PRELOAD="$WORK/evil/preload.so" "$1" --version >/dev/null 2>&1 || true
  as_student env DISPLAY=:77 LIBGL_DRIVERS_PATH="$WORK/evil" "$1" gui --no-probes --guest hello \
    --screenshot "$WORK/home/shot.png" --frames 2 >/dev/null 2>&1 || true
  ls "$WORK/marks" | sed 's/-.*//' | sort -u | tr '\n' ' '
}
plain=$(loads "$WORK/kvmscope-plain")
[[ $plain == *preload* && $plain == *dri* ]] || fail "control: without capabilities the markers loaded were '$plain' (expected preload and dri): the check would prove nothing"
capped=$(loads "$KS")
[[ -z $capped ]] || fail "kvmscope with capabilities loaded the student's libraries: $capped"
ok "LD_PRELOAD and LIBGL_DRIVERS_PATH: loaded by the copy without capabilities ($plain), ignored by the one with them"
# The environment kvmscope keeps, as its children see it: `run --guest-asm`
# runs `as` from PATH. A stand-in `as` writes down its environment and its
# capabilities (a child of a kvmscope with capabilities has none).
mkdir -m 755 "$WORK/fakebin"
printf '#!/bin/sh\n{ env; grep CapEff /proc/self/status; } > %s/marks/as-env\nexit 1\n' "$WORK" \
  > "$WORK/fakebin/as"
chmod 755 "$WORK/fakebin/as"
printf 'hlt\n' > "$WORK/home/g.S"
as_student env PATH="$WORK/fakebin:/usr/bin:/bin" HOME="$WORK/home" LIBGL_DRIVERS_PATH="$WORK/evil" \
  "$KS" run --guest-asm "$WORK/home/g.S" --no-probes >/dev/null 2>&1 || true
[[ -f $WORK/marks/as-env ]] || fail "the stand-in as did not run"
seen=$(cat "$WORK/marks/as-env")
grep -q '^HOME=' <<<"$seen" && fail "HOME kept under secure-exec: $seen"
grep -q '^LIBGL_DRIVERS_PATH=' <<<"$seen" && fail "LIBGL_DRIVERS_PATH kept: $seen"
grep -q '^MESA_SHADER_CACHE_DISABLE=true$' <<<"$seen" || fail "Mesa's shader cache is not off: $seen"
grep -q '^CapEff:[[:space:]]*0*$' <<<"$seen" || fail "a child of kvmscope holds capabilities: $seen"
ok "with capabilities: no HOME, no LIBGL_DRIVERS_PATH, Mesa's shader cache off; children hold no capabilities"

# A command that only reads files gives its capabilities up first: its
# /proc/PID/status (readable by root) shows none while it reads from a FIFO
# that the test holds open.
mkfifo -m 666 "$WORK/home/slow.json"
as_student "$KS" stats "$WORK/home/slow.json" >/dev/null 2>&1 &
READER=$!; PIDS+=($READER)
sleep 1
reader=$(pgrep -u "$STUDENT" -f "stats $WORK/home/slow.json" | head -1)
[[ -n $reader ]] || fail "stats on the FIFO did not start"
caps=$(awk '/^CapPrm/ {print $2}' "/proc/$reader/status")
exec 9>"$WORK/home/slow.json"; exec 9>&-  # let it read the end and fail
[[ $caps =~ ^0+$ ]] || fail "stats holds the permitted capabilities $caps while reading a student's file"
# The control: a command that traces keeps them.
as_student "$KS" run --guest pio-loop --param 400000004 --no-probes --quiet >/dev/null 2>&1 &
PIDS+=($!)
sleep 0.5
runner=$(pgrep -u "$STUDENT" -f "param 400000004" | head -1)
[[ -n $runner ]] || fail "the control run did not start"
held=$(awk '/^CapPrm/ {print $2}' "/proc/$runner/status")
[[ ! $held =~ ^0+$ ]] || fail "control: run holds no capabilities either ($held): the check proves nothing"
ok "stats reads the student's file with no capabilities (CapPrm $caps; run keeps $held)"
echo "PASS: lab-room set-up as $STUDENT with $CAPSET"
