#!/usr/bin/env bash
# kvmscope(1) and the bash completion against the real command line:
#   scripts/test-cli-docs.sh BUILD_DIR man         (ctest 'manpage')
#   scripts/test-cli-docs.sh BUILD_DIR completion  (ctest 'completion')
# What the tests expect is read from `kvmscope ... --help`, app/exit_codes.h,
# README.md, `kvmscope guests` and `kvmscope lab list`, never written here.
set -uo pipefail
BUILD=$(cd "${1:?usage: test-cli-docs.sh BUILD_DIR man|completion}" && pwd)
MODE=${2:?usage: test-cli-docs.sh BUILD_DIR man|completion}
SRC=$(cd "$(dirname "$0")/.." && pwd)
EXE=$BUILD/app/kvmscope
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
[[ -x $EXE ]] || { echo "test-cli-docs: no $EXE (build first)" >&2; exit 1; }

# The entries of one section ("Options:", "Subcommands:", "Positionals:") of
# CLI11's help: the first word of each entry line, up to the blank line.
help_entries() {  # SECTION < help
  awk -v sec="$1" '$0 == sec { on = 1; next } on && NF == 0 { on = 0 } on && /^  [^ ]/ { print $1 }'
}
# Every command path, from the help's own Subcommands lists ("run", "lab list", ...).
command_paths() {  # [PATH]
  local sub
  for sub in $("$EXE" $1 --help | help_entries "Subcommands:"); do
    echo "${1:+$1 }$sub"
    command_paths "${1:+$1 }$sub"
  done
}
# The option names one command's help prints ("-q", "--quiet", ...).
option_names() {  # PATH
  "$EXE" $1 --help | help_entries "Options:" | tr ',' '\n'
}
positional_names() {  # PATH
  "$EXE" $1 --help | help_entries "Positionals:"
}
mapfile -t PATHS < <(command_paths "")
((${#PATHS[@]} >= 10)) || fail "only ${#PATHS[@]} commands found in --help: ${PATHS[*]}"

test_man() {
  local man=$TMP/kvmscope.1 text=$TMP/kvmscope.txt warnings
  "$EXE" --man-page >"$man" || fail "kvmscope --man-page exited $?"
  if [[ -f $BUILD/kvmscope.1.gz ]]; then
    zcat "$BUILD/kvmscope.1.gz" | cmp -s - "$man" || fail "$BUILD/kvmscope.1.gz is not what --man-page prints now"
  else
    fail "the build did not write $BUILD/kvmscope.1.gz"
  fi
  warnings=$(groff -man -Tutf8 -ww -z "$man" 2>&1)
  [[ -z $warnings ]] || fail "groff warns: $warnings"
  if command -v man >/dev/null; then
    warnings=$(MANWIDTH=80 man --warnings -l "$man" 2>&1 >/dev/null)
    [[ -z $warnings ]] || fail "man --warnings: $warnings"
  fi
  # Plain text, one line per paragraph (no hyphenation, very long lines).
  groff -man -Tascii -rLL=400n -rHY=0 -P-cbou "$man" 2>/dev/null >"$text"
  grep -q '^NAME' "$text" && grep -q '^EXIT STATUS' "$text" || fail "no NAME or EXIT STATUS section"

  # A command's section: from its heading "   kvmscope PATH" to the next heading.
  section() {
    awk -v head="   kvmscope $1" '$0 == head { on = 1; next } on && (/^   [^ ]/ || /^[A-Z]/) { exit } on' "$text"
  }
  has_word() {  # WORD < text
    grep -qE -- "(^|[^A-Za-z0-9_-])$1([^A-Za-z0-9_-]|\$)"
  }
  local path name sec
  for path in "${PATHS[@]}"; do
    sec=$(section "$path")
    [[ -n $sec ]] || { fail "no section 'kvmscope $path' in the man page"; continue; }
    grep -qE "^       kvmscope $path( |\$)" "$text" || [[ $path == lab ]] || fail "'kvmscope $path' not in SYNOPSIS"
    for name in $(option_names "$path") $(positional_names "$path"); do
      # -h/--help: said once, under OPTIONS, for every command.
      [[ $name == -h || $name == --help ]] && continue
      has_word "$name" <<<"$sec" || fail "kvmscope $path: '$name' (in its --help) is not in its man page section"
    done
  done
  sec=$(awk '/^OPTIONS/ { on = 1; next } /^[A-Z]/ { on = 0 } on' "$text")
  for name in $(option_names ""); do
    has_word "$name" <<<"$sec" || fail "kvmscope: '$name' (in --help) is not under OPTIONS"
  done
  if grep -qE -- '--man-page|--bash-completion|--widget-map' "$text"; then fail "a hidden option is in the man page"; fi

  # EXIT STATUS: exactly app/exit_codes.h's table, and README.md says the same.
  local header=$SRC/app/exit_codes.h
  declare -A number
  while read -r enum value; do number[$enum]=$value; done < <(sed -nE 's/^ *(kExit[A-Za-z]+) = ([0-9]+),.*/\1 \2/p' "$header")
  local expected=$TMP/exit-expected actual=$TMP/exit-actual readme=$TMP/exit-readme
  sed -nE 's/^ *\{(kExit[A-Za-z]+), "(.*)"\},$/\1\t\2/p' "$header" | while IFS=$'\t' read -r enum meaning; do
    printf '%s %s\n' "${number[$enum]}" "$meaning"
  done >"$expected"
  (($(wc -l <"$expected") == ${#number[@]})) || fail "exit_codes.h: $(wc -l <"$expected") table rows for ${#number[@]} statuses"
  awk '/^EXIT STATUS/ { on = 1; next } /^[A-Z]/ { on = 0 } on && /^       [0-9]+ / { sub(/^ +/, ""); print }' "$text" |
    sed -E 's/^([0-9]+) +/\1 /; s/\.$//' >"$actual"
  diff -u "$expected" "$actual" >/dev/null || fail "EXIT STATUS is not exit_codes.h's table: $(diff "$expected" "$actual")"
  # README: the paragraph "Exit status: **0** ...; **1** ...", each status's
  # words starting with the header's (backquotes dropped).
  awk '/^Exit status: \*\*0\*\*/ { on = 1 } on && NF == 0 { exit } on { printf "%s ", $0 }' "$SRC/README.md" |
    tr -d '`' | sed -E 's/\*\*([0-9]+)\*\*/\n\1/g' | sed -nE 's/^([0-9]+) +/\1 /p' >"$readme"
  [[ $(cut -d' ' -f1 "$readme") == "$(cut -d' ' -f1 "$expected")" ]] ||
    fail "README.md's exit statuses ($(cut -d' ' -f1 "$readme" | tr '\n' ' ')) are not exit_codes.h's ($(cut -d' ' -f1 "$expected" | tr '\n' ' '))"
  local code meaning said
  while read -r code meaning; do
    said=$(awk -v c="$code" '$1 == c { $1 = ""; sub(/^ /, ""); print }' "$readme")
    [[ $said == "$meaning"* ]] || fail "README.md says of status $code '$said', exit_codes.h '$meaning'"
  done <"$expected"
}

test_completion() {
  local script=$TMP/kvmscope.bash
  "$EXE" --bash-completion >"$script" || fail "kvmscope --bash-completion exited $?"
  cmp -s "$script" "$BUILD/kvmscope.bash-completion" || fail "$BUILD/kvmscope.bash-completion is not what --bash-completion prints now"
  bash -n "$script" || fail "the completion script is not valid bash"
  mkdir -p "$TMP/files/subdir" && touch "$TMP/files/trace-a.json" "$TMP/files/trace-b.json"
  # COMPREPLY, sorted, for the words given (the last one is being completed).
  complete_words() {
    env -i PATH="$BUILD/app:$PATH" HOME="$TMP" bash --norc --noprofile -c '
      source "$1"; shift
      COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _kvmscope
      printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "' bash "$script" "$@"
  }
  expect() {  # EXPECTED WORDS...
    local want=$1 got
    shift
    got=$(complete_words "$@")
    [[ ${got% } == "$want" ]] || fail "completing '$*': got '${got% }', expected '$want'"
  }
  sorted() { tr ' ' '\n' | sed '/^$/d' | sort | tr '\n' ' ' | sed 's/ $//'; }
  local path
  expect "$("$EXE" --help | help_entries "Subcommands:" | sorted)" kvmscope ""
  expect run kvmscope ru
  for path in "${PATHS[@]}"; do
    # Every option of every command, as its --help lists them.
    # shellcheck disable=SC2086
    expect "$(option_names "$path" | sorted)" kvmscope $path -
  done
  expect "$(option_names run | grep -- '^--gu' | sorted)" kvmscope run --gu
  local guests labs
  guests=$("$EXE" guests | awk 'seen && NF == 0 { exit } seen { print $1 } $1 == "GUEST" { seen = 1 }' | sorted)
  [[ $guests == *hello* ]] || fail "kvmscope guests lists no hello: $guests"
  expect "$(tr ' ' '\n' <<<"$guests" | grep '^h' | sorted)" kvmscope run --guest h
  expect "$guests" kvmscope gui --guest ""
  expect "$(tr ' ' '\n' <<<"$guests" | grep '^p' | sorted)" kvmscope run --guest = p
  expect "$guests" kvmscope guests ""
  expect "$("$EXE" run --help | grep -o -- '--attach TEXT:{[^}]*}' | sed -E 's/.*\{(.*)\}/\1/' | tr ',' ' ' | sorted)" \
    kvmscope run --attach ""
  labs=$(ls "$SRC/labs"/*.md | wc -l)
  [[ $(complete_words kvmscope lab show "" | wc -w) == "$labs" ]] || fail "completing 'kvmscope lab show': not the $labs labs: $(complete_words kvmscope lab show "")"
  expect "$("$EXE" lab --help | help_entries "Subcommands:" | sorted)" kvmscope lab ""
  expect "$TMP/files/trace-a.json $TMP/files/trace-b.json" kvmscope stats "$TMP/files/tr"
  expect "$TMP/files/subdir" kvmscope lab list --dir "$TMP/files/"
  expect "" kvmscope run --slow ""
  expect "" kvmscope help run ""
  expect "$(option_names run | grep -- '^--q' | sorted)" kvmscope run --guest hello -o "$TMP/x.json" --q
}

case $MODE in
  man) test_man ;;
  completion) test_completion ;;
  *) echo "test-cli-docs: mode is man or completion, not '$MODE'" >&2; exit 2 ;;
esac
if ((failures)); then
  echo "test-cli-docs $MODE: $failures failure(s)" >&2
  exit 1
fi
echo "test-cli-docs $MODE: passed (${#PATHS[@]} commands)"
