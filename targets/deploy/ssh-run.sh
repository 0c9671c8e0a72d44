#!/usr/bin/env bash
# Puts ttc on a board over scp and runs it there over ssh.
#
#   bash targets/deploy/ssh-run.sh [OPTIONS] [USER@]HOST [-- TTC_ARGS...]
#
#   --dry-run        ask the board its architecture and glibc (read-only),
#                    then print each remaining command instead of running it
#   --binary FILE    what to copy; default: by the board's architecture,
#                    target/deploy/dist/ttc-{aarch64-linux-gnu,armv7-linux-gnueabihf}-glibc2.28,
#                    or where the board has no glibc or one older than 2.28,
#                    the static ttc-aarch64-linux-musl / ttc-armv7-linux-musleabihf
#   --dest DIR       where on the board; default: the login's home directory
#   -p PORT, -i KEY, -o OPTION   passed to ssh and scp (-o repeatable)
#   --push-only      copy and chmod, do not run
#   --allow-arm32-on-aarch64     run a 32-bit ARM binary on a board whose
#                    kernel is 64-bit (32-bit userland, e.g. Raspberry Pi OS
#                    with its 64-bit kernel)
#
# Before copying it runs `uname -m` (and `getconf GNU_LIBC_VERSION`) on the
# board and refuses (exit 3, nothing copied) when the board cannot run the
# binary: another CPU architecture, or a glibc older than the binary needs.
# Otherwise exits with ttc's own status.
#   e.g. bash targets/deploy/ssh-run.sh pi@raspberrypi.local -- demo
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
ttc_deploy_dirs

TTC_DRY_RUN=0 host="" bin="" dest="" push_only=0 allow32=0
ssh_opts=() scp_opts=() args=()
while [ $# -gt 0 ]; do
    case $1 in
        --dry-run) TTC_DRY_RUN=1 ;;
        --binary) bin=${2:?--binary needs a file}; shift ;;
        --dest) dest=${2:?--dest needs a directory}; shift ;;
        -p) ssh_opts+=(-p "${2:?-p needs a port}"); scp_opts+=(-P "$2"); shift ;;
        -i) ssh_opts+=(-i "${2:?-i needs a key file}"); scp_opts+=(-i "$2"); shift ;;
        -o) ssh_opts+=(-o "${2:?-o needs an option}"); scp_opts+=(-o "$2"); shift ;;
        --push-only) push_only=1 ;;
        --allow-arm32-on-aarch64) allow32=1 ;;
        -h | --help) ttc_header_help; exit 0 ;;
        --) shift; args=("$@"); break ;;
        -*) ttc_die "unknown option: $1 (try --help)" ;;
        *) [ -z "$host" ] || ttc_die "one host only (got '$host' and '$1')"; host=$1 ;;
    esac
    shift
done
readonly TTC_DRY_RUN
[ -n "$host" ] || ttc_die "usage: ssh-run.sh [OPTIONS] [USER@]HOST [-- TTC_ARGS...] (try --help)"
[ -z "$bin" ] || [ -f "$bin" ] || ttc_die "$bin: no such file"
command -v ssh >/dev/null || ttc_die "ssh not found (Debian: apt-get install openssh-client)"
command -v scp >/dev/null || ttc_die "scp not found (Debian: apt-get install openssh-client)"

# One round trip: the architecture, then the glibc version if there is one.
probe='uname -m; getconf GNU_LIBC_VERSION 2>/dev/null || echo "no glibc"'
ttc_say "checking the board: $(ttc_show_cmd ssh ${ssh_opts[@]+"${ssh_opts[@]}"} "$host" "$probe")"
# shellcheck disable=SC2029 # $probe is meant for the board's shell
answer=$(ssh ${ssh_opts[@]+"${ssh_opts[@]}"} "$host" "$probe" 2>/dev/null | tr -d '\r') || answer=""
uname_m=$(printf '%s\n' "$answer" | sed -n 1p)
libc=$(printf '%s\n' "$answer" | sed -n 2p)
[ -n "$uname_m" ] || ttc_die "$host did not answer 'uname -m' over ssh (reachable? key accepted? try: ssh $host uname -m)"

