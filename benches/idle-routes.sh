#!/usr/bin/env bash
# What following the routes costs while nothing changes: a `ttc
# --reconnect` connected to a sink on loopback, built with the `routes`
# feature, idle for 5 s with and without --no-follow-routes. Prints the
# process's threads, its sockets (the netlink one included) and the
# voluntary context switches of all its threads over the 5 s (from
# /proc/PID/task/*/status): each one is a wake-up.
#
#   bash benches/idle-routes.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --release --features routes --quiet
bin=target/release/ttc
port=${TTC_BENCH_PORT:-47125}
"$bin" serve sink --port "$port" >/dev/null 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
fifo=$(mktemp -u)
switches() {
    cat /proc/"$1"/task/*/status | awk '/^voluntary_ctxt_switches/ { s += $2 } END { print s }'
}
for opt in "" "--no-follow-routes"; do
    mkfifo "$fifo"
    # shellcheck disable=SC2086 # $opt is one option or none
    "$bin" --reconnect $opt 127.0.0.1 "$port" <"$fifo" 2>/dev/null &
    client=$!
    exec 7>"$fifo"
    sleep 1.5 # Pacing the measurement: let it connect and settle.
    threads=$(find /proc/"$client"/task -mindepth 1 -maxdepth 1 | wc -l)
    sockets=$(find /proc/"$client"/fd -lname 'socket:*' | wc -l)
    before=$(switches "$client")
    sleep 5
    after=$(switches "$client")
    echo "routes ${opt:-followed}: threads=$threads sockets=$sockets wake-ups in 5 s=$((after - before))"
    exec 7>&-
    wait "$client" || true
    rm -f "$fifo"
done
