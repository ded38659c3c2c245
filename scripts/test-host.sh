#!/usr/bin/env bash
# kvmscope's real-KVM and real-BPF tests on a second, real KVM backend, by
# emulation, with Debian's own kernel (kprobes, fentry, BTF, kvm_amd /
# kvm_intel as modules):
#   svm  AMD SVM with nested paging: QEMU's TCG emulator (-cpu qemu64,+svm,+npt),
#        this machine's root shared read-only over 9p; about 5–10 minutes.
#   vmx  Intel VMX with EPT, unrestricted guest and VPID: Bochs (corei7_skylake_x);
#        no 9p there, so the tests and their libraries go into the initramfs and
#        the results come back on the serial port; then again with kvm_intel
#        ept=0 (shadow paging); what differs by vendor only (see Steps); about
#        15 minutes.
# Inside, the host runs the test binaries that need /dev/kvm and BPF (see
# Steps below), brings their output out, and this script prints one line per
# failed test and a summary ending in the plain line "N passed, N failed".
# Exit status: 0 all passed, 1 a test failed or the host did not finish,
# 2 usage, 77 skipped (no emulator or kernel package here: the reason is
# printed).
#
# usage: scripts/test-host.sh svm|vmx [--build DIR] [--keep] [--run COMMAND]
#   --build DIR    the build folder holding app/kvmscope and tests/* (default: build)
#   --keep         keep the work folder (/tmp/kvmscope-host-BACKEND) for a look
#   --run COMMAND  instead of the tests, run COMMAND inside (as root, cwd /tmp)
#                  and print its output (svm only: it needs this machine's files;
#                  scripts/bench_probes.sh --host svm uses it)
# env: KVMSCOPE_HOST_TIMEOUT  seconds before the emulator is ended (default 1500 svm, 2400 vmx)
#      KVMSCOPE_HOST_FILTER   a gtest filter for every test binary inside (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
[ $# -ge 1 ] || usage
BACKEND=$1; shift
case "$BACKEND" in svm|vmx) ;; -h|--help) usage;; *) echo "test-host: unknown backend '$BACKEND' (svm or vmx)" >&2; exit 2;; esac
BUILD=build
KEEP=0
RUN=
while [ $# -gt 0 ]; do
  case "$1" in
    --build) BUILD=${2:?--build needs a folder}; shift 2;;
    --keep) KEEP=1; shift;;
    --run) RUN=${2:?--run needs a command}; shift 2;;
    *) echo "test-host: unknown option '$1'" >&2; exit 2;;
  esac
done
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "test-host: no build folder '$BUILD': run scripts/setup.sh first" >&2; exit 2; }
WORK=/tmp/kvmscope-host-$BACKEND
T0=$(date +%s)
log() { printf 'test-host %s [%4ds] %s\n' "$BACKEND" $(( $(date +%s) - T0 )) "$*"; }
skip() { echo "test-host $BACKEND: skipped: $*"; echo "0 passed, 0 failed"; exit 77; }

# --- What the host needs ------------------------------------------------------
if [ "$BACKEND" = svm ]; then
  tools=(qemu-system-x86_64 busybox cpio gzip modinfo)
else
  tools=(bochs-bin busybox cpio gzip modinfo depmod syslinux mcopy mkfs.vfat)
fi
for t in "${tools[@]}"; do
  command -v "$t" >/dev/null || skip "no $t here (scripts/setup.sh installs it: qemu-system-x86, bochs, busybox-static, cpio, kmod, syslinux, mtools, dosfstools)"
