"""The figure and tables for README's "Against its predecessor": test accuracy against wall time.

Three methods on README's CIFAR-10 recipe (same teacher, same student, same test split, 2 cores, one job
at a time): nayer.py, the authors' NAYER code (experiments/official_nayer.py) and Fast-DFKD's code
(experiments/fast_dfkd.py, run for about twice nayer.py's time). x: cumulative training wall time
(synthesis + KD; evaluations excluded on every side), y: test accuracy at each evaluation. Thin lines:
seeds; thick line: the mean over seeds at each evaluation (plotted at the mean time).

    python experiments/plot_time_to_acc.py --runs runs/exp/side   # collect + tables + draw
    python experiments/plot_time_to_acc.py                        # redraw from the committed record

--runs holds nayer_s{N}/ (nayer.py's --out folders: metrics.jsonl, summary.json), authors_s{N}.json and
fast_g{G}_s{N}.json (the last stdout line of the two harnesses). What is collected goes into
docs/results/time_to_accuracy.json; the figure is drawn from that record only. matplotlib is needed here
only, never by nayer.py or the tests.
"""
import argparse, json, math, re, statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAMES = {"nayer": "nayer.py", "authors": "authors' NAYER code", "fast_g2": "Fast-DFKD, Fast-2 (its code)",
         "fast_g10": "Fast-DFKD, Fast-10 (its code)"}
COLOURS = {"nayer": "tab:blue", "authors": "tab:green", "fast_g2": "tab:red", "fast_g10": "tab:purple"}


def curve_nayer(folder):
    """nayer.py's metrics.jsonl -> [(epoch, cumulative synthesis + KD seconds, acc)] at its evaluations."""
    points, t = [], 0.0
    for line in open(folder / "metrics.jsonl"):
        r = json.loads(line)
        t += r["sec_synth"] + r["sec_kd"]
        if r["acc"] is not None:
            points.append((r["epoch"], round(t, 1), r["acc"]))
    return points, round(t, 1)


def collect(runs):
    record = dict(runs=[])
    for p in sorted(Path(runs).iterdir()):
        m = re.fullmatch(r"(nayer|authors|fast_g\d+)_s(\d+)(\.json)?", p.name)
        if not m or (m[1] == "nayer") == bool(m[3]):
            continue
        if m[1] == "nayer":
            if not (p / "summary.json").exists():
                continue  # unfinished
            points, train_s = curve_nayer(p)
        else:
            out = json.loads(p.read_text())
            points = [(h["epoch"], h["train_s"], h["acc"]) for h in out["history"] if h["acc"] is not None]
            train_s = out["train_s"]
        record["runs"].append(dict(method=m[1], seed=int(m[2]), points=points, train_s=train_s,
                                   epochs=points[-1][0], final_acc=points[-1][2]))
    return record


def first_time(points, level):
    return next((t for _, t, a in points if a >= level), None)


