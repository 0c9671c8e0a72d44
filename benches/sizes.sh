#!/usr/bin/env bash
# Size table: the stripped release `ttc` binary (the full CLI) against the
# smallest equivalent tokio client, and the same minimal client on the ttc
# library and on plain std threads (benches/tokio-size), all with ttc's release profile (opt-level "z",
# LTO, one codegen unit, panic=abort, stripped), per target.
#
#   bash benches/sizes.sh [TRIPLE...]
#
# Default triples: the host, armv7-unknown-linux-gnueabihf (ARM mode),
# thumbv7neon-unknown-linux-gnueabihf (Thumb-2 + NEON, the small armv7
# build), aarch64-unknown-linux-gnu. Prints a Markdown table and writes
# target/bench/sizes.json. Both builds run from the repository root, so
# .cargo/config.toml's linkers apply to benches/tokio-size too.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# One target dir for both builds (not benches/tokio-size/target).
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}

host=$(rustc -vV | sed -n 's/^host: //p')
triples=("$@")
[ ${#triples[@]} -eq 0 ] && triples=("$host" armv7-unknown-linux-gnueabihf
    thumbv7neon-unknown-linux-gnueabihf aarch64-unknown-linux-gnu)

strip_for() {
    case $1 in
        armv7-unknown-linux-gnueabihf | thumbv7neon-unknown-linux-gnueabihf)
            echo arm-linux-gnueabihf-strip ;;
        aarch64-unknown-linux-*) echo aarch64-linux-gnu-strip ;;
        *) echo strip ;;
    esac
}

# The executable cargo reports for one bin of one manifest.
build() { # manifest triple bin
    cargo build -q --release --manifest-path "$1" --target "$2" --bin "$3" \
        --message-format=json-render-diagnostics |
        sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p target/bench
size_of() { # exe triple
    cp "$1" "$tmp/bin"
    "$(strip_for "$2")" --strip-all "$tmp/bin"
    stat -c %s "$tmp/bin"
}

echo "| target | ttc CLI | ttc minimal client | tokio client | std-threads client | ttc CLI / tokio | ttc minimal / tokio |"
echo "|---|---:|---:|---:|---:|---:|---:|"
json="{\n  \"date\": \"$(date -u +%F)\",\n  \"sizes\": ["
sep=
for t in "${triples[@]}"; do
    ttc=$(build Cargo.toml "$t" ttc)
    tok=$(build benches/tokio-size/Cargo.toml "$t" tokio-client)
    std=$(build benches/tokio-size/Cargo.toml "$t" std-client)
    min=$(build benches/tokio-size/Cargo.toml "$t" ttc-client)
    for f in "$ttc" "$tok" "$std" "$min"; do
        if [ -z "$f" ] || [ ! -f "$f" ]; then
            echo "sizes: a build for $t reported no binary" >&2
            exit 1
        fi
    done
    a=$(size_of "$ttc" "$t")
    b=$(size_of "$tok" "$t")
    c=$(size_of "$std" "$t")
    d=$(size_of "$min" "$t")
    kib() { echo "$1 B ($((($1 + 512) / 1024)) KiB)"; }
    r1=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }')
    r2=$(awk -v a="$d" -v b="$b" 'BEGIN { printf "%.2f", a / b }')
    echo "| \`$t\` | $(kib "$a") | $(kib "$d") | $(kib "$b") | $(kib "$c") | ${r1}x | ${r2}x |"
    json+="$sep\n    {\"target\": \"$t\", \"ttc_cli\": $a, \"ttc_minimal_client\": $d, \"tokio_client\": $b, \"std_client\": $c}"
    sep=,
done
printf "%b\n  ]\n}\n" "$json" >target/bench/sizes.json
echo
echo "JSON: target/bench/sizes.json"