if [ -z "$bin" ]; then
    # The glibc build where the board's glibc is new enough, else the
    # static (musl) one.
    have=$(printf '%s\n' "$libc" | sed -n 's/^glibc \([0-9][0-9.]*\).*/\1/p')
    usable=0
    if [ -n "$have" ] && [ "$(printf '%s\n%s\n' "$TTC_GLIBC_FLOOR" "$have" | sort -V | head -n1)" = "$TTC_GLIBC_FLOOR" ]; then
        usable=1
    fi
    case $(ttc_machine_for_uname "$uname_m"):$usable in
        aarch64:1) bin="$TTC_DIST/ttc-aarch64-linux-gnu-glibc$TTC_GLIBC_FLOOR" build=build-glibc-compat.sh ;;
        arm:1) bin="$TTC_DIST/ttc-armv7-linux-gnueabihf-glibc$TTC_GLIBC_FLOOR" build=build-glibc-compat.sh ;;
        aarch64:0) bin="$TTC_DIST/ttc-aarch64-linux-musl" build=build-musl.sh ;;
        arm:0) bin="$TTC_DIST/ttc-armv7-linux-musleabihf" build=build-musl-armv7.sh ;;
        *) ttc_die "no ttc build for a board that reports '$uname_m' (builds: aarch64, armv7)" ;;
    esac
    [ -f "$bin" ] || ttc_die "no $bin: build it with: bash targets/deploy/$build (or pass --binary FILE)"
fi
ttc_refuse_unless_runs "$bin" "$uname_m" "$allow32"

if ttc_elf_is_dynamic "$bin"; then
    need=$(ttc_glibc_needed "$bin")
    have=$(printf '%s\n' "$libc" | sed -n 's/^glibc \([0-9][0-9.]*\).*/\1/p')
    if [ -z "$have" ]; then
        printf '%s: refusing to copy: %s is linked against glibc, but the board reports "%s" for getconf GNU_LIBC_VERSION (musl or another libc?). Use a static build: bash targets/deploy/build-musl.sh (aarch64) or build-musl-armv7.sh (armv7).\n' \
            "${0##*/}" "${bin##*/}" "${libc:-nothing}" >&2
        exit "$TTC_EXIT_REFUSED"
    fi
    if [ -n "$need" ] && [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -n1)" != "$need" ]; then
        printf '%s: refusing to copy: %s needs glibc %s, the board has glibc %s. Use the glibc-%s builds: bash targets/deploy/build-glibc-compat.sh\n' \
            "${0##*/}" "${bin##*/}" "$need" "$have" "$TTC_GLIBC_FLOOR" >&2
        exit "$TTC_EXIT_REFUSED"
    fi
    ttc_say "board: $uname_m, glibc $have; binary: ${bin##*/}, $(ttc_machine_name "$(ttc_elf_machine "$bin")"), needs glibc ${need:-?}: ok"
else
    ttc_say "board: $uname_m; binary: ${bin##*/}, $(ttc_machine_name "$(ttc_elf_machine "$bin")"), static: ok"
fi

# Relative paths on the board are relative to the login's home.
remote="${dest:+${dest%/}/}ttc"
case $remote in /*) ;; *) remote="./$remote" ;; esac
ttc_run scp ${scp_opts[@]+"${scp_opts[@]}"} "$bin" "$host:$remote"
if [ "$push_only" = 1 ]; then
    ttc_run ssh ${ssh_opts[@]+"${ssh_opts[@]}"} "$host" "chmod 755 $(ttc_sq "$remote")"
    exit 0
fi
run_line="chmod 755 $(ttc_sq "$remote") && $(ttc_sq "$remote")"
for a in ${args[@]+"${args[@]}"}; do run_line+=" $(ttc_sq "$a")"; done
# ssh joins its arguments into one line for the board's shell: the words
# are quoted for it above.
ttc_run ssh ${ssh_opts[@]+"${ssh_opts[@]}"} "$host" "$run_line"
