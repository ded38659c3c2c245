#!/usr/bin/env bash
# Set-up for kvmscope on Debian 12, idempotent: installs the Debian packages
# that are missing (apt-get, as root), then configures and builds in Release
# into ./build. Used by both commands of README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build pkg-config  # compilers and build
  binutils                                      # as/ld/objcopy: guests, --guest-asm
  libfmt-dev libcli11-dev nlohmann-json3-dev    # formatting, command line, trace files
  clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev  # BPF programs and their loader
  libimgui-dev libglfw3-dev libgl-dev libstb-dev libcapstone-dev  # the GUI, disassembly
  libgl1-mesa-dri xvfb xauth xdotool fonts-dejavu-core  # OpenGL without a GPU, a real window and real input in tests, fonts
  googletest libgtest-dev                       # tests
  util-linux libcap2-bin                        # unshare/setpriv for the environment tests, setcap for the lab-room test
  linux-perf tmux                               # external-VMM tests: perf stat as an independent counter, `top` driven in tmux
  chromium jq                                   # the Chrome export in real viewers (scripts/test-viewers.sh)
  dpkg-dev lintian groff-base desktop-file-utils debootstrap  # the .deb (dpkg-shlibdeps) and its checks, man page and .desktop checks, a clean Debian 12 to install it in (scripts/test-package.sh)
  # The VMX and SVM test hosts (scripts/test-host.sh): Debian's own kernel, run
  # under QEMU's emulator (AMD SVM) and under Bochs (Intel VMX).
  linux-image-amd64 busybox-static cpio kmod qemu-system-x86
  bochs bochsbios vgabios bochs-term syslinux syslinux-common mtools dosfstools
)

# Node.js and npm for the viewer tests: Debian's, unless the machine already
# has a Node.js with its own npm (NodeSource's nodejs, which conflicts with
# Debian's npm package).
command -v node >/dev/null || PACKAGES+=(nodejs)
command -v npm >/dev/null || PACKAGES+=(npm)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing packages and not root: run as root or: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

echo "setup: configuring and building (Release) in ./build"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build
echo "setup: done: ./build/app/kvmscope"
