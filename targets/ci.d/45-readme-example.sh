#!/usr/bin/env bash
# The README's library example, as a user would use it: the first ```rust
# block of README.md pasted into src/main.rs of a new crate that depends
# on this repository by path, built and run. (It also runs as a doctest;
# this checks that it compiles outside rustdoc, where `# ` lines would be
# visible and an unused import is a warning, with -D warnings here.)
#
# The crate lives in target/readme-example/, with its own target dir
# there, and starts from the repository's Cargo.lock, so it resolves to
# the same dependency versions, all already fetched: it builds offline.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root=$PWD
crate=target/readme-example

rm -rf "$crate"
mkdir -p "$crate/src"
# The lines between the first "```rust" and the "```" that closes it.
awk '!found && /^```rust$/ { found = 1; inside = 1; next }
     inside && /^```$/ { exit }
     inside { print }' README.md >"$crate/src/main.rs"
if ! grep -q '^fn main()' "$crate/src/main.rs"; then
    echo "README.md: the first rust example has no fn main(): it does not run when pasted" >&2
    exit 1
fi
if grep -q '^# ' "$crate/src/main.rs"; then
    echo "README.md: the first rust example has rustdoc-hidden '# ' lines" >&2
    exit 1
fi
cat >"$crate/Cargo.toml" <<EOF
[package]
name = "readme-example"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
ttc = { path = "$root" }

# Not a member of the repository's workspace.
[workspace]
EOF
cp Cargo.lock "$crate/Cargo.lock"

cd "$crate"
export CARGO_TARGET_DIR="$root/$crate/target"
printf '$ %s\n' "cargo build --offline (the README's first example, in $crate)"
RUSTFLAGS="-D warnings" cargo build --offline --quiet
printf '$ %s\n' "$crate/target/debug/readme-example"
"$CARGO_TARGET_DIR/debug/readme-example"
echo "README example: built and ran as a crate of its own"
