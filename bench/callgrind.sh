#!/bin/sh
# Instructions per operation, by callgrind: runs `bench ops` with N and 3N operations and
# divides the difference by 2N, so start-up and tear-down cancel out. Current-thread
# runtimes (`-1t`), where callgrind's serialised threads distort nothing.
# Usage (from bench/): sh callgrind.sh [N] [CONTENDER ...]
#   default N = 20000, contenders genserver-1t floor-1t; needs valgrind.
set -eu
n=${1:-20000}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] || set -- genserver-1t floor-1t
cargo build --release --quiet --bin bench
bin=${CARGO_TARGET_DIR:-target}/release/bench
count() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        "$bin" ops --contender "$1" --operation "$2" --count "$3" 2>&1 \
        | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
printf '| operation |'; for c in "$@"; do printf ' %s |' "$c"; done; printf '\n|---|'
for c in "$@"; do printf -- '---:|'; done; printf '\n'
for operation in cast call lifecycle; do
    printf '| %s |' "$operation"
    for c in "$@"; do
        short=$(count "$c" "$operation" "$n")
        long=$(count "$c" "$operation" $((3 * n)))
        printf ' %s |' $(( (long - short) / (2 * n) ))
    done
    printf '\n'
done
