#!/usr/bin/env python3
"""Interleaved A/B runs of bench binaries, for changes too small for the full suite.

Each VARIANT is BINARY:CONTENDER, a `bench` binary (for instance a copy of
target/release/bench saved before a change) and a contender id. For every run the
script runs `BINARY run --contender CONTENDER --scenario S` once for each variant, the
first variant rotating from run to run, so that drift on the machine touches every
variant alike. It prints, per variant, the median and min - max over the runs of every
metric the scenario reports.

Usage (from bench/):
    cargo build --release && cp target/release/bench /tmp/bench-before
    # ... make the change, then:
    cargo build --release
    python3 ab.py --scenario C --runs 11 /tmp/bench-before:genserver \\
        target/release/bench:genserver target/release/bench:floor
"""

import argparse
import json
import statistics
import subprocess
import sys


def measure(binary, contender, scenario):
    """The metrics of one run, as (name, value, unit) in the order the scenario gives."""
    result = subprocess.run(
        [binary, "run", "--contender", contender, "--scenario", scenario],
        capture_output=True,
        text=True,
        check=True,
    )
    metrics = json.loads(result.stdout)["metrics"]
    return [(metric["name"], metric["value"], metric["unit"]) for metric in metrics]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", required=True, help="one scenario letter, A to F")
    parser.add_argument("--runs", type=int, default=9, help="runs per variant (default 9)")
    parser.add_argument("variants", nargs="+", metavar="BINARY:CONTENDER")
    args = parser.parse_args()
    variants = [tuple(variant.rsplit(":", 1)) for variant in args.variants]
    if any(len(variant) != 2 for variant in variants):
        parser.error("each variant is BINARY:CONTENDER")

    values = {variant: [] for variant in variants}
    names = []
    for run in range(args.runs):
        for i in range(len(variants)):
            variant = variants[(run + i) % len(variants)]
            metrics = measure(*variant, args.scenario)
            names = [(name, unit) for name, _, unit in metrics]
            values[variant].append([value for _, value, _ in metrics])
        print(f"run {run + 1}/{args.runs} done", file=sys.stderr)

    print("| variant | " + " | ".join(f"{name} ({unit})" for name, unit in names) + " |")
    print("|---|" + "---:|" * len(names))
    for variant in variants:
        columns = list(zip(*values[variant]))
        cells = [f"{statistics.median(c):,.1f} ({min(c):,.1f} - {max(c):,.1f})" for c in columns]
        print(f"| `{variant[0]}` `{variant[1]}` | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
