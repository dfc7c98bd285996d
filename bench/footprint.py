#!/usr/bin/env python3
"""Hot code footprint per operation: how many bytes of machine code every operation runs.

Runs `bench ops --contender C --operation OP --count N` under callgrind with one cost per
instruction, keeps the instructions that ran at least 0.9 N times (so once in nearly
every operation) and counts the distinct 64-byte cache lines they sit in. A footprint
near the 32 KiB of a level-1 instruction cache means each operation evicts its own
code; cachegrind then reports instruction-cache misses that the instruction count
alone does not show.

With --atomics it counts, from the same profile, the atomic read-modify-write
instructions (`lock`-prefixed, or `xchg` with memory) run per operation in the bench
binary itself (libc's are left out), found by disassembling it with objdump; with --top
it lists where they are.

Usage (from bench/; needs valgrind, addr2line and, for --atomics, objdump):
    python3 footprint.py [--count N] [--operation OP] [--top K] [--atomics] CONTENDER ...
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


SPACE = {"ob": "object", "cob": "object", "fn": "function", "cfn": "function"}


def parse(path):
    """Self cost per instruction, keyed by (object file, address), and the function each
    instruction belongs to. Callgrind gives addresses relative to their object file, so
    the object is part of the key; its name compression numbers objects, functions and
    files separately."""
    names = collections.defaultdict(dict)
    cost, function_of = collections.Counter(), {}
    obj, function, address, call_cost_next = None, None, 0, False
    with open(path) as profile:
        for raw in profile:
            line = raw.rstrip("\n")
            named = NAMED.match(line)
            if named:
                kind, index, name = named.groups()
                space = SPACE.get(kind, "file")
                if name:
                    names[space][index] = name
                if kind == "fn":
                    function = names[space].get(index, index)
                elif kind == "ob":
                    obj = names[space].get(index, index)
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
                cost[(obj, address)] += int(fields[2])
                function_of[(obj, address)] = function
    return cost, function_of


ATOMIC = re.compile(r"^\s*([0-9a-f]+):\s+(lock \S+.*|xchg\s+\S*\(.*)$")


def atomic_instructions(binary):
    """The addresses of the atomic read-modify-write instructions in `binary`, as objdump
    and callgrind both give them: relative to the file."""
    listing = subprocess.run(["objdump", "-d", "--no-show-raw-insn", binary],
                             check=True, capture_output=True, text=True).stdout
    return {int(match.group(1), 16) for match in map(ATOMIC.match, listing.splitlines()) if match}


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
    parser.add_argument("--top", type=int, default=0, help="list the K functions with the most of what is counted")
    parser.add_argument("--atomics", action="store_true",
                        help="count atomic read-modify-writes per operation instead")
    parser.add_argument("contenders", nargs="*", default=["genserver-1t", "floor-1t"])
    args = parser.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "bench"], check=True)
    binary = os.path.abspath(os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "release", "bench"))
    return count_atomics(binary, args) if args.atomics else count_lines(binary, args)


def count_lines(binary, args):
    """Hot instructions and the cache lines they sit in, per contender."""
    print(f"| contender | {args.operation}: hot instructions | cache lines | bytes |")
    print("|---|---:|---:|---:|")
    breakdowns = []
    for contender in args.contenders:
        cost, function_of = profile(binary, contender, args.operation, args.count)
        hot = [key for key, runs in cost.items() if runs >= 0.9 * args.count]
        lines = {(obj, address // LINE) for obj, address in hot}
        print(f"| `{contender}` | {len(hot)} | {len(lines)} | {len(lines) * LINE} |")
        per_function = collections.defaultdict(set)
        for obj, address in hot:
            per_function[function_of[(obj, address)]].add((obj, address // LINE))
        breakdowns.append((contender, {function: len(lines) for function, lines in per_function.items()}))
    print_top(args.top, "hot cache lines per function", breakdowns, "{:5}")
    return 0


def count_atomics(binary, args):
    """Atomic read-modify-write instructions per operation, per contender."""
    atomic = atomic_instructions(binary)
    print(f"| contender | {args.operation}: atomic read-modify-writes per operation |")
    print("|---|---:|")
    breakdowns = []
    for contender in args.contenders:
        cost, function_of = profile(binary, contender, args.operation, args.count)
        per_function = collections.Counter()
        for (obj, address), runs in cost.items():
            if obj == binary and address in atomic:
                per_function[function_of[(obj, address)]] += runs / args.count
        print(f"| `{contender}` | {sum(per_function.values()):.1f} |")
        # Functions that run an atomic in fewer than one operation in twenty are left out.
        breakdowns.append((contender, {f: n for f, n in per_function.items() if n >= 0.05}))
    print_top(args.top, "atomic read-modify-writes per operation, per function", breakdowns, "{:7.1f}")
    return 0


def print_top(top, what, breakdowns, amount_format):
    """The `top` functions of each contender's breakdown, largest first."""
    for contender, per_function in breakdowns if top else []:
        print(f"\n{contender}: {what}")
        ranked = sorted(per_function.items(), key=lambda item: item[1], reverse=True)
        for function, amount in ranked[:top]:
            print(amount_format.format(amount), function)


if __name__ == "__main__":
    sys.exit(main())
