"""The measured tables of docs/performance.md, from `flownet bench` JSON files, and the speed-accuracy plot, from
tools/results.py's results.json (the very numbers of the README's accuracy table).

    python tools/plot_bench.py [--from runs/bench] [--doc docs/performance.md] [--results out/results]
                               [--plot docs/speed_accuracy.png] [--only-plot]

Each bench whose JSON is not in --from yet is run first (`flownet bench ... --json`); the tables replace what lies
between the <!-- bench:start --> and <!-- bench:end --> markers of --doc. The plot shows seconds per pair (log)
against EPE of every configuration of ours and the classical methods on each dataset, as in the README's table; it is
drawn when --results holds them (tools/results.sh ends by drawing it).
"""

from __future__ import annotations

import argparse
import json
import math
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


def plot(results: Path, out: Path) -> bool:
    """ms/pair (log x) against EPE, one panel per dataset, from tools/results.py's results.json (False: none)."""
    path = results / "results.json"
    if not path.is_file():
        return False
    found = json.loads(path.read_text())["flow"]
    fig, axes = plt.subplots(1, len(found), figsize=(6.5 * len(found), 5.0), squeeze=False)
    for ax, (data, rows) in zip(axes[0], found.items()):
        span = max(v["epe"] for v in rows.values())
        placed: list[tuple[float, float]] = []  # (log10 ms, EPE) of the labels put above their point
        for name, v in rows.items():
            if name == "zero flow":
                ax.axhline(v["epe"], color="0.6", lw=1, ls="--")
                ax.text(0.01, v["epe"], " zero flow", transform=ax.get_yaxis_transform(), fontsize=8, va="bottom")
                continue
            ours, ms = not name.startswith("OpenCV"), 1000 * v["s_per_pair"]
            label = (name.replace("**", "").replace("`", "").split(" (")[0].replace("--model ", "")
                     .replace(" --refine none", " alone").replace(" --refine ", " + "))
            ax.scatter(ms, v["epe"], marker="*" if ours else "o", s=160 if ours else 50, color="C3" if ours else "C0",
                       zorder=3)
            near = any(abs(math.log10(ms) - x) < 0.3 and abs(v["epe"] - y) < 0.08 * span for x, y in placed)
            if not near:  # a label above its point, unless one is already there: then below
                placed.append((math.log10(ms), v["epe"]))
            ax.annotate(f"{label}\n{v['epe']:.3f} px, {ms:.0f} ms", (ms, v["epe"]), textcoords="offset points",
                        xytext=(6, -20 if near else 4), fontsize=7)
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel("ms per pair (log scale)")
        ax.set_ylabel("mean end-point error (px)")
        ax.set_title(f"{data} ({next(iter(rows.values()))['n']} pairs)")
        ax.grid(True, alpha=0.3)
        ax.margins(x=0.35, y=0.15)
    fig.suptitle("Speed vs accuracy: the README's table (tools/results.py, one run); lower left is better; "
                 "stars: flownet", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="folder", default="runs/bench", help="folder of bench JSON files")
    parser.add_argument("--doc", default="docs/performance.md", help="markdown file whose tables are replaced")
    parser.add_argument("--results", default="out/results", help="folder of tools/results.py's results.json")
    parser.add_argument("--plot", default="docs/speed_accuracy.png")
    parser.add_argument("--only-plot", action="store_true", help="draw the plot only (no benches, no tables)")
    args = parser.parse_args()
    if plot(Path(args.results), Path(args.plot)):
        print(f"wrote {args.plot} from {args.results}")
    else:
        print(f"no tools/results.sh output in {args.results}: {args.plot} left as it is")
    if args.only_plot:
        return
    results = load(Path(args.folder))
    doc = Path(args.doc)
    text = doc.read_text() if doc.is_file() else f"{START}\n{END}\n"
    if START not in text or END not in text:
        sys.exit(f"{doc}: no {START} ... {END} markers to put the tables between")
    head, rest = text.split(START, 1)
    doc.write_text(f"{head}{START}\n{tables(results)}\n{END}{rest.split(END, 1)[1]}")
    print(f"wrote the tables of {doc}")


if __name__ == "__main__":
    main()
