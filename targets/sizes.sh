#!/usr/bin/env bash
# Release binary sizes, as Markdown tables.
#
#   bash targets/sizes.sh [--check] [--compare] [TRIPLE...]
#   bash targets/sizes.sh --tls [TRIPLE...]
#   bash targets/sizes.sh --deploy [--build]
#
# Builds the release `ttc` binary per target and prints its stripped size
# and the newest glibc symbol version it needs. Default triples: the host,
# armv7, thumbv7neon and aarch64 (glibc), aarch64 musl.
#
# --check checks the two 32-bit ARM builds and fails when either is off:
#   - thumbv7neon-unknown-linux-gnueabihf (Thumb-2, NEON: the small armv7
#     build for boards with NEON) must meet the 400 KB goal, 400000 bytes
#     read strictly: it fails above that.
#   - armv7-unknown-linux-gnueabihf (ARM mode, the baseline for armhf boards
#     without NEON) misses that goal on stable Rust (see targets/README.md,
#     "Release sizes"): its size against the goal is reported, not enforced,
#     and it fails when it grows past TTC_ARMV7_MAX_BYTES (default 500000,
#     about 2 % over its size with the resolvers, Happy Eyeballs, the
#     command's endings, staying connected and the default-on proxy
#     feature: targets/README.md), a guard against size regressions.
#
# --compare also builds the clients of benches/tokio-size (the smallest
# tokio equivalent of the CLI's client, and the same minimal client on the
# ttc library and on plain std threads), all with ttc's release profile,
# prints a second table of them next to the `ttc` CLI and writes it to
# target/bench/sizes.json.
#
# --tls builds with the tls feature (rustls + ring) instead; its rows say
# "(tls)". No goal applies to it, so it does not go with --check or
# --compare.
#
# --deploy measures the deploy artifacts instead (what is in
# target/deploy/dist, see targets/deploy/): bytes, and what each needs to
# run. With --build it builds them first (musl, glibc 2.28, .debs).
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$TTC_ROOT"

check=false compare=false deploy=false build=false tls=false
triples=()
for a in "$@"; do
    case $a in
        --check) check=true ;;
        --compare) compare=true ;;
        --deploy) deploy=true ;;
        --build) build=true ;;
        --tls) tls=true ;;
        -h | --help) ttc_header_help; exit 0 ;;
        -*) ttc_die "unknown option: $a (try --help)" ;;
        *) triples+=("$a") ;;
    esac
done

kib() { echo "$((($1 + 512) / 1024)) KiB"; }

