# Shared by the bench_*.sh scripts (sourced, not run): medians, and a
# baseline build of another revision, so that a benchmark prints today's
# figures and the baseline's side by side, measured in the same sitting.

# The revision a benchmark compares with unless told otherwise: main before
# issue 16 (performance) began, the figures the README's tables started from.
BENCH_DEFAULT_BASELINE=803289c

# Median of the numbers on stdin, one per line.
median() {
  sort -g | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}

# balanced_order N R: the order in which round R (from 0) runs N
# configurations (0 .. N-1), space-separated: the rows of a Williams design,
# so that over N rounds (2N for an odd N) each configuration runs in each
# slot once and right after each other one once. A run is slower after some
# others on these hosts (after an untraced run, say): a plain rotation keeps
# the same one before each configuration every round, and that bias with it.
balanced_order() {
  local n=$1 r=$2 j v out=()
  for ((j = 0; j < n; j++)); do
    if ((j == 0)); then v=0; elif ((j % 2)); then v=$(((j + 1) / 2)); else v=$((n - j / 2)); fi
    out+=($(((v + r) % n)))
  done
  if ((n % 2 && (r / n) % 2)); then
    local rev=()
    for ((j = n - 1; j >= 0; j--)); do rev+=("${out[j]}"); done
    out=("${rev[@]}")
  fi
  echo "${out[@]}"
}

# bench_baseline REV SCRIPT_NAME: builds kvmscope, libkvmscope_traces and
# ui_bench at git revision REV (git archive into build/baseline-REV/src, a
# Release build in build/baseline-REV/build), and trace_bench from *this* tree's
# tests/trace_bench.cpp against that library (it uses only API that older
# revisions have too). Reuses an earlier build of the same revision. Prints
# the build folder (its app/kvmscope, tests/ui_bench, and trace_bench at its
# top); progress goes to stderr. Takes a few minutes the first time (2 cores).
bench_baseline() {
  local rev=$1 name=$2 root sha dir
  root=$(git -C "$(dirname "${BASH_SOURCE[0]}")/.." rev-parse --show-toplevel) || {
    echo "$name: --baseline needs the kvmscope git checkout" >&2; return 2; }
  sha=$(git -C "$root" rev-parse --short=12 --verify "$rev^{commit}" 2>/dev/null) || {
    echo "$name: --baseline: '$rev' is not a revision of this repository" >&2; return 2; }
  dir=$root/build/baseline-$sha
  if [[ ! -f $dir/build/build.ninja ]]; then
    echo "$name: building the baseline $sha in $dir (once; a few minutes)" >&2
    rm -rf "$dir" && mkdir -p "$dir/src"
    git -C "$root" archive "$sha" | tar -x -C "$dir/src"
    cmake -S "$dir/src" -B "$dir/build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  fi
  # Incremental: nothing to do once built.
  ninja -C "$dir/build" kvmscope kvmscope_traces ui_bench >&2 || {
    echo "$name: building the baseline $sha failed (see above)" >&2; return 1; }
  if [[ ! -x $dir/build/trace_bench || $root/tests/trace_bench.cpp -nt $dir/build/trace_bench ]]; then
    # trace_bench as the current tree builds it, against the baseline's headers and library.
    c++ -O3 -DNDEBUG -std=c++20 -DFMT_SHARED -I"$dir/src" "$root/tests/trace_bench.cpp" \
      "$dir/build/traces/libkvmscope_traces.a" "$dir/build/knowledge/libkvmscope_knowledge.a" \
      -lfmt -lz -pthread -o "$dir/build/trace_bench"
  fi
  echo "$dir/build"
}
