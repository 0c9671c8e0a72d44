#!/usr/bin/env bash
# Tests adb-run.sh and ssh-run.sh without a device: fake `adb`, `ssh` and
# `scp` first in PATH answer `uname -m` (and `getconf GNU_LIBC_VERSION`)
# with what a test chooses and log every call. Checks the dry-run plans,
# that nothing is pushed on a dry run or a refusal, the refusals' exit
# status (3) and messages, option pass-through, and a full (fake) run.
#
#   bash targets/deploy/test-scripts.sh
#
# Needs no build of ttc: the test binaries are ELF headers written here,
# plus one real dynamically linked aarch64 program from aarch64-linux-gnu-gcc.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
D="$TTC_ROOT/targets/deploy"

ttc_apt_ensure gcc-aarch64-linux-gnu libc6-dev-arm64-cross binutils
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/bin" "$T/dist"

# --- fakes -----------------------------------------------------------------
# Each logs "NAME ARGS..." to $FAKE_LOG, one call per line.
cat >"$T/bin/adb" <<'FAKE'
#!/usr/bin/env bash
echo "adb $*" >>"$FAKE_LOG"
[ -n "${FAKE_NO_DEVICE:-}" ] && { echo "error: no devices/emulators found" >&2; exit 1; }
while [ "$1" = -s ]; do shift 2; done
case "$1 $*" in
    "shell shell uname -m") printf '%s\r\n' "$FAKE_UNAME" ;;
    "shell shell chmod"*) ;;
    shell*) exit "${FAKE_RUN_STATUS:-0}" ;;
    push*) echo "1 file pushed" ;;
esac
FAKE
cat >"$T/bin/ssh" <<'FAKE'
#!/usr/bin/env bash
echo "ssh $*" >>"$FAKE_LOG"
[ -n "${FAKE_NO_DEVICE:-}" ] && { echo "ssh: connect to host: Connection refused" >&2; exit 255; }
last=${!#}
case $last in
    "uname -m;"*) echo "$FAKE_UNAME"; echo "${FAKE_LIBC:-glibc 2.36}" ;;
    *) exit "${FAKE_RUN_STATUS:-0}" ;;
esac
FAKE
cat >"$T/bin/scp" <<'FAKE'
#!/usr/bin/env bash
echo "scp $*" >>"$FAKE_LOG"
FAKE
chmod +x "$T/bin/"*
export PATH="$T/bin:$PATH" FAKE_LOG="$T/log"
export TTC_DEPLOY_TARGET_DIR="$T"

# --- test binaries -----------------------------------------------------------
# A 64-byte ELF header with the given class (1: 32-bit, 2: 64-bit) and
# e_machine (183 aarch64, 40 arm): enough for the architecture check.
fake_elf() {
    local hdr
    hdr=$(printf '\\x%02x' 0x7f 0x45 0x4c 0x46 "$2" 1 1 0 0 0 0 0 0 0 0 0 2 0 "$3" 0)
    # shellcheck disable=SC2059 # the format is the header's escapes
    { printf "$hdr"; head -c 44 /dev/zero; } >"$1"
}
fake_elf "$T/dist/ttc-aarch64-linux-musl" 2 183
fake_elf "$T/dist/ttc-aarch64-linux-gnu-glibc2.28" 2 183
fake_elf "$T/dist/ttc-armv7-linux-gnueabihf-glibc2.28" 1 40
fake_elf "$T/dist/ttc-armv7-linux-musleabihf" 1 40
# A real dynamically linked aarch64 program: Debian 12's cross gcc makes it
# need glibc 2.34 (__libc_start_main).
printf 'int main(void) { return 0; }\n' >"$T/hello.c"
aarch64-linux-gnu-gcc -o "$T/dyn-aarch64" "$T/hello.c"
DYN="$T/dyn-aarch64"
dyn_need=$(ttc_glibc_needed "$DYN")
MUSL="$T/dist/ttc-aarch64-linux-musl"
GNU64="$T/dist/ttc-aarch64-linux-gnu-glibc2.28"
ARM="$T/dist/ttc-armv7-linux-gnueabihf-glibc2.28"
MUSL32="$T/dist/ttc-armv7-linux-musleabihf"
[ "$(ttc_elf_machine "$MUSL"):$(ttc_elf_machine "$ARM"):$(ttc_elf_machine "$DYN")" = aarch64:arm:aarch64 ] ||
    ttc_die "the test binaries are not what they should be"

