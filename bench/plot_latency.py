"""The growth curve: API latency per query kind against collection size, from the JSON files
bench/latency.py wrote.

    .venv/bin/python bench/plot_latency.py [results/bench-latency-*.json] [--out results/latency-growth.png]

Prints a markdown table of the same numbers. One panel per concurrency (1 and 8): median per kind as a line, p95 as a lighter band edge,
and the direct Elasticsearch medians dashed, on a log-scaled size axis. Files from different
machines are refused: their points would not belong on one curve.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.synthetic import RESULTS  # noqa: E402


def load_reports(paths: list[Path]) -> list[dict]:
    reports = [json.loads(p.read_text()) for p in paths]
    reports = [r for r in reports if r.get("runs")]
    if not reports:
        raise SystemExit("no latency results with query runs; run bench/latency.py first")
    machines = {json.dumps(r["machine"], sort_keys=True) for r in reports}
    if len(machines) > 1:
        raise SystemExit("the files come from different machines; pass the files of one machine")
    return sorted(reports, key=lambda r: r["n"])


def series(reports: list[dict], concurrency: str, side: str, kind: str, stat: str) -> tuple[list[int], list[float]]:
    xs, ys = [], []
    for report in reports:
        row = report["runs"].get(concurrency, {}).get(side, {}).get("kinds", {}).get(kind)
        if row:
            xs.append(report["n"])
            ys.append(row[stat])
    return xs, ys


def markdown_table(reports: list[dict]) -> str:
    """Median / p95 / p99 ms per size, side, kind and concurrency, for notes and issues."""
    lines = ["| documents | side | kind | c=1 median | c=1 p95 | c=1 p99 | c=8 median | c=8 p95 | c=8 p99 |",
             "|---:|---|---|---:|---:|---:|---:|---:|---:|"]
    for report in reports:
        for side in ("api", "elasticsearch"):
            kinds = sorted({k for run in report["runs"].values() for k in run.get(side, {}).get("kinds", {})})
            for kind in kinds:
                cells = []
                for concurrency in ("1", "8"):
                    row = report["runs"].get(concurrency, {}).get(side, {}).get("kinds", {}).get(kind)
                    cells += [f"{row[s]:.0f}" if row else "" for s in ("median_ms", "p95_ms", "p99_ms")]
                lines.append(f"| {report['n']:,} | {side} | {kind} | " + " | ".join(cells) + " |")
        for concurrency, run in sorted(report["runs"].items()):
            lines.append(f"| {report['n']:,} | api | all kinds, c={concurrency} | {run['api']['queries_per_s']} q/s |"
                         " | | | | | |")
    return "\n".join(lines)


def plot(reports: list[dict], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    concurrencies = sorted({c for r in reports for c in r["runs"]}, key=int)
    kinds = sorted({k for r in reports for run in r["runs"].values() for k in run["api"]["kinds"]})
    direct = sorted({k for r in reports for run in r["runs"].values() for k in run.get("elasticsearch", {}).get("kinds", {})})
    figure, axes = plt.subplots(1, len(concurrencies), figsize=(6.5 * len(concurrencies), 4.8), squeeze=False)
    colours = plt.get_cmap("tab10")
    for axis, concurrency in zip(axes[0], concurrencies):
        for i, kind in enumerate(kinds):
            xs, median = series(reports, concurrency, "api", kind, "median_ms")
            _, p95 = series(reports, concurrency, "api", kind, "p95_ms")
            axis.plot(xs, median, marker="o", color=colours(i), label=f"API {kind}")
            axis.fill_between(xs, median, p95, color=colours(i), alpha=0.12)
        for j, kind in enumerate(direct):
            xs, median = series(reports, concurrency, "elasticsearch", kind, "median_ms")
            axis.plot(xs, median, linestyle="--", marker=".", color="0.35", alpha=0.5 + 0.2 * j,
                      label=f"ES direct {kind}")
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("documents in the index")
        axis.set_ylabel("ms per query (median; band to p95)")
        axis.set_title(f"concurrency {concurrency}")
        axis.grid(True, which="both", alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    machine = reports[0]["machine"]
    figure.suptitle(f"vignett API latency by collection size ({machine['cpu']}, {machine['cores']} cores)")
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return out


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", type=Path, help="default: results/bench-latency-*.json")
    parser.add_argument("--out", type=Path, default=RESULTS / "latency-growth.png")
    args = parser.parse_args(argv)
    paths = args.files or sorted(RESULTS.glob("bench-latency-*.json"))
    reports = load_reports(paths)
    print(markdown_table(reports))
    out = plot(reports, args.out)
    print(f"wrote {out}")
    return out


if __name__ == "__main__":
    main()
