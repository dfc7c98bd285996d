#!/usr/bin/env python3
"""Hot code footprint per operation: how many bytes of machine code every operation runs.

Runs `bench ops --contender C --operation OP --count N` under callgrind with one cost per
instruction, keeps the instructions that ran at least 0.9 N times (so once in nearly
every operation) and counts the distinct 64-byte cache lines they sit in. A footprint
near the 32 KiB of a level-1 instruction cache means each operation evicts its own
code; cachegrind then reports instruction-cache misses that the instruction count
alone does not show.

Usage (from bench/; needs valgrind and addr2line):
    python3 footprint.py [--count N] [--operation OP] [--top K] CONTENDER ...
Defaults: N = 20000, OP = lifecycle, K = 0 (no per-function breakdown),
contenders genserver-1t floor-1t.
"""

import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile

LINE = 64
POSITION = re.compile(r"^(?:0x[0-9a-fA-F]+|[+-]\d+|[+-]0x[0-9a-fA-F]+|\*)")
NAMED = re.compile(r"^(c?fn|ob|fl|fi|fe|cob|cfi|cfl)=\((\d+)\)(?: (.*))?$")


def parse(path):
    """Self cost per instruction address, and the function each address belongs to."""
    names, cost, function_of = {}, collections.Counter(), {}
    function, address, call_cost_next = None, 0, False
    with open(path) as profile:
        for raw in profile:
            line = raw.rstrip("\n")
            named = NAMED.match(line)
            if named:
                kind, index, name = named.groups()
                if name:
                    names[index] = name
                if kind == "fn":
                    function = names.get(index, index)
                continue
            if line.startswith("calls="):
                call_cost_next = True  # the next cost line is a call's inclusive cost
                continue
            if not POSITION.match(line):
                continue
            fields = line.split()
            position = fields[0]
            if position.startswith("0x"):
                address = int(position, 16)
            elif position != "*":
                step = int(position[1:], 0)
                address += step if position[0] == "+" else -step
            if call_cost_next:
                call_cost_next = False
                continue
            if len(fields) >= 3:
                cost[address] += int(fields[2])
                function_of[address] = function
    return cost, function_of


def profile(binary, contender, operation, count):
    with tempfile.TemporaryDirectory() as scratch:
        out = os.path.join(scratch, "callgrind.out")
        subprocess.run(
            ["valgrind", "--tool=callgrind", "--dump-instr=yes", f"--callgrind-out-file={out}",
             binary, "ops", "--contender", contender, "--operation", operation, "--count", str(count)],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        return parse(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--operation", default="lifecycle", choices=["cast", "call", "lifecycle"])
    parser.add_argument("--top", type=int, default=0, help="list the K functions with most hot lines")
    parser.add_argument("contenders", nargs="*", default=["genserver-1t", "floor-1t"])
    args = parser.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "bench"], check=True)
    binary = os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "release", "bench")
    print(f"| contender | {args.operation}: hot instructions | cache lines | bytes |")
    print("|---|---:|---:|---:|")
    breakdowns = []
    for contender in args.contenders:
        cost, function_of = profile(binary, contender, args.operation, args.count)
        hot = [address for address, runs in cost.items() if runs >= 0.9 * args.count]
        lines = {address // LINE for address in hot}
        print(f"| `{contender}` | {len(hot)} | {len(lines)} | {len(lines) * LINE} |")
        per_function = collections.defaultdict(set)
        for address in hot:
            per_function[function_of[address]].add(address // LINE)
        breakdowns.append((contender, per_function))
    for contender, per_function in breakdowns if args.top else []:
        print(f"\n{contender}: hot cache lines per function")
        ranked = sorted(per_function.items(), key=lambda item: len(item[1]), reverse=True)
        for function, lines in ranked[: args.top]:
            print(f"{len(lines):5} {function}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
