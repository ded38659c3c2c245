#!/usr/bin/env bash
# Builds kvmscope and the window tests with a sanitizer into their own build
# folder and runs the window tests driven by real X input (tests/ui_drive_test)
# under it: fails if a test fails or if any process wrote a sanitizer report.
# Usage: scripts/sanitize.sh asan|tsan [gtest filter]. Run by ctest (the test
# suite's window_under_asan / window_under_tsan) and by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-}
filter=${2:-*}
case "$kind" in
  asan) flags="-fsanitize=address -fno-omit-frame-pointer"; env_name=ASAN_OPTIONS ;;
  tsan) flags="-fsanitize=thread"; env_name=TSAN_OPTIONS ;;
  *) echo "usage: $0 asan|tsan [gtest filter]" >&2; exit 2 ;;
esac
dir="build-$kind"
echo "sanitize: building kvmscope and ui_drive_tests with $flags in ./$dir"
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="$flags" >/dev/null
cmake --build "$dir" --target kvmscope ui_drive_tests

reports=$(mktemp -d /tmp/kvmscope-$kind.XXXXXX)
trap 'rm -rf "$reports"' EXIT
supp="$PWD/tests/sanitizers/$kind.supp"
# Every process (the test and each kvmscope it starts) writes its reports to
# $reports/report.PID; halt_on_error keeps the first report of each.
opts="log_path=$reports/report:halt_on_error=1:suppressions=$supp"
[[ $kind == tsan ]] && opts="$opts:second_deadlock_stack=1"
export "$env_name=$opts"
[[ $kind == asan ]] && export LSAN_OPTIONS="suppressions=$PWD/tests/sanitizers/lsan.supp:print_suppressions=0"
# Mesa's software OpenGL driver is dlopen'ed by GLX and unloaded at exit.
# Under ASan whatever its globals still point to then looks leaked, from an
# "<unknown module>" no suppression can name; under TSan a suppression that
# names it fails once it is unloaded. Preloaded into kvmscope (only), it stays
# loaded: its blocks stay reachable and its own races stay suppressed, while
# kvmscope's are judged.
dri=/usr/lib/x86_64-linux-gnu/dri/swrast_dri.so
if [[ -f $dri ]]; then
  export KVMSCOPE_GUI_PRELOAD=$dri
  [[ $kind == asan ]] && opts="$opts:verify_asan_link_order=0"
  export "$env_name=$opts"
fi
# The tests' time limits stretch with the sanitizer's slowdown (measured
# here: closing a traced window takes ~3 s plain, ~8 s under TSan).
[[ $kind == asan ]] && export KVMSCOPE_TEST_TIME_SCALE=2
[[ $kind == tsan ]] && export KVMSCOPE_TEST_TIME_SCALE=4
status=0
"$dir/tests/ui_drive_tests" --gtest_filter="$filter" || status=$?
found=$(find "$reports" -type f | sort)
if [[ -n $found ]]; then
  echo "sanitize: $kind reports:"
  for f in $found; do echo "== $f"; cat "$f"; done
  status=1
fi
if ((status == 0)); then
  echo "sanitize: $kind: the window tests passed with no report"
fi
exit $status
