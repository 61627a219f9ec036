"""Speed-accuracy plot and the measured tables of docs/performance.md, from `flownet bench` JSON files.

    python tools/plot_bench.py [--from runs/bench] [--plot docs/speed_accuracy.png] [--doc docs/performance.md]

Each bench whose JSON is not in --from yet is run first (`flownet bench ... --json`). The plot shows ms per pair
(log) against EPE for the classical methods and the trained (shipped) model only; the untrained widths 1.0 and
0.25 have timings in the table but no meaningful accuracy. The tables replace what lies between the
<!-- bench:start --> and <!-- bench:end --> markers of --doc.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

WIDTHS, PRECISIONS = ("1.0", "0.5", "0.25"), ("fp32", "bf16")
BENCHES = {  # JSON name: flownet bench arguments
    **{f"infer_{w}_{p}": ["--what", "infer", "--width", w, "--precision", p, "--repeats", "20"]
       for w in WIDTHS for p in PRECISIONS},
    "infer_1080p": ["--what", "infer", "--width", "1.0", "--size", "1080x1920", "--repeats", "3", "--warmup", "1"],
    "train_1.0": ["--what", "train", "--width", "1.0", "--repeats", "6", "--warmup", "2"],
    "data_0.5": ["--what", "data", "--width", "0.5", "--repeats", "12", "--warmup", "2"],
    "interp": ["--what", "interp", "--size", "360x640", "--precision", "auto"],
    "classical": ["--what", "classical", "--precision", "auto"],
}
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def load(folder: Path) -> dict[str, dict]:
    """Every bench's JSON, running the missing ones (on the CPU: these are the CPU tables)."""
    folder.mkdir(parents=True, exist_ok=True)
    results = {}
    for name, args in BENCHES.items():
        path = folder / f"{name}.json"
        if not path.is_file():
            subprocess.run([sys.executable, "-m", "flownet.cli", "bench", *args, "--device", "cpu", "--json",
                            str(path)], check=True)
        results[name] = json.loads(path.read_text())
    return results


def tables(r: dict[str, dict]) -> str:
    """The measured tables as markdown."""
    m = r["infer_1.0_fp32"]["machine"]
    lines = [f"Measured on: {m['cpu']} ({m['isa']}), {m['threads']} threads, torch {m['torch']}; "
             f"regenerate with `tools/bench_all.sh`.", "",
             "| network | precision | ms/pair (median, min) | GFLOP/pair | GFLOP/s | ceiling GFLOP/s | ratio |",
             "|---|---|---|---|---|---|---|"]
    for w in WIDTHS:
        for p in PRECISIONS:
            i = r[f"infer_{w}_{p}"]["infer"]
            t, c = i["ms_per_pair"], i["ceiling"][p]
            lines.append(f"| FlowNetS width {w}, {i['size'][0]}x{i['size'][1]} | {p} | {t['median']:.1f}, "
                         f"{t['min']:.1f} | {i['gflop_per_pair']:.2f} | {i['gflops']:.0f} | {c['gflops']:.0f} | "
                         f"{i['ratio']:.2f} |")
    big = r["infer_1080p"]["infer"]
    mem = big["memory"]
    lines += ["", f"Full width at 1920x1080 (fp32): {big['ms_per_pair']['median']:.0f} ms/pair, peak memory "
                  f"{mem['peak_rss_bytes'] / 2**30:.2f} GiB RSS ({mem['increase_bytes'] / 2**30:.2f} GiB for the "
                  f"forward itself).", "",
              "| training step | batch, crop | pairs/s | GFLOP/s | ratio to the fp32 ceiling |", "|---|---|---|---|---|"]
    for name in ("train_1.0", "data_0.5"):
        t = r[name]["train"]
        lines.append(f"| width {t['width']:g}, fp32 | {t['batch']}, {t['crop'][0]}x{t['crop'][1]} | "
                     f"{t['pairs_per_s']:.2f} | {t['gflops']:.0f} | {t['ratio']:.2f} |")
    d = r["data_0.5"]["data"]
    lines += ["", "| data loading | workers | pairs/s | ratio to width-0.5 training |", "|---|---|---|---|"]
    for k, label in (("synthetic", "synthetic stream"), ("flyingchairs", "Flying Chairs folder (augmented)")):
        lines.append(f"| {label} | {d['workers']} | {d[k]['pairs_per_s']:.1f} | {d[k]['ratio_to_train']:.1f} |")
    it = r["interp"]["interp"]
    lines += ["", f"Video interpolation x{it['factor']} at {it['size'][0]}x{it['size'][1]} (shipped model, "
                  f"{it['precision']}, H.264 video in and out): {it['frames_per_s']:.2f} output frames/s."]
    c = r["classical"]["classical"]
    lines += ["", "| data | method | EPE | ms/pair |", "|---|---|---|---|"]
    for data, rows in c["datasets"].items():
        for name, v in rows.items():
            label = f"{name} ({c['precision']})" if name == c["model"] else name
            lines.append(f"| {data} | {label} | {v['epe']:.3f} | {v['ms_per_pair']:.1f} |")
    return "\n".join(lines)


def plot(r: dict[str, dict], out: Path) -> None:
    """ms/pair (log x) against EPE, one panel per dataset."""
    c = r["classical"]["classical"]
    fig, axes = plt.subplots(1, len(c["datasets"]), figsize=(5.5 * len(c["datasets"]), 4.2), squeeze=False)
    for ax, (data, rows) in zip(axes[0], c["datasets"].items()):
        for name, v in rows.items():
            ours = name == c["model"]
            ax.scatter(v["ms_per_pair"], v["epe"], marker="*" if ours else "o", s=160 if ours else 50,
                       color="C3" if ours else "C0", zorder=3)
            label = f"FlowNetS 0.5 shipped ({c['precision']})" if ours else name
            ax.annotate(label, (v["ms_per_pair"], v["epe"]), textcoords="offset points", xytext=(6, 4), fontsize=9)
        ax.set_xscale("log")
        ax.set_xticks([1, 2, 5, 10, 20, 50, 100, 200], labels=["1", "2", "5", "10", "20", "50", "100", "200"])
        ax.minorticks_off()
        ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel("ms per pair (log)")
        ax.set_ylabel("average end-point error (px)")
        ax.set_title(f"{data} ({next(iter(rows.values()))['n']} pairs)")
        ax.grid(True, which="both", alpha=0.3)
        ax.margins(x=0.25, y=0.15)
    m = r["classical"]["machine"]
    fig.suptitle(f"Speed vs accuracy on {m['cpu']}, {m['threads']} threads (lower left is better)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="folder", default="runs/bench", help="folder of bench JSON files")
    parser.add_argument("--plot", default="docs/speed_accuracy.png")
    parser.add_argument("--doc", default="docs/performance.md", help="markdown file whose tables are replaced")
    args = parser.parse_args()
    results = load(Path(args.folder))
    plot(results, Path(args.plot))
    doc = Path(args.doc)
    text = doc.read_text() if doc.is_file() else f"{START}\n{END}\n"
    if START not in text or END not in text:
        sys.exit(f"{doc}: no {START} ... {END} markers to put the tables between")
    head, rest = text.split(START, 1)
    doc.write_text(f"{head}{START}\n{tables(results)}\n{END}{rest.split(END, 1)[1]}")
    print(f"wrote {args.plot} and the tables of {doc}")


if __name__ == "__main__":
    main()