def mean_sd(xs):
    return statistics.mean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def tables(record, earlier_pairs=None):
    by = {}  # method -> its runs by seed, in NAMES' order
    for r in sorted(record["runs"], key=lambda r: (list(NAMES).index(r["method"]), r["seed"])):
        by.setdefault(r["method"], []).append(r)
    print("| method | seeds | epochs | final acc % (mean ± std; each seed) | time to 60 % | time to 70 % | training time |")
    print("|---|---|---|---|---|---|---|")
    for method, rs in by.items():
        m, s = mean_sd([r["final_acc"] for r in rs])
        each = ", ".join(f"{r['final_acc']:.2f}" for r in rs)
        cells = []
        for level in (60, 70):
            ts = [first_time(r["points"], level) for r in rs]
            got = [t for t in ts if t is not None]
            cells.append("not within the budget" if not got else
                         f"{statistics.mean(got) / 60:.1f} min" + ("" if len(got) == len(ts) else
                                                                   f" ({len(got)} of {len(ts)} seeds; others never)"))
        print(f"| {NAMES[method]} | {','.join(str(r['seed']) for r in rs)} | {rs[0]['epochs']} "
              f"| {m:.2f} ± {s:.2f} ({each}) | {cells[0]} | {cells[1]} "
              f"| {statistics.mean(r['train_s'] for r in rs) / 60:.1f} min |")
    # every evaluation of every run: epoch, accuracy and the training time at which it was reached
    print("\n| run | epoch: accuracy % at training time (min) |\n|---|---|")
    for method, rs in by.items():
        for r in rs:
            print(f"| {NAMES[method]}, seed {r['seed']} | "
                  + "; ".join(f"{e}: {acc:.1f} at {t / 60:.1f}" for e, t, acc in r["points"]) + " |")
    # nayer.py against the authors' code: paired by seed (same teacher, same seed number)
    n = {r["seed"]: r["final_acc"] for r in by.get("nayer", [])}
    a = {r["seed"]: r["final_acc"] for r in by.get("authors", [])}
    same = [(s, n[s], a[s]) for s in sorted(set(n) & set(a))]  # this record's teacher and machine
    print()
    for pairs in [same] + ([same + [tuple(p) for p in earlier_pairs]] if earlier_pairs else []):
        if len(pairs) < 2:
            continue
        d = [x - y for _, x, y in pairs]
        md, sd = mean_sd(d)
        print(f"nayer.py - authors' code, final accuracy, paired over {len(pairs)} seeds "
              f"({', '.join(str(p[0]) for p in pairs)}): {md:+.2f} ± {sd / math.sqrt(len(d)):.2f} (SE) points; "
              f"each: {', '.join(f'{x:+.2f}' for x in d)}")


def draw(record, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for method in NAMES:
        rs = [r for r in record["runs"] if r["method"] == method]
        if not rs:
            continue
        for r in rs:
            ax.plot([t / 60 for _, t, _ in r["points"]], [a for *_, a in r["points"]], color=COLOURS[method],
                    lw=0.7, alpha=0.35)
        n = min(len(r["points"]) for r in rs)  # the evaluations every seed has
        ax.plot([statistics.mean(r["points"][i][1] for r in rs) / 60 for i in range(n)],
                [statistics.mean(r["points"][i][2] for r in rs) for i in range(n)], color=COLOURS[method], lw=2,
                marker="o", ms=3, label=f"{NAMES[method]} ({len(rs)} seed{'s' * (len(rs) > 1)})")
    for level in (60, 70):
        ax.axhline(level, color="k", lw=0.5, ls=":")
    ax.set(xlabel="training wall time on 2 CPU cores (min; synthesis + KD, evaluations excluded)",
           ylabel="student test accuracy (%)", title="CIFAR-10, wrn16_1 -> wrn16_1: accuracy against time")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--runs", default=None, help="folder of the runs to collect (else: redraw the record)")
    p.add_argument("--earlier-pairs", default=None,
                   help="JSON list of [seed, nayer_acc, authors_acc] pairs measured earlier, added to the paired "
                        "difference (README's seeds 0-3, another teacher)")
    p.add_argument("--record", default=str(ROOT / "docs" / "results" / "time_to_accuracy.json"),
                   help="the collected runs (JSON): written with --runs, read to draw")
    p.add_argument("--out", default=str(ROOT / "docs" / "time_to_accuracy.png"), help="the figure")
    args = p.parse_args(argv)
    if args.runs:
        record = collect(args.runs)
        record["earlier_pairs"] = json.loads(args.earlier_pairs) if args.earlier_pairs else []
        Path(args.record).parent.mkdir(parents=True, exist_ok=True)
        Path(args.record).write_text(json.dumps(record, indent=1))
    record = json.loads(Path(args.record).read_text())
    tables(record, record.get("earlier_pairs"))
    draw(record, args.out)


if __name__ == "__main__":
    main()
