#!/usr/bin/env bash
# Checks scripts/bench_lib.sh's helpers the benchmarks rely on:
# balanced_order gives, for N = 1..9 configurations, rounds that are each an
# order of all N, with every configuration in every slot equally often, and
# every configuration right after every other one equally often (once over N
# rounds for an even N, twice over 2N for an odd N: a Williams design); and
# median gives the middle value (the mean of the two middle ones).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/bench_lib.sh
source "$here/bench_lib.sh"

fail() { echo "test-bench-lib.sh: FAIL: $*" >&2; exit 1; }

for ((n = 1; n <= 9; n++)); do
  rounds=$((n % 2 ? 2 * n : n))
  declare -A slot=() after=()
  for ((r = 0; r < rounds; r++)); do
    read -r -a row <<<"$(balanced_order "$n" "$r")"
    ((${#row[@]} == n)) || fail "n=$n round $r: ${#row[@]} entries: ${row[*]}"
    sorted=$(printf '%s\n' "${row[@]}" | sort -n | tr '\n' ' ')
    [[ $sorted == "$(seq -s ' ' 0 $((n - 1))) " ]] || fail "n=$n round $r is not an order of 0..$((n - 1)): ${row[*]}"
    for ((j = 0; j < n; j++)); do
      slot[$j,${row[j]}]=$((${slot[$j,${row[j]}]:-0} + 1))
      ((j == 0)) || after[${row[j - 1]},${row[j]}]=$((${after[${row[j - 1]},${row[j]}]:-0} + 1))
    done
  done
  for ((a = 0; a < n; a++)); do
    for ((j = 0; j < n; j++)); do
      ((${slot[$j,$a]:-0} == rounds / n)) || fail "n=$n: configuration $a ran ${slot[$j,$a]:-0} times in slot $j over $rounds rounds"
    done
    for ((b = 0; b < n; b++)); do
      ((a == b)) && continue
      ((${after[$a,$b]:-0} == rounds / n)) || fail "n=$n: $b ran right after $a ${after[$a,$b]:-0} times over $rounds rounds"
    done
  done
  unset slot after
done

[[ $(printf '%s\n' 3 1 2 | median) == 2 ]] || fail "median of 3 1 2"
[[ $(printf '%s\n' 10 4 1 2.5 | median) == 3.25 ]] || fail "median of 10 4 1 2.5"
[[ $(printf '%s\n' 7 | median) == 7 ]] || fail "median of 7"
echo "test-bench-lib.sh: balanced_order for 1..9 configurations and median: passed"
