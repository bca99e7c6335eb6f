"""README's "Results at a glance" figure, drawn from a committed record of measured numbers.

Left: test accuracy against epoch on README's CIFAR-10 recipe, nayer.py against the authors' code
(mean over seeds, a band of one standard deviation). Right: the final accuracy of each generator
variant at the same budget (bar: mean; dots: seeds), with the teacher's accuracy as a line.

    python experiments/plot_glance.py    # reads docs/results/cifar10_recipe_2026-11.json, writes docs/results_glance.png

The record holds the per-evaluation means and spreads and the per-seed finals as measured (the
commands are in docs/RESULTS.md). matplotlib is needed here only, never by nayer.py or the tests.
"""
import argparse, json, statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def draw(record, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw=dict(width_ratios=[1, 1.25]))
    side = record["side_by_side"]
    for key, colour, name in (("authors", "tab:green", "authors' code"), ("nayer", "tab:blue", "nayer.py")):
        mean, std = side[key]["mean"], side[key]["std"]
        a.plot(side["epochs"], mean, color=colour, marker="o", ms=3, label=f"{name} (seeds {min(side['seeds'])}-"
               f"{max(side['seeds'])}, final {statistics.mean(side[key]['final']):.1f} %)")
        a.fill_between(side["epochs"], [m - s for m, s in zip(mean, std)], [m + s for m, s in zip(mean, std)],
                       color=colour, alpha=0.15)
    a.axhline(record["teacher_acc"], color="k", lw=0.7, ls="--", label=f"teacher {record['teacher_acc']} %")
    a.set(xlabel="epoch (the first 5 are warm-up, not evaluated)", ylabel="student test accuracy (%)",
          title="nayer.py against the authors' code", ylim=(0, 90))
    a.legend(loc="lower right", fontsize=8)
    rows = record["baselines"][::-1]  # top to bottom as in the record
    for i, r in enumerate(rows):
        b.barh(i, statistics.mean(r["final"]), color="tab:blue" if i == len(rows) - 1 else "tab:grey", alpha=0.6)
        b.scatter(r["final"], [i] * len(r["final"]), color="k", s=10, zorder=3)
        b.text(max(r["final"]) + 1.5, i, f"{statistics.mean(r['final']):.2f}", va="center", fontsize=8)
    b.set_yticks(range(len(rows)), [f"{r['name']} ({len(r['seeds'])} seeds)" for r in rows], fontsize=8)
    b.axvline(record["teacher_acc"], color="k", lw=0.7, ls="--")
    b.set(xlabel="final student test accuracy (%)", xlim=(0, 90), title="what each part of the generator buys")
    fig.suptitle("CIFAR-10 on a 2-core CPU: README's 30-epoch recipe, wrn16_1 -> wrn16_1 (real images after one "
                 "JPEG round trip)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--record", default=str(ROOT / "docs" / "results" / "cifar10_recipe_2026-11.json"))
    p.add_argument("--out", default=str(ROOT / "docs" / "results_glance.png"))
    args = p.parse_args(argv)
    draw(json.loads(Path(args.record).read_text()), args.out)


if __name__ == "__main__":
    main()