# --- deploy artifacts ----------------------------------------------------------
if $deploy; then
    if $check || $compare || [ ${#triples[@]} -gt 0 ]; then
        ttc_die "--deploy takes no triples, --check or --compare"
    fi
    ttc_deploy_dirs
    if $build; then
        bash "$TTC_ROOT/targets/deploy/build-musl.sh"
        bash "$TTC_ROOT/targets/deploy/build-musl-armv7.sh"
        bash "$TTC_ROOT/targets/deploy/build-deb.sh" # builds the glibc-2.28 binaries too
    fi
    [ -d "$TTC_DIST" ] || ttc_die "nothing in $TTC_DIST yet: run with --deploy --build"
    echo "| artifact | bytes | size | needs |"
    echo "|---|---:|---:|---|"
    for f in "$TTC_DIST"/ttc-* "$TTC_DIST"/*.deb; do
        [ -f "$f" ] || continue
        bytes=$(stat -c %s "$f")
        case $f in
            *.deb) needs="dpkg: $(dpkg-deb -f "$f" Architecture), Depends $(dpkg-deb -f "$f" Depends)" ;;
            *) if ttc_elf_is_dynamic "$f"; then
                needs="glibc >= $(ttc_glibc_needed "$f")"
            else
                needs="nothing (static)"
            fi ;;
        esac
        echo "| \`${f##*/}\` | $bytes | $(kib "$bytes") | $needs |"
    done
    exit 0
fi
$build && ttc_die "--build goes with --deploy"
if $tls && { $check || $compare; }; then
    ttc_die "--tls goes with neither --check nor --compare"
fi
features=()
label=""
if $tls; then
    features=(--features tls)
    label=" (tls)"
    # ring compiles C: cc-rs wants aarch64-linux-musl-gcc, which Debian
    # does not have; its aarch64 gcc does (as in deploy/build-tls.sh).
    export CC_aarch64_unknown_linux_musl=${CC_aarch64_unknown_linux_musl:-aarch64-linux-gnu-gcc}
    export AR_aarch64_unknown_linux_musl=${AR_aarch64_unknown_linux_musl:-aarch64-linux-gnu-ar}
fi

# --- release builds per target -----------------------------------------------
if [ ${#triples[@]} -eq 0 ]; then
    triples=("$(ttc_host_triple)" "${TTC_QEMU_TARGETS[@]}" "${TTC_MUSL_TARGETS[@]}")
fi
goal=400000
goal_target=thumbv7neon-unknown-linux-gnueabihf
guard_target=armv7-unknown-linux-gnueabihf
max_armv7=${TTC_ARMV7_MAX_BYTES:-500000}
# One target dir for ttc and benches/tokio-size (not benches/tokio-size/target).
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$TTC_ROOT/target}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# build MANIFEST TRIPLE BIN: the executable cargo reports, wherever the
# target dir is. The builds run from the repository root, so
# .cargo/config.toml's linkers apply to benches/tokio-size too.
build() {
    local exe
    exe=$(cargo build -q --release --manifest-path "$1" --target "$2" --bin "$3" "${@:4}" \
        --message-format=json-render-diagnostics |
        sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
    if [ -z "$exe" ] || [ ! -f "$exe" ]; then
        ttc_say "cargo reported no $3 binary for $2"
        return 1
    fi
    echo "$exe"
}

# stripped EXE TRIPLE: the stripped size in bytes; the stripped copy stays
# in $tmp/bin. The release profile strips already; strip a copy anyway so
# the figure is the stripped size whatever the profile says.
stripped() {
    cp "$1" "$tmp/bin" &&
        "$(ttc_tool_prefix "$2")strip" --strip-all "$tmp/bin" &&
        stat -c %s "$tmp/bin"
}

rows=()
compare_rows=()
json_rows=()
goal_bytes=
armv7_bytes=
for t in "${triples[@]}"; do
    exe=$(build Cargo.toml "$t" ttc "${features[@]}")
    bytes=$(stripped "$exe" "$t")
    glibc=$(ttc_glibc_needed "$tmp/bin")
    if [ -n "$glibc" ]; then
        glibc=">= $glibc"
    elif ttc_elf_is_dynamic "$tmp/bin"; then
        glibc="none (dynamic, no versioned glibc symbol)"
    else
        glibc="none (static)"
    fi
    rows+=("| \`$t\`$label | $bytes | $(kib "$bytes") | $glibc |")
    [ "$t" = "$goal_target" ] && goal_bytes=$bytes
    [ "$t" = "$guard_target" ] && armv7_bytes=$bytes

    if $compare; then
        exe=$(build benches/tokio-size/Cargo.toml "$t" tokio-client)
        tok=$(stripped "$exe" "$t")
        exe=$(build benches/tokio-size/Cargo.toml "$t" std-client)
        std=$(stripped "$exe" "$t")
        exe=$(build benches/tokio-size/Cargo.toml "$t" ttc-client)
        min=$(stripped "$exe" "$t")
        r1=$(awk -v a="$bytes" -v b="$tok" 'BEGIN { printf "%.2f", a / b }')
        r2=$(awk -v a="$min" -v b="$tok" 'BEGIN { printf "%.2f", a / b }')
        compare_rows+=("| \`$t\` | $bytes B ($(kib "$bytes")) | $min B ($(kib "$min")) | $tok B ($(kib "$tok")) | $std B ($(kib "$std")) | ${r1}x | ${r2}x |")
        json_rows+=("    {\"target\": \"$t\", \"ttc_cli\": $bytes, \"ttc_minimal_client\": $min, \"tokio_client\": $tok, \"std_client\": $std}")
    fi
done

echo "| target | stripped bytes | size | glibc needed |"
echo "|---|---:|---:|---|"
printf '%s\n' "${rows[@]}"

if $compare; then
    echo
    echo "| target | ttc CLI | ttc minimal client | tokio client | std-threads client | ttc CLI / tokio | ttc minimal / tokio |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    printf '%s\n' "${compare_rows[@]}"
    mkdir -p target/bench
    {
        printf '{\n  "date": "%s",\n  "sizes": [\n' "$(date -u +%F)"
        (IFS=$'\n' && sed '$!s/$/,/' <<<"${json_rows[*]}")
        printf '  ]\n}\n'
    } >target/bench/sizes.json
    echo
    echo "JSON: target/bench/sizes.json"
fi

if $check; then
    if [ -z "$goal_bytes" ] || [ -z "$armv7_bytes" ]; then
        ttc_say "--check needs $goal_target and $guard_target in the list"
        exit 2
    fi
    rc=0
    echo
    echo "sizes: 400 KB goal ($goal bytes, enforced) on $goal_target" \
        "(armv7 boards with NEON, Thumb-2 code):"
    if [ "$goal_bytes" -gt "$goal" ]; then
        echo "sizes:   FAILED: $goal_bytes bytes, $((goal_bytes - goal)) over the goal"
        rc=1
    else
        echo "sizes:   goal met: $goal_bytes bytes, $((goal - goal_bytes)) under the goal"
    fi
    echo "sizes: $guard_target (ARM mode, the baseline for armhf boards" \
        "without NEON): goal reported, not enforced; regression guard $max_armv7 bytes:"
    if [ "$armv7_bytes" -gt "$goal" ]; then
        echo "sizes:   goal missed: $armv7_bytes bytes, $((armv7_bytes - goal)) over the goal (reported)"
    else
        echo "sizes:   goal met: $armv7_bytes bytes, $((goal - armv7_bytes)) under the goal"
    fi
    if [ "$armv7_bytes" -gt "$max_armv7" ]; then
        echo "sizes:   FAILED: $armv7_bytes bytes, $((armv7_bytes - max_armv7)) over the $max_armv7-byte regression guard"
        rc=1
    else
        echo "sizes:   within the $max_armv7-byte regression guard"
    fi
    [ "$rc" -eq 0 ] || ttc_say "--check failed (see FAILED above)"
    exit "$rc"
fi
