#!/bin/sh
# Instructions per operation, by callgrind: runs `instructions` with N and 3N operations
# and divides the difference by 2N, so start-up and tear-down cancel out.
# Usage (from bench/): sh callgrind.sh [N]   (default N = 20000; needs valgrind)
set -eu
n=${1:-20000}
cargo build --release --quiet --bin instructions
bin=${CARGO_TARGET_DIR:-target}/release/instructions
count() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" "$3" 2>&1 \
        | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
printf '| operation | genserver | floor | ratio |\n|---|---:|---:|---:|\n'
for operation in cast call lifecycle; do
    set --
    for contender in genserver floor; do
        short=$(count "$contender" "$operation" "$n")
        long=$(count "$contender" "$operation" $((3 * n)))
        set -- "$@" $(( (long - short) / (2 * n) ))
    done
    printf '| %s | %s | %s | %s× |\n' "$operation" "$1" "$2" "$(awk "BEGIN { printf \"%.2f\", $1 / $2 }")"
done
