#!/usr/bin/env bash
# Writes a ttc(1) man page made from a ttc binary's own --help and
# --version, so the page always matches the binary it ships with.
#
#   bash targets/deploy/gen-man.sh BINARY [OUT]     (OUT default: stdout)
#
# An ARM binary is run under qemu-arm / qemu-aarch64 with Debian's cross
# sysroot. In the help text, "Usage:" becomes SYNOPSIS, the first line
# NAME, and every other line that ends in ":" at column 0 a section.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

bin=${1:?usage: gen-man.sh BINARY [OUT]}
out=${2:-/dev/stdout}
[ -f "$bin" ] || ttc_die "$bin: no such file"

host=$(uname -m)
machine=$(ttc_elf_machine "$bin")
case $machine:$host in
    x86_64:x86_64 | aarch64:aarch64) runner=() ;;
    arm:armv7l | arm:armv8l) runner=() ;;
    aarch64:* | arm:*) read -ra runner < <(ttc_qemu_runner "$machine") ;;
    *) ttc_die "$bin: cannot run a $machine binary here" ;;
esac
help=$(env -u QEMU_LD_PREFIX ${runner[@]+"${runner[@]}"} "$bin" --help) || ttc_die "$bin --help failed"
version=$(env -u QEMU_LD_PREFIX ${runner[@]+"${runner[@]}"} "$bin" --version) || ttc_die "$bin --version failed"
date=$(date -u -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}" +%Y-%m-%d)

# roff escapes for text lines: \ is \e, - is \-, a leading . or ' gets \&.
ROFF_ESC='function esc(s) { gsub(/\\/, "\\e", s); gsub(/-/, "\\-", s); sub(/^[.'"'"']/, "\\&&", s); return s }'

{
    printf '.TH TTC 1 "%s" "%s" "User Commands"\n' "$date" "$version"
    printf '%s\n' "$help" | awk "$ROFF_ESC"'
        NR == 1 { sub(/^ttc: /, ""); print ".SH NAME"; print "ttc \\- " esc($0); next }
        function close_nf() { if (nf) { print ".fi"; nf = 0 } }
        /^[A-Za-z][^:]*:$/ && length($0) < 90 {
            close_nf()
            h = substr($0, 1, length($0) - 1)
            if (h == "Usage") h = "SYNOPSIS"
            print ".SH \"" toupper(h) "\""
            next
        }
        /^$/ { if (nf) print ""; next }
        { if (!nf) { print ".nf"; nf = 1 } print esc($0) }
        END { close_nf() }'
    printf '.SH "SEE ALSO"\n/usr/share/doc/ttc/README.md\n'
} >"$out"
