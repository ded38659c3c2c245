#!/bin/sh
# Runs inside a test host (scripts/test-host.sh) as the last step of its boot:
# loads the vendor KVM module, mounts what kvmscope needs, then runs each line
# of the steps file and powers off. POSIX sh (busybox on the VMX host).
#
# Steps file lines:  LABEL<TAB>COMMAND   ('#' lines and empty lines skipped)
# Output, on the console (the host reads it from the serial port):
#   @@HOST key=value ...            facts of this host
#   @@STEP LABEL                    before a step's output
#   @@END LABEL rc=N secs=S         after it
#   @@DONE                          all steps ran
# usage: test-host-inside.sh STEPS_FILE STEP_TIMEOUT VENDOR_MODULE [MODULE_ARGS...]
#   STEP_TIMEOUT: seconds (emulated time) after which a step is ended (a hang
#   costs that step, not the whole host)
steps=$1
step_timeout=$2
module=$3
shift 3
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb
up() { cut -d' ' -f1 /proc/uptime; }

[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd   # bash's <(...) needs it; devtmpfs lacks it
mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null
mount -t debugfs nodev /sys/kernel/debug 2>/dev/null
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
ulimit -l unlimited 2>/dev/null
cd /tmp || exit 1

modprobe "$module" "$@"
echo "@@HOST module=$module modprobe=$? uptime=$(up)"
params=""
for p in /sys/module/"$module"/parameters/*; do
  case "${p##*/}" in ept|npt|nrips|unrestricted_guest|vpid|avic|enable_apicv|nested)
    params="$params ${p##*/}=$(cat "$p" 2>/dev/null)";;
  esac
done
echo "@@HOST params=$params"
echo "@@HOST kernel=$(uname -r) kvm=$(test -c /dev/kvm && echo yes || echo no) kprobes=$(cat /sys/kernel/debug/kprobes/enabled 2>/dev/null)"

tab=$(printf '\t')
while IFS="$tab" read -r label cmd; do
  case "$label" in ''|'#'*) continue;; esac
  echo "@@STEP $label"
  t0=$(up)
  timeout "$step_timeout" sh -c "$cmd" 2>&1 </dev/null
  rc=$?
  echo "@@END $label rc=$rc secs=$(echo "$t0 $(up)" | awk '{printf "%.1f", $2-$1}')"
done < "$steps"
echo "@@DONE uptime=$(up)"
sync
sleep 3   # let the UART drain: power-off does not wait for the console
echo o > /proc/sysrq-trigger
sleep 30