done
# Debian's own kernel: the version linux-image-amd64 points at.
K=$(dpkg-query -W -f='${Depends}' linux-image-amd64 2>/dev/null | grep -o 'linux-image-[0-9][^ ,]*' | head -1 || true)
K=${K#linux-image-}
[ -n "$K" ] && [ -r "/boot/vmlinuz-$K" ] && [ -d "/lib/modules/$K" ] ||
  skip "no Debian kernel package (linux-image-amd64) installed: scripts/setup.sh installs it"
[ "$(id -u)" = 0 ] || skip "building the host's initramfs and running KVM in it needs root"
KVMSCOPE=$BUILD/app/kvmscope
[ -x "$KVMSCOPE" ] || { echo "test-host: $KVMSCOPE is not built: run scripts/setup.sh" >&2; exit 2; }

rm -rf "$WORK"; mkdir -p "$WORK"
trap '[ $KEEP = 1 ] || rm -rf "$WORK"' EXIT

# --- Steps: what runs inside --------------------------------------------------
# One line per step: LABEL<TAB>COMMAND. Test binaries print gtest's lines.
FILTER=${KVMSCOPE_HOST_FILTER:-*}
gtest() {  # gtest LABEL BINARY [FILTER] [ENV...]
  local label=$1 bin=$BUILD/tests/$2 filter=${3:-$FILTER}; shift 3 || shift $#
  [ -x "$bin" ] || { echo "test-host: $bin is not built" >&2; exit 2; }
  printf '%s\t%s %s --gtest_filter=%q --gtest_color=no\n' "$label" "$*" "$bin" "$filter"
}
ALL_ATTACH="KVMSCOPE_REQUIRE_ATTACH=kprobe,fentry,tracepoint"
STEPS=$WORK/steps.txt
# Seconds inside before a step is ended as hung. Bochs's clock is emulated and
# runs about 35 times slower than this machine's: there the host's time limit
# (KVMSCOPE_HOST_TIMEOUT) is the one that counts.
STEP_TIMEOUT=600
[ "$BACKEND" = vmx ] && STEP_TIMEOUT=120
# Kicking a vCPU out of guest code that never exits is not reliable under
# either emulator (seen: a guest spinning in supervisor code never came back
# under Bochs in 5 minutes; QEMU's SVM lost one of RandomGuests' watchdog
# kicks in three runs). Those tests run on PVM (and real hardware) only.
no_kick="-RandomGuests.*:Catalog/EveryGuest.PassesItsSelfCheck/spin:Control.WatchdogEndsASpinningGuestWithinItsBudget"
no_kick+=":Control.PauseKicksASpinningVcpuOutAndResumeGoesOn:Control.StopFromAnotherThreadEndsTheRun"
no_kick+=":Cli.GuestFailureAndWatchdogHaveTheirStatus:Cli.InterruptStopsTheGuestCleanly:CliBpfCleanup.*"
vmm_filter=$FILTER
[[ $FILTER == *-* ]] || vmm_filter=$FILTER$no_kick
# backend_tests checks the catalog's promises on every run it makes: the
# catalog's own live runs would repeat them.
promises_filter=$FILTER
[[ $FILTER == *-* ]] || promises_filter="$FILTER-Catalog/LivePromises.*"
# The stream budget's tests need a backend that emulates the guest's
# instructions (PVM): VMX and SVM run them in hardware and the tests skip.
probes_filter=$FILTER
[[ $FILTER == *-* ]] || probes_filter="$FILTER-RawOrPerf/StreamBudget.*"
if [ -n "$RUN" ]; then
  [ "$BACKEND" = svm ] || { echo "test-host: --run works on the svm host only" >&2; exit 2; }
  MODULE=kvm_amd
  printf 'run\t%s\n' "$RUN" > "$STEPS"
elif [ "$BACKEND" = svm ]; then
  MODULE=kvm_amd
  {
    gtest vmm vmm_tests "$vmm_filter"
    gtest probes probes_tests "$probes_filter"
    gtest backend backend_tests "$FILTER" "$ALL_ATTACH"
    gtest catalog-paths catalog_paths_tests "$promises_filter"
    gtest cli cli_tests "$vmm_filter"
    gtest labs lab_tests "LabCli.EveryShippedLabsReferenceAnswersPassLive" \
      "KVMSCOPE_LAB_SUBSET=run-loop,exceptions,page-faults,in-kernel-exits,two-vcpus"
    # A Debian QEMU inside the emulated AMD machine, recorded by pid (kvm_exit
    # fires here); KVM's counters from debugfs if it gives them, else QMP.
    gtest record-pid cli_record_tests \
      "CliRecord.RecordsAQemuVm*:CliRecord.KvmsOwnCounters*:CliRecord.QmpCounters*"
  } > "$STEPS"
else
  MODULE=kvm_intel
  # Bochs is about 20 times slower than QEMU's TCG, and every tracing
  # session costs it about 35 s (loading, attaching, reading kallsyms twice).
  # The SVM host runs the same kernel: here only what differs by vendor. The
  # whole catalog under kprobes (vmx_handle_exit and every exit reason);
  # fentry and the tracepoints with the guests whose paths are the vendor's
  # (EPT violations, exceptions, two vCPUs); the live probe tests but those
  # of the syscall edges and raw tracepoints, the ring buffer and the
  # process filter; and the page-fault path again with shadow paging. The CLI suite stays on the
  # SVM host. The initramfs has no assembler: the --guest-asm tests (no KVM
  # in them) stay out too.
  [[ $vmm_filter == *-* ]] && vmm_filter+=":TempFiles.AssembleGuest*"
  vendor_probes=$probes_filter
  [[ $FILTER == *-* ]] || vendor_probes+=":ProbesLive.RawTracepoints*:ProbesLive.RawKvmTracepoints*:ProbesLive.ATinyRingBuffer*:Guests/ExitHeavy.*:ProbesLive.TheVmmMakes*:ProbesLive.SymbolsAreRead*:ProbesLive.UnderItsBudget*:ProbesByPid.*"
  vendor_backend=$FILTER
  if [[ $FILTER != *-* ]]; then
    vendor_backend="*/kprobe_*:BackendDoctor.*"
    for m in fentry tracepoint; do
      for g in pagefault exceptions smp; do vendor_backend+=":*/${m}_$g"; done
    done
  fi
  {
    gtest vmm vmm_tests "$vmm_filter"
    gtest probes probes_tests "$vendor_probes"
    gtest backend backend_tests "$vendor_backend" "$ALL_ATTACH"
    gtest catalog-paths catalog_paths_tests "$promises_filter"
    printf 'ept=0\t%s\n' \
      "rmmod kvm_intel && modprobe kvm_intel ept=0 && grep -H . /sys/module/kvm_intel/parameters/ept"
    gtest shadow-backend backend_tests "*kprobe_pagefault:*kprobe_exceptions:*tracepoint_pagefault" "$ALL_ATTACH"
    gtest shadow-probes probes_tests "ProbesLive.Pagefault*:ProbesLive.Hello*"
    # Shadow paging here: the page-fault lab's answers are this machine's own.
    gtest labs lab_tests "LabCli.EveryShippedLabsReferenceAnswersPassLive" \
      "KVMSCOPE_LAB_SUBSET=run-loop,page-faults"
  } > "$STEPS"
fi
cp scripts/test-host-inside.sh "$WORK/inside.sh"
log "kernel $K, $(grep -c . "$STEPS") steps: $(cut -f1 "$STEPS" | tr '\n' ' ')"

# Module files (and their dependencies, first) into ROOTDIR at their paths.
add_module() {  # add_module ROOTDIR NAME
  local root=$1 m=$2 f d
  f=$(modinfo -k "$K" -n "$m" 2>/dev/null) || return 0
  case "$f" in /*) ;; *) return 0;; esac   # built in
  for d in $(modinfo -k "$K" -F depends "$m" | tr ',' ' '); do add_module "$root" "$d"; done
  mkdir -p "$root$(dirname "$f")"; cp "$f" "$root$f"
}

SERIAL=$WORK/serial.log
# The project's folders that live under /tmp (a CI clone): the SVM host keeps
# them visible under its scratch /tmp.
KEEP_PATHS=
for p in "$ROOT" "$BUILD"; do
  case "$p" in /tmp/*) KEEP_PATHS+=" $p";; esac
done
# --- SVM: QEMU TCG, root over 9p ------------------------------------------------
run_svm() {
  local ir=$WORK/initramfs
  mkdir -p "$ir"/{bin,dev,proc,sys,newroot}
  cp "$(command -v busybox)" "$ir/bin/busybox"
  local mods="virtio_pci 9pnet_virtio 9p"
  for m in $mods; do add_module "$ir" "$m"; done
  cp /lib/modules/"$K"/modules.{order,builtin,builtin.modinfo} "$ir/lib/modules/$K/" 2>/dev/null || true
  depmod -b "$ir" "$K"
  cat > "$ir/init" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $mods; do modprobe \$m; done
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 hostroot /newroot ||
  { echo "@@FATAL cannot mount the host's root over 9p"; echo o > /proc/sysrq-trigger; }
# Writable scratch over the read-only root; a project under /tmp (a CI clone)
# stays visible through a bind mount of the host's /tmp made first.
mkdir -p /hosttmp; mount --bind /newroot/tmp /hosttmp
for d in tmp run var/tmp root; do mount -t tmpfs -o mode=1777 tmpfs /newroot/\$d; done
for p in $KEEP_PATHS; do mkdir -p /newroot\$p; mount --bind /hosttmp\${p#/tmp} /newroot\$p; done
mkdir -p /newroot/tmp/host
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=none,msize=512000 work /newroot/tmp/host ||
  { echo "@@FATAL cannot mount the work folder over 9p"; echo o > /proc/sysrq-trigger; }
mount --move /proc /newroot/proc; mount --move /sys /newroot/sys; mount --move /dev /newroot/dev
exec switch_root /newroot /bin/sh /tmp/host/inside.sh /tmp/host/steps.txt $STEP_TIMEOUT $MODULE
EOF
  chmod +x "$ir/init"
  (cd "$ir" && find . | cpio -o -H newc --quiet | gzip -1) > "$WORK/initrd.gz"
  # One CPU: with two, the host froze once (soft lockups on both CPUs while
  # a guest ran) on a loaded machine; with one there are no cross-CPU IPIs
  # for the emulator to lose, and the smp guest still gets its two vCPUs.
  log "booting Debian $K under QEMU TCG (-cpu qemu64,+svm,+npt, one CPU)"
  timeout "${KVMSCOPE_HOST_TIMEOUT:-1500}" qemu-system-x86_64 -accel tcg -machine q35 \
    -cpu qemu64,+svm,+npt -smp 1 -m 3G -nographic -no-reboot -nodefaults -serial stdio \
    -kernel "/boot/vmlinuz-$K" -initrd "$WORK/initrd.gz" \
    -append "console=ttyS0 quiet loglevel=3 panic=1 mitigations=off tsc=reliable" \
    -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
    -virtfs local,path="$WORK",mount_tag=work,security_model=none,readonly=on \
    </dev/null 2>&1 | Progress > "$SERIAL" || true
}

# --- VMX: Bochs, everything in the initramfs -----------------------------------
run_vmx() {
  local ir=$WORK/initramfs
  mkdir -p "$ir"/{bin,sbin,dev,proc,sys,tmp,root,etc,lib64,tmp/host}
  cp "$(command -v busybox)" "$ir/bin/busybox"
  add_module "$ir" kvm_intel
  cp /lib/modules/"$K"/modules.{order,builtin,builtin.modinfo} "$ir/lib/modules/$K/" 2>/dev/null || true
  depmod -b "$ir" "$K"
  # The binaries at their own absolute paths (tests find kvmscope there), and
  # every library they load.
  local bins=("$KVMSCOPE") b l
  while IFS=$'\t' read -r _ cmd; do
    for w in $cmd; do case "$w" in "$BUILD"/tests/*) bins+=("$w");; esac; done
  done < "$STEPS"
  for b in $(printf '%s\n' "${bins[@]}" | sort -u); do
    mkdir -p "$ir$(dirname "$b")"; cp "$b" "$ir$b"; strip --strip-unneeded "$ir$b" 2>/dev/null || true
    for l in $(ldd "$b" | awk '/=>/ {print $3}'); do
      mkdir -p "$ir$(dirname "$l")"; [ -e "$ir$l" ] || cp -L "$l" "$ir$l"
    done
  done
  cp -L /lib64/ld-linux-x86-64.so.2 "$ir/lib64/"
  # The recorded traces some tests read, at their path too.
  mkdir -p "$ir$ROOT/tests"; cp -r "$ROOT/tests/data" "$ir$ROOT/tests/"
  # The labs the lab tests lint, at their path too.
  cp -r "$ROOT/labs" "$ir$ROOT/"
  echo "root:x:0:0:root:/root:/bin/sh" > "$ir/etc/passwd"
  cp "$WORK/inside.sh" "$STEPS" "$ir/tmp/host/"
  cat > "$ir/init" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
mkdir -p /tmp/host   # the initramfs is writable: no tmpfs over /tmp (it would hide a project there)
exec /bin/sh /inside.sh /steps.txt $STEP_TIMEOUT $MODULE
EOF
  mv "$ir/tmp/host/inside.sh" "$ir/inside.sh"; mv "$ir/tmp/host/steps.txt" "$ir/steps.txt"
  chmod +x "$ir/init"
  (cd "$ir" && find . | cpio -o -H newc --quiet | gzip -1) > "$WORK/initrd.gz"
  # A boot disk: one FAT file system with SYSLINUX, the kernel and the
  # initramfs, in whole cylinders of 16 heads x 63 sectors (Bochs's geometry).
  local ksz isz cyl
  ksz=$(stat -c %s "/boot/vmlinuz-$K"); isz=$(stat -c %s "$WORK/initrd.gz")
  cyl=$(( (ksz + isz + 8*1024*1024) / (16*63*512) + 1 ))
  mkfs.vfat -C -n KVMSCOPE -g 16/63 "$WORK/disk.img" $((cyl*504)) >/dev/null
  syslinux --install "$WORK/disk.img"
  printf '%s\n' "SERIAL 0 115200" "PROMPT 0" "TIMEOUT 0" "DEFAULT linux" "LABEL linux" \
    "  KERNEL vmlinuz" "  INITRD initrd.gz" \
    "  APPEND console=ttyS0,115200 quiet loglevel=3 mitigations=off nokaslr tsc=reliable panic=-1" \
    > "$WORK/syslinux.cfg"
  mcopy -i "$WORK/disk.img" "/boot/vmlinuz-$K" ::/vmlinuz
  mcopy -i "$WORK/disk.img" "$WORK/initrd.gz" ::/initrd.gz
  mcopy -i "$WORK/disk.img" "$WORK/syslinux.cfg" ::/syslinux.cfg
  # Debian's Bochs has no 'nogui' display: rfb is a VNC server nobody joins
  # (timeout=0: do not wait for one); its debugger is built in: -rc says 'c'.
  cat > "$WORK/bochsrc" <<EOF
display_library: rfb, options="timeout=0"
config_interface: textconfig
memory: guest=1024, host=1024
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/vgabios/vgabios.bin
cpu: model=corei7_skylake_x, count=1, ips=100000000, reset_on_triple_fault=0, ignore_bad_msrs=1
pci: enabled=1, chipset=i440fx
ata0: enabled=1, ioaddr1=0x1f0, ioaddr2=0x3f0, irq=14
ata0-master: type=disk, path="$WORK/disk.img", mode=flat, cylinders=$cyl, heads=16, spt=63
boot: disk
floppy_bootsig_check: disabled=1
clock: sync=none, time0=local
com1: enabled=1, mode=file, dev=$WORK/com1.txt
speaker: enabled=0
log: $WORK/bochs.log
panic: action=fatal
error: action=report
info: action=ignore
debug: action=ignore
EOF
  echo c > "$WORK/dbg.rc"
  : > "$WORK/com1.txt"
  log "booting Debian $K under Bochs (corei7_skylake_x: VMX, EPT)"
  # Bochs writes the serial port to a file and does not stop by itself on
  # power-off in every case: follow the file, end Bochs after @@DONE.
  (cd "$WORK" && exec timeout "${KVMSCOPE_HOST_TIMEOUT:-2400}" bochs-bin -q -f bochsrc -rc dbg.rc \
     </dev/null >"$WORK/bochs.stdout" 2>&1) &
  local bochs=$!
  tail -n +1 -f --pid=$bochs "$WORK/com1.txt" | Progress > "$SERIAL" &
  local follower=$!
  while kill -0 $bochs 2>/dev/null; do
    sleep 2
    if grep -q -a -E '^@@(DONE|FATAL)|Kernel panic' "$SERIAL" 2>/dev/null; then
      sleep 10; kill $bochs 2>/dev/null || true; break
    fi
  done
  wait $bochs 2>/dev/null || true
  wait $follower 2>/dev/null || true
}

# Shows the steps as they start and end, with host time; passes every line on
# at once (without the serial port's carriage returns).
Progress() {
  local line
  while IFS= read -r line; do
    line=${line%$'\r'}
    printf '%s\n' "$line"
    case "$line" in
      @@STEP*|@@END*|@@HOST*|@@DONE*|@@FATAL*) log "${line#@@}" >&2;;
      "Kernel panic"*) log "$line" >&2;;
    esac
  done
}

"run_$BACKEND" 2>&1 | cat >&2 || true
log "emulator ended"

if [ -n "$RUN" ]; then
  awk '/^@@STEP /{on=1; next} /^@@END /{on=0} on' "$SERIAL"
  rc=$(sed -n 's/^@@END run rc=\([0-9]*\).*/\1/p' "$SERIAL")
  [ -n "$rc" ] || { echo "test-host $BACKEND: the command did not finish inside (see $SERIAL with --keep)" >&2; exit 1; }
  exit "$rc"
fi

# --- Results ----------------------------------------------------------------------
# gtest's per-test lines inside each step: "[       OK ] A.B (12 ms)",
# "[  FAILED  ] A.B (12 ms)", "[  SKIPPED ] A.B (0 ms)". A step that is not a
# test binary (a shell step) counts once, by its exit status; a test binary
# that ends with a failing status but no failed test, or stops
# without a result for every test it started (a crash), counts as a failure.
awk -v backend="$BACKEND" '
  /^@@STEP / { label = substr($0, 8); started = 0; ok = 0; failed = 0; skipped = 0; gtest = 0; inside = 1; next }
  /^@@END / && inside {
    rc = $0; sub(/.* rc=/, "", rc); sub(/ .*/, "", rc)
    secs = $0; sub(/.*secs=/, "", secs)
    results = ok + failed + skipped
    if (!gtest) { if (rc == 0) ok = 1; else { failed = 1; failures[++nf] = label " (exit " rc ")" } }
    else if (rc != 0 && failed == 0) { failed++; failures[++nf] = label ": exit " rc " with no failed test (crashed?)" }
    if (started > results) { failed++; failures[++nf] = label ": " started - results " test(s) started and never ended (crashed or hung)" }
    printf "  %-16s %4d passed, %3d failed, %3d skipped  (%s s inside)\n", label, ok, failed, skipped, secs
    P += ok; F += failed; S += skipped; inside = 0; steps++; next
  }
  /^@@DONE/ { done = 1 }
  !inside { next }
  /^\[==========\] Running / { gtest = 1 }
  /^\[ RUN      \] / { started++ }
  /^\[       OK \] .*\([0-9]+ ms\)$/ { ok++ }
  /^\[  SKIPPED \] .*\([0-9]+ ms\)$/ { skipped++; skips[++ns] = label ": " $4 }
  /^\[  FAILED  \] .*\([0-9]+ ms\)$/ { failed++; failures[++nf] = label ": " $4 }
  END {
    if (!done) { F++; failures[++nf] = "the host did not finish its steps (see the serial log)" }
    for (i = 1; i <= ns; i++) print "  skipped: " skips[i]
    for (i = 1; i <= nf; i++) print "  FAILED: " failures[i]
    printf "%d passed, %d failed\n", P, F
    exit F > 0
  }' "$SERIAL" > "$WORK/summary.txt" && rc=0 || rc=1
grep '^@@HOST' "$SERIAL" | sed "s/^@@HOST /test-host $BACKEND: /" || true
if [ $rc != 0 ]; then
  echo "test-host $BACKEND: the serial log's last lines:"; tail -n 40 "$SERIAL" | sed 's/^/  | /'
  cp "$SERIAL" "/tmp/kvmscope-host-$BACKEND-serial.log" && echo "test-host $BACKEND: whole log: /tmp/kvmscope-host-$BACKEND-serial.log"
fi
echo "test-host $BACKEND: $(( $(date +%s) - T0 )) s on this machine"
cat "$WORK/summary.txt"
exit $rc
