#!/usr/bin/env bash
# Sizes of the deploy artifacts, as a Markdown table: what the README's
# "Deploying" section quotes.
#
#   bash targets/deploy/sizes.sh           # measure what is in target/deploy/dist
#   bash targets/deploy/sizes.sh --build   # build everything first (musl, glibc 2.28, .debs)
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
ttc_deploy_dirs

case ${1:-} in
    --build)
        bash "$TTC_ROOT/targets/deploy/build-musl.sh"
        bash "$TTC_ROOT/targets/deploy/build-deb.sh" # builds the glibc-2.28 binaries too
        ;;
    "") ;;
    -h | --help) ttc_header_help; exit 0 ;;
    *) ttc_die "unknown argument: $1 (try --help)" ;;
esac
[ -d "$TTC_DIST" ] || ttc_die "nothing in $TTC_DIST yet: run with --build"

echo "| artifact | bytes | size | needs |"
echo "|---|---:|---:|---|"
for f in "$TTC_DIST"/ttc-* "$TTC_DIST"/*.deb; do
    [ -f "$f" ] || continue
    bytes=$(stat -c %s "$f")
    case $f in
        *.deb) needs="dpkg: $(dpkg-deb -f "$f" Architecture), Depends $(dpkg-deb -f "$f" Depends)" ;;
        *) if ttc_elf_is_dynamic "$f"; then needs="glibc >= $(ttc_glibc_needed "$f")"; else needs="nothing (static)"; fi ;;
    esac
    # shellcheck disable=SC2016 # the backquotes are Markdown
    printf '| `%s` | %d | %d KiB | %s |\n' "${f##*/}" "$bytes" $(((bytes + 512) / 1024)) "$needs"
done
