"""Runs the benches (or reads a saved run) and prints one compact comparison table.

    python benches/summarize.py                  # run pytest benches, then summarise
    python benches/summarize.py --json run.json  # summarise a saved --benchmark-json file
    python benches/summarize.py --save run.json  # run, keep the JSON, summarise
    python benches/summarize.py -- -k checksum   # extra arguments go to pytest

Figures are medians (robust to the odd slow round on a shared VM). "per unit" divides by the
levels or operations one call performs (``extra_info["per_call"]``); "vs ref" is how many
times faster than the pure-Python reference of the same group.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
IMPL_ORDER = {"core": 0, "reference": 1, "harness only": 3}


def run_benches(json_path: Path, pytest_args: list[str]) -> None:
    command = [
        sys.executable,
        "-m",
        "pytest",
        str(HERE),
        "--benchmark-enable",
        f"--benchmark-json={json_path}",
        "-q",
        *pytest_args,
    ]
    print("$", " ".join(command), file=sys.stderr)
    subprocess.run(command, check=True, cwd=HERE.parent)


def _ns(seconds: float) -> str:
    ns = seconds * 1e9
    if ns >= 100_000:
        return f"{ns / 1000:,.0f} µs"
    return f"{ns:,.0f} ns" if ns >= 100 else f"{ns:.1f} ns"


def _rate(per_second: float) -> str:
    for scale, suffix in ((1e6, "M"), (1e3, "k")):
        if per_second >= scale:
            return f"{per_second / scale:.2f} {suffix}/s"
    return f"{per_second:.0f} /s"


def rows(report: dict[str, Any]) -> list[list[str]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for bench in report["benchmarks"]:
        groups.setdefault(bench.get("group") or bench["name"], []).append(bench)
    out = []
    for group, benches in sorted(groups.items()):
        ref = next((b for b in benches if b["extra_info"].get("impl") == "reference"), None)
        benches.sort(key=lambda b: (IMPL_ORDER.get(b["extra_info"].get("impl"), 2), b["name"]))
        for bench in benches:
            info = bench["extra_info"]
            median = bench["stats"]["median"]
            per_call = int(info.get("per_call", 1))
            unit = info.get("unit", "op")
            comparable = ref is not None and info.get("impl") != "harness only"
            ratio = f"{ref['stats']['median'] / median:.1f}x" if comparable else "-"
            out.append(
                [
                    group,
                    info.get("impl", bench["name"]),
                    _ns(median),
                    f"{_ns(median / per_call)}/{unit}",
                    _rate(per_call / median) + f" {unit}s",
                    ratio,
                ]
            )
    return out


def print_table(report: dict[str, Any]) -> None:
    machine = report.get("machine_info", {})
    cpu = machine.get("cpu", {}).get("brand_raw", "unknown CPU")
    print(f"# {cpu}, Python {machine.get('python_version', '?')}, {report.get('datetime', '')}")
    header = ["group", "impl", "per call", "per unit", "throughput", "vs ref"]
    table = [header, *rows(report)]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for n, row in enumerate(table):
        cells = [
            cell.ljust(width) if i < 2 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())
        if n == 0:
            print("  ".join("-" * width for width in widths))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="summarise this saved run instead of running")
    parser.add_argument("--save", type=Path, help="run and keep the JSON here")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args(argv)
    if args.json is not None:
        report = json.loads(args.json.read_text())
    else:
        with tempfile.TemporaryDirectory() as tmp:
            path = args.save or Path(tmp) / "benches.json"
            run_benches(path, args.pytest_args)
            report = json.loads(path.read_text())
    print_table(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
