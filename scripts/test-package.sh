#!/usr/bin/env bash
# The Debian package, made and installed as a lecturer would (ctest 'package'):
#   scripts/test-package.sh BUILD_DIR
# 1. builds the `package` target and checks the .deb: its name, control
#    fields (Depends: runtime libraries only, one for each library the binary
#    links), and that it holds the binary, man page, completion, desktop
#    entry, icon, labs and docs and nothing else executable;
# 2. installs it with apt-get in a clean Debian 12 (a debootstrap minbase
#    root made once from this machine's own mirror and kept in
#    BUILD_DIR/package-root, or $KVMSCOPE_PACKAGE_ROOT; each run starts from
#    that clean root again, on an overlay), runs kvmscope --version, doctor,
#    guests, lab list and the installed completion there, then dpkg -r and
#    checks that every file the package had is gone.
# Exits 77 (skipped) only where this host cannot: not root, no debootstrap,
# no chroot mounts, or the mirror unreachable (the tool's error is quoted).
set -euo pipefail
BUILD=$(cd "${1:?usage: test-package.sh BUILD_DIR}" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${KVMSCOPE_PACKAGE_ROOT:-$BUILD/package-root}
start=$SECONDS
phase_start=$SECONDS
phase() { echo "package: $1 ($((SECONDS - phase_start)) s)"; phase_start=$SECONDS; }
skip() { echo "package: SKIPPED: $*" >&2; exit 77; }
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# --- 1. the .deb -------------------------------------------------------------
cmake --build "$BUILD" --target package >"$BUILD/package-build.log" 2>&1 ||
  { tail -20 "$BUILD/package-build.log" >&2; echo "package: the package target failed" >&2; exit 1; }
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$BUILD/CMakeCache.txt")
deb=$BUILD/kvmscope_${version}_amd64.deb
[[ -n $version && -f $deb ]] || { echo "package: no $deb after building the package target" >&2; exit 1; }
phase "built $(basename "$deb"), $(stat -c %s "$deb") bytes"

field() { dpkg-deb -f "$deb" "$1"; }
[[ $(field Package) == kvmscope && $(field Version) == "$version" && $(field Architecture) == amd64 ]] ||
  fail "control: Package '$(field Package)', Version '$(field Version)', Architecture '$(field Architecture)'"
depends=$(field Depends)
echo "package: Depends: $depends"
[[ -n $depends ]] || fail "no Depends"
if grep -qE -- '-dev\b' <<<"$depends"; then fail "Depends names a -dev package: $depends"; fi
# Every library the binary links comes from a package in Depends.
dep_names=" $(sed -E 's/\([^)]*\)//g; s/[,|]/ /g' <<<"$depends" | tr -s ' ') "
# The package that has a library file (merged /usr: dpkg may know it under
# /lib or /usr/lib, as the link or as the file it points to).
owner_of() {
  local p real out
  real=$(readlink -f "$1")
  for p in "$1" "$real" "/usr${1#/usr}" "${1#/usr}" "/usr${real#/usr}" "${real#/usr}"; do
    if out=$(dpkg -S "$p" 2>/dev/null); then
      out=${out%%$'\n'*}
      echo "${out%%:*}"
      return
    fi
  done
}
libs=$(readelf -d "$BUILD/app/kvmscope" | sed -nE 's/.*NEEDED.*\[(.*)\]/\1/p')
[[ -n $libs ]] || fail "readelf finds no libraries in $BUILD/app/kvmscope"
for lib in $libs; do
  path=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64/ && path == "" { path = $NF } END { print path }')
  owner=$([[ -n $path ]] && owner_of "$path") || true
  [[ -n $owner && $dep_names == *" $owner "* ]] || fail "$lib (package '${owner:-?}') is not in Depends"
done

contents=$(dpkg-deb -c "$deb" | awk '{ print $1, $NF }')
has() { grep -qxF -- "$1" <<<"$(awk '{ print $2 }' <<<"$contents")" || fail "the package has no $1"; }
has ./usr/bin/kvmscope
has ./usr/share/man/man1/kvmscope.1.gz
has ./usr/share/bash-completion/completions/kvmscope
has ./usr/share/applications/kvmscope.desktop
has ./usr/share/icons/hicolor/scalable/apps/kvmscope.svg
has ./usr/share/doc/kvmscope/README.md
has ./usr/share/doc/kvmscope/copyright
has ./usr/share/doc/kvmscope/changelog.gz
for f in "$SRC"/docs/*.md; do has "./usr/share/doc/kvmscope/docs/$(basename "$f")"; done
for f in "$SRC"/labs/*.md "$SRC"/labs/solutions/*; do has "./usr/share/kvmscope/labs/${f#"$SRC"/labs/}"; done
executables=$(awk '$1 ~ /^-..x/ { print $2 }' <<<"$contents")
[[ $executables == ./usr/bin/kvmscope ]] || fail "executables in the package besides /usr/bin/kvmscope: $executables"
if grep -qiE 'test|gtest' <<<"$(awk '{ print $2 }' <<<"$contents")"; then fail "test files in the package"; fi
unpacked=$(mktemp -d)
trap 'rm -rf "$unpacked"' EXIT
dpkg-deb -x "$deb" "$unpacked"
cmp -s "$unpacked/usr/share/man/man1/kvmscope.1.gz" "$BUILD/kvmscope.1.gz" || fail "the packaged man page is not the build's"
if command -v desktop-file-validate >/dev/null; then
  desktop-file-validate "$unpacked/usr/share/applications/kvmscope.desktop" | grep -v ': hint: ' | grep . &&
    fail "desktop-file-validate: errors or warnings (above)"
fi
grep -qx 'Exec=kvmscope gui' "$unpacked/usr/share/applications/kvmscope.desktop" || fail "the desktop entry does not run 'kvmscope gui'"
# Debian's own checks of a package: no error or warning.
if command -v lintian >/dev/null; then
  tags=$(lintian "$deb" 2>&1 | grep -E '^[EW]: ') || true
  [[ -z $tags ]] || fail "lintian: $tags"
else
  fail "no lintian (apt-get install lintian; scripts/setup.sh does)"
fi
phase "the .deb's control fields and contents checked"
((failures == 0)) || { echo "package: $failures failure(s) in the .deb" >&2; exit 1; }

# --- 2. a clean Debian 12 ----------------------------------------------------
[[ $(id -u) == 0 ]] || skip "installing in a debootstrap root needs root (uid $(id -u))"
command -v debootstrap >/dev/null || skip "no debootstrap (apt-get install debootstrap; scripts/setup.sh does)"
# This machine's Debian mirror and the suites it uses, from one-line
# sources.list entries and deb822 .sources files.
mapfile -t sources < <(
  {
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
      sed -nE 's/^deb +(\[[^]]*\] +)?([^ ]+) +(bookworm[^ ]*) +.*/\2 \3/p' || true
    for f in /etc/apt/sources.list.d/*.sources; do
      [[ -f $f ]] || continue
      awk 'function flush() { if (deb && uris != "") { n = split(uris, u, " "); m = split(suites, s, " ");
             for (i = 1; i <= n; i++) for (j = 1; j <= m; j++) print u[i], s[j] } deb = 0; uris = ""; suites = "" }
           NF == 0 { flush(); next }
           $1 == "Types:" { deb = ($0 ~ / deb( |$)/) } $1 == "URIs:" { $1 = ""; uris = $0 }
           $1 == "Suites:" { $1 = ""; suites = $0 } $1 == "Enabled:" && $2 == "no" { uris = "" }
           END { flush() }' "$f"
    done
  } | awk '$2 ~ /^bookworm(-updates|-security)?$/' | sort -u)
mirror=$(awk '$2 == "bookworm" { print $1; exit }' <<<"$(printf '%s\n' "${sources[@]}")")
[[ -n $mirror ]] || skip "no bookworm mirror in /etc/apt/sources.list or /etc/apt/sources.list.d"

mkdir -p "$CACHE"
exec 9>"$CACHE/lock"
flock 9
pristine=$CACHE/bookworm-minbase
if [[ ! -f $pristine/.kvmscope-complete ]]; then
  rm -rf "$pristine" "$pristine.partial"
  echo "package: debootstrap --variant=minbase bookworm from $mirror (once; kept in $pristine)"
  if ! debootstrap --variant=minbase bookworm "$pristine.partial" "$mirror" >"$CACHE/debootstrap.log" 2>&1; then
    reason=$(grep -E '^E:|W: Failure' "$CACHE/debootstrap.log" | sed -n 1,3p | tr '\n' ' ')
    rm -rf "$pristine.partial"
    skip "debootstrap failed from $mirror: ${reason:-$(tail -2 "$CACHE/debootstrap.log" | tr '\n' ' ')}"
  fi
  printf '%s\n' "${sources[@]}" | awk '{ print "deb " $1 " " $2 " main" }' >"$pristine.partial/etc/apt/sources.list"
  rm -f "$pristine.partial"/var/cache/apt/archives/*.deb
  touch "$pristine.partial/.kvmscope-complete"
  mv "$pristine.partial" "$pristine"
  phase "made the Debian 12 minbase root"
else
  phase "reusing the Debian 12 minbase root $pristine"
fi

unshare --mount --propagation private true 2>"$CACHE/unshare.err" ||
  skip "no mount namespace for the chroot's mounts: $(cat "$CACHE/unshare.err")"
# Each run: the clean root under an overlay (or a copy), in a mount namespace
# of its own, so that every mount goes away with it, whatever happens.
run=$CACHE/run
rm -rf "$run"
mkdir -p "$run"/{upper,work,root} "$CACHE/apt-archives/partial"
cp "$deb" "$run/kvmscope.deb"
cat >"$run/inside.sh" <<'INSIDE'
#!/bin/bash
# Run in a private mount namespace: RUN PRISTINE ARCHIVES
set -uo pipefail
RUN=$1 PRISTINE=$2 ARCHIVES=$3 ROOT=$1/root
cleanup() { umount -R "$ROOT" 2>/dev/null || true; }
trap cleanup EXIT
if ! mount -t overlay overlay -o "lowerdir=$PRISTINE,upperdir=$RUN/upper,workdir=$RUN/work" "$ROOT" 2>/dev/null; then
  cp -a "$PRISTINE/." "$ROOT/" || exit 90
fi
mount -t proc proc "$ROOT/proc" && mount --rbind /sys "$ROOT/sys" && mount --make-rslave "$ROOT/sys" &&
  mount --rbind /dev "$ROOT/dev" && mount --make-rslave "$ROOT/dev" &&
  mount --bind "$ARCHIVES" "$ROOT/var/cache/apt/archives" || exit 91
cp /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null
cp "$RUN/kvmscope.deb" "$ROOT/tmp/" && cp "$RUN/in-chroot.sh" "$ROOT/tmp/" || exit 92
chroot "$ROOT" /bin/bash /tmp/in-chroot.sh
INSIDE
cat >"$run/in-chroot.sh" <<'CHROOT'
#!/bin/bash
# Inside the clean Debian 12: install, use, remove. Status 80: apt could not
# reach the mirror (skip); anything else non-zero: a failure.
set -uo pipefail
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 PATH=/usr/sbin:/usr/bin:/sbin:/bin
failures=0
fail() { echo "FAIL (in Debian 12): $*" >&2; failures=$((failures + 1)); }
t=$SECONDS
apt-get update -q >/tmp/apt-update.log 2>&1
status=$?
grep -E '^(W|E): ' /tmp/apt-update.log >&2
if ((status != 0)) || grep -qE '^(W|E): Failed to fetch' /tmp/apt-update.log; then exit 80; fi
if ! apt-get install -y -q --no-install-recommends /tmp/kvmscope.deb >/tmp/apt-install.log 2>&1; then
  tail -20 /tmp/apt-install.log >&2
  grep -q 'Failed to fetch' /tmp/apt-install.log && exit 80
  exit 1
fi
echo "package: apt-get install ./kvmscope.deb: $(grep -oE '[0-9]+ newly installed' /tmp/apt-install.log), $((SECONDS - t)) s"
dpkg -L kvmscope >/tmp/files
version=$(dpkg-query -W -f='${Version}' kvmscope)
[[ $(kvmscope --version) == "kvmscope $version "* ]] || fail "kvmscope --version says '$(kvmscope --version 2>&1)', the package is $version"
kvmscope doctor >/tmp/doctor.txt 2>&1
status=$?
echo "package: kvmscope doctor exited $status: $(grep '^verdict: ' /tmp/doctor.txt)"
if [[ $status != 0 && $status != 3 ]] || ! grep -q '^verdict: ' /tmp/doctor.txt; then
  sed 's/^/  doctor: /' /tmp/doctor.txt >&2
  fail "kvmscope doctor exited $status (documented: 0 traceable, 3 not) or gave no verdict"
fi
guests=$(kvmscope guests)
grep -q '^hello ' <<<"$guests" || fail "kvmscope guests lists no hello: $guests"
(cd / && kvmscope lab list) >/tmp/labs.txt 2>&1 || fail "kvmscope lab list exited $?: $(cat /tmp/labs.txt)"
grep -qx 'Labs in /usr/share/kvmscope/labs:' /tmp/labs.txt || fail "kvmscope lab list did not find the installed labs: $(head -1 /tmp/labs.txt)"
n=$(grep -c '^/usr/share/kvmscope/labs/[^/]*\.md$' /tmp/files)
[[ $(grep -cE '^  [^ ]' /tmp/labs.txt) == "$n" ]] || fail "kvmscope lab list lists $(grep -cE '^  [^ ]' /tmp/labs.txt) labs, the package has $n"
kvmscope lab show your-own-guest >/dev/null || fail "kvmscope lab show your-own-guest exited $?"
got=$(bash --norc -c 'source /usr/share/bash-completion/completions/kvmscope
  COMP_WORDS=(kvmscope run --guest h); COMP_CWORD=3; _kvmscope; echo "${COMPREPLY[*]}"')
[[ $got == hello ]] || fail "the installed completion completes 'kvmscope run --guest h' to '$got'"
if command -v man >/dev/null; then [[ $(man -w kvmscope) == /usr/share/man/man1/kvmscope.1.gz ]] || fail "man -w kvmscope"; fi
zcat /usr/share/man/man1/kvmscope.1.gz | grep -q '^\.SH EXIT STATUS' || fail "the installed man page has no EXIT STATUS"

dpkg -r kvmscope >/tmp/remove.log 2>&1 || { cat /tmp/remove.log >&2; fail "dpkg -r kvmscope exited non-zero"; }
[[ $(dpkg-query -W -f='${Status}' kvmscope 2>/dev/null) != *" installed" ]] || fail "kvmscope is still installed"
left=0
while read -r f; do
  [[ -e $f || -L $f ]] || continue
  if [[ -d $f && ! -L $f ]] && dpkg -S "$f" >/dev/null 2>&1; then continue; fi  # another package's folder
  fail "left after dpkg -r: $f$([[ -d $f ]] && echo " (a folder no other package owns: $(ls -A "$f" | sed -n 1,3p | tr '\n' ' '))")"
  left=$((left + 1))
done </tmp/files
echo "package: dpkg -r: of the $(grep -c . /tmp/files) paths dpkg -L listed, $left left (besides folders other packages own)"
exit $((failures > 0))
CHROOT
chmod +x "$run/inside.sh" "$run/in-chroot.sh"
set +e
unshare --mount --propagation private "$run/inside.sh" "$run" "$pristine" "$CACHE/apt-archives"
status=$?
set -e
rm -rf "$run"
case $status in
  0) phase "installed, used and removed in Debian 12" ;;
  80) skip "apt-get in the Debian 12 root could not reach the mirror (its error is above)" ;;
  90 | 91 | 92) skip "could not set up the chroot (overlay or copy, mounts of /proc, /sys, /dev; status $status)" ;;
  *) fail "in Debian 12 (status $status)" ;;
esac
echo "package: $((SECONDS - start)) s in all"
((failures == 0)) || { echo "package: $failures failure(s)" >&2; exit 1; }
echo "package: passed"