# --- harness -----------------------------------------------------------------
# `t NAME` starts a test; `run` executes a script against the fakes; each
# failing expect_* adds a problem; the next `t` (or `finish`) reports
# ok / not ok, with the output and the fakes' calls when not ok.
passed=0 failed=0 out="" rc=0 current="" problems="" fails=()
indent() { sed 's/^/    /'; }
finish() {
    [ -n "$current" ] || return 0
    if [ -z "$problems" ]; then
        passed=$((passed + 1))
        printf 'ok - %s\n' "$current"
    else
        failed=$((failed + 1))
        fails+=("$current")
        printf 'not ok - %s\n%s  exit status: %s\n  output:\n%s\n  calls:\n%s\n' \
            "$current" "$problems" "$rc" "$(indent <<<"$out")" "$(indent <"$FAKE_LOG")"
    fi
    current=""
}
t() { finish; current=$1; problems=""; }
problem() { problems+="  $*"$'\n'; }
# run [ENV=VALUE...] -- SCRIPT ARGS...: a fresh call log; sets $out and $rc.
run() {
    local envs=()
    while [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    : >"$FAKE_LOG"
    rc=0
    out=$(env FAKE_UNAME= FAKE_LIBC= FAKE_NO_DEVICE= FAKE_RUN_STATUS= ${envs[@]+"${envs[@]}"} bash "$@" 2>&1) || rc=$?
}
# The expected text is the argument, or standard input: a here-document
# keeps the device-side quoting readable.
want() { if [ $# -gt 0 ]; then printf '%s' "$1"; else cat; fi; }
expect_status() { [ "$rc" = "$1" ] || problem "exit status $rc, want $1"; }
expect_out() { local w; w=$(want "$@"); grep -qF -- "$w" <<<"$out" || problem "output lacks: $w"; }
expect_no_out() { local w; w=$(want "$@"); if grep -qF -- "$w" <<<"$out"; then problem "output has: $w"; fi; }
# The fakes' calls, one per line, exactly.
expect_calls() { local w; w=$(want "$@"); [ "$(cat "$FAKE_LOG")" = "$w" ] || problem "calls are not: $w"; }

# --- adb-run.sh --------------------------------------------------------------
t "adb --dry-run: asks uname -m only, prints push, chmod and run"
run FAKE_UNAME=aarch64 -- "$D/adb-run.sh" --dry-run -- demo 'hello world'
expect_status 0
expect_calls "adb shell uname -m"
expect_out "would run: adb push $MUSL /data/local/tmp/ttc"
expect_out "would run: adb shell chmod 755 /data/local/tmp/ttc"
expect_out <<END
would run: adb shell '/data/local/tmp/ttc demo '\''hello world'\'''
END

t "adb --dry-run: -s, --dest and --push-only"
run FAKE_UNAME=aarch64 -- "$D/adb-run.sh" --dry-run -s emulator-5554 --dest /sdcard/x/ --push-only
expect_status 0
expect_calls "adb -s emulator-5554 shell uname -m"
expect_out "would run: adb -s emulator-5554 push $MUSL /sdcard/x/ttc"
expect_no_out "would run: adb -s emulator-5554 shell /sdcard/x/ttc"

for arch in armv7l armv8l; do
    t "adb picks the static armv7 build for an $arch phone (32-bit userland)"
    run FAKE_UNAME=$arch -- "$D/adb-run.sh" --dry-run -- demo
    expect_status 0
    expect_calls "adb shell uname -m"
    expect_out "would run: adb push $MUSL32 /data/local/tmp/ttc"
    expect_out "would run: adb shell '/data/local/tmp/ttc demo'"
done

t "adb: no build for an x86_64 phone"
run FAKE_UNAME=x86_64 -- "$D/adb-run.sh" --dry-run
expect_status 1
expect_out "no ttc build for a phone that reports 'x86_64'"

for arch in armv7l armv8l x86_64; do
    t "adb refuses the aarch64 build on an $arch phone: exit 3, nothing pushed"
    run FAKE_UNAME=$arch -- "$D/adb-run.sh" --dry-run --binary "$MUSL"
    expect_status 3
    expect_calls "adb shell uname -m"
    expect_out "adb-run.sh: refusing to push: the device reports \"$arch\""
    expect_out "but ttc-aarch64-linux-musl is built for aarch64 (64-bit ARM)"
done

t "adb refuses without --dry-run too, before pushing"
run FAKE_UNAME=armv7l -- "$D/adb-run.sh" --binary "$MUSL" -- demo
expect_status 3
expect_calls "adb shell uname -m"

t "adb refuses a dynamically linked (glibc) build: Android has no glibc"
run FAKE_UNAME=aarch64 -- "$D/adb-run.sh" --dry-run --binary "$DYN"
expect_status 3
expect_calls "adb shell uname -m"
expect_out "dyn-aarch64 is dynamically linked (glibc); Android has no glibc to start it"

t "adb with no device: a clear error, exit 1"
run FAKE_UNAME=aarch64 FAKE_NO_DEVICE=1 -- "$D/adb-run.sh" --dry-run
expect_status 1
expect_out "no device answered 'adb shell uname -m'"

t "adb without a build says how to make one"
run FAKE_UNAME=aarch64 TTC_DEPLOY_TARGET_DIR="$T/empty" -- "$D/adb-run.sh" --dry-run
expect_status 1
expect_out "build it with: bash targets/deploy/build-musl.sh"
expect_calls "adb shell uname -m"

t "adb without the armv7 build says how to make it"
run FAKE_UNAME=armv7l TTC_DEPLOY_TARGET_DIR="$T/empty" -- "$D/adb-run.sh" --dry-run
expect_status 1
expect_out "build it with: bash targets/deploy/build-musl-armv7.sh"

t "adb real run: uname, push, chmod, run, in that order; exits with ttc's status"
run FAKE_UNAME=aarch64 FAKE_RUN_STATUS=7 -- "$D/adb-run.sh" -- demo
expect_status 7
expect_out "\$ adb push $MUSL /data/local/tmp/ttc"
expect_calls <<END
adb shell uname -m
adb push $MUSL /data/local/tmp/ttc
adb shell chmod 755 /data/local/tmp/ttc
adb shell /data/local/tmp/ttc demo
END

# --- ssh-run.sh --------------------------------------------------------------
t "ssh --dry-run: one read-only probe; picks the aarch64 build; prints scp and run"
run FAKE_UNAME=aarch64 FAKE_LIBC="glibc 2.28" -- "$D/ssh-run.sh" --dry-run pi@board -- demo
expect_status 0
expect_calls <<'END'
ssh pi@board uname -m; getconf GNU_LIBC_VERSION 2>/dev/null || echo "no glibc"
END
expect_out "would run: scp $GNU64 pi@board:./ttc"
expect_out <<'END'
would run: ssh pi@board 'chmod 755 ./ttc && ./ttc demo'
END

t "ssh --dry-run: picks the armv7 build for an armv7l board"
run FAKE_UNAME=armv7l -- "$D/ssh-run.sh" --dry-run board
expect_status 0
expect_out "would run: scp $ARM board:./ttc"

for libc in "no glibc" "glibc 2.24"; do
    t "ssh --dry-run: picks the static armv7 build for an armv7l board with $libc"
    run FAKE_UNAME=armv7l FAKE_LIBC="$libc" -- "$D/ssh-run.sh" --dry-run board
    expect_status 0
    expect_out "would run: scp $MUSL32 board:./ttc"
    expect_out "static: ok"
done

t "ssh --dry-run: picks the static aarch64 build for an aarch64 board without glibc"
run FAKE_UNAME=aarch64 FAKE_LIBC="no glibc" -- "$D/ssh-run.sh" --dry-run board
expect_status 0
expect_out "would run: scp $MUSL board:./ttc"

t "ssh --dry-run: -p/-i/-o reach ssh and scp (-P for scp); --dest"
run FAKE_UNAME=aarch64 -- "$D/ssh-run.sh" --dry-run -p 2222 -i /k -o BatchMode=yes --dest /opt/ttc board
expect_status 0
expect_out "checking the board: ssh -p 2222 -i /k -o BatchMode=yes board"
expect_out "would run: scp -P 2222 -i /k -o BatchMode=yes $GNU64 board:/opt/ttc/ttc"
expect_out <<'END'
would run: ssh -p 2222 -i /k -o BatchMode=yes board 'chmod 755 /opt/ttc/ttc && /opt/ttc/ttc'
END

t "ssh refuses an aarch64 binary on an armv7l board: exit 3, nothing copied"
run FAKE_UNAME=armv7l -- "$D/ssh-run.sh" --dry-run --binary "$MUSL" board
expect_status 3
expect_out 'refusing to push: the device reports "armv7l", arm (32-bit ARMv7), but ttc-aarch64-linux-musl is built for aarch64 (64-bit ARM)'
expect_out "use the armv7 build"
expect_no_out "would run"

t "ssh refuses a 32-bit ARM binary on an aarch64 board and names the way out"
run FAKE_UNAME=aarch64 -- "$D/ssh-run.sh" --binary "$ARM" board
expect_status 3
expect_out "--allow-arm32-on-aarch64"
expect_no_out '$ scp'

t "ssh --allow-arm32-on-aarch64 lets it through"
run FAKE_UNAME=aarch64 -- "$D/ssh-run.sh" --dry-run --allow-arm32-on-aarch64 --binary "$ARM" board
expect_status 0
expect_out "would run: scp $ARM board:./ttc"

t "ssh refuses the armv7 build on an ARMv6 board"
run FAKE_UNAME=armv6l -- "$D/ssh-run.sh" --dry-run --binary "$ARM" board
expect_status 3
expect_out "ARMv7 binaries do not run on ARMv6 CPUs"

t "ssh: no build for an x86_64 board"
run FAKE_UNAME=x86_64 -- "$D/ssh-run.sh" --dry-run board
expect_status 1
expect_out "no ttc build for a board that reports 'x86_64'"

t "ssh refuses a binary that needs glibc $dyn_need on a glibc 2.31 board"
run FAKE_UNAME=aarch64 FAKE_LIBC="glibc 2.31" -- "$D/ssh-run.sh" --dry-run --binary "$DYN" board
expect_status 3
expect_out "dyn-aarch64 needs glibc $dyn_need, the board has glibc 2.31"
expect_no_out "would run"

t "ssh accepts the same binary on a glibc 2.36 board"
run FAKE_UNAME=aarch64 FAKE_LIBC="glibc 2.36" -- "$D/ssh-run.sh" --dry-run --binary "$DYN" board
expect_status 0
expect_out "board: aarch64, glibc 2.36; binary: dyn-aarch64"
expect_out "would run: scp $DYN board:./ttc"

t "ssh refuses a glibc binary on a board without glibc"
run FAKE_UNAME=aarch64 FAKE_LIBC="no glibc" -- "$D/ssh-run.sh" --dry-run --binary "$DYN" board
expect_status 3
expect_out "(musl or another libc?)"

t "ssh to an unreachable board: a clear error, exit 1"
run FAKE_UNAME=aarch64 FAKE_NO_DEVICE=1 -- "$D/ssh-run.sh" --dry-run board
expect_status 1
expect_out "board did not answer 'uname -m' over ssh"

t "ssh without a build says how to make one"
run FAKE_UNAME=aarch64 TTC_DEPLOY_TARGET_DIR="$T/empty" -- "$D/ssh-run.sh" --dry-run board
expect_status 1
expect_out "build it with: bash targets/deploy/build-glibc-compat.sh"

t "ssh real run: probe, scp, then chmod and run in one ssh; exits with ttc's status"
run FAKE_UNAME=aarch64 FAKE_RUN_STATUS=5 -- "$D/ssh-run.sh" board -- send "it's here"
expect_status 5
expect_calls <<END
ssh board uname -m; getconf GNU_LIBC_VERSION 2>/dev/null || echo "no glibc"
scp $GNU64 board:./ttc
ssh board chmod 755 ./ttc && ./ttc send 'it'\''s here'
END

t "ssh without a host: usage, exit 1"
run -- "$D/ssh-run.sh" --dry-run
expect_status 1
expect_out "usage: ssh-run.sh"

finish
echo "scripts: $passed passed, $failed failed"
if [ "$failed" != 0 ]; then
    printf 'failed: %s\n' "${fails[@]}"
    exit 1
fi
