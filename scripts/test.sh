#!/usr/bin/env bash
# The test command of README.md: set-up (install, build), then every test.
# Tests that need /dev/kvm run for real; on a host without it they skip and
# say why.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
ctest --test-dir build --output-on-failure --timeout 600 "$@"
