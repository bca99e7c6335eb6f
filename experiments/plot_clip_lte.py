"""The paper's own CLIP table against its permuted control, MiniLM and one-hot: a fresh generator's
L_OH and L_BN step by step, and the recipe's final accuracy (RESULTS section 13), collected from
`lte_few_steps.py` runs and run folders, and drawn.

    python experiments/plot_clip_lte.py --runs clip=A.json clip_perm0=B.json minilm=C.json \
        onehot=D.json --record docs/results/clip_lte.json --figure docs/clip_lte.png
    python experiments/plot_clip_lte.py --cells RUNS --record docs/results/clip_lte.json \
        --cells-figure docs/clip_lte_accuracy.png  # the accuracy cells into the same record
    python experiments/plot_clip_lte.py --record docs/results/clip_lte.json --figure docs/clip_lte.png

Each NAME=FILE is one `lte_few_steps.py --inputs lte` (or `--inputs onehot`) output; the record
keeps every seed's curves under NAME, and the figure is drawn from the record alone. The table
printed: mean L_OH at a few steps, each seed's first step with L_OH < 1 (`--below`), and each
seed's mean L_OH over the last round (steps of one round are less noisy than one step); with
`--round R`, over round R too (where the inputs part before they all converge).

`--cells RUNS` collects the finished run folders RUNS/{NAME}_g{STEPS}_s{SEED} (each with its
summary.json) into the record's "cells": final accuracy a seed, per input and generator steps,
drawn by `--cells-figure`; `--paired NAME` prints each input minus NAME, seed by seed. Every cell
must come from one teacher (the script refuses otherwise).
"""
import argparse, json, statistics, sys
from pathlib import Path

from parity_record import said_diff, seed_diff
from plot_lte_claim import few_steps_curves, read_cells

NAMES = dict(clip="CLIP, right rows (the paper's)", clip_perm0="CLIP, rows deranged",
             clip_across0="CLIP, rows deranged across superclasses",
             clip_within0="CLIP, rows deranged within superclasses",
             authors="CLIP, the authors' row order", minilm="all-MiniLM-L6-v2",
             onehot="one-hot label", noise="noise z")
COLOURS = dict(clip="tab:blue", clip_perm0="tab:red", clip_across0="tab:red", clip_within0="tab:pink",
               authors="tab:purple", minilm="tab:green",
               onehot="tab:orange", noise="tab:grey")


def collect(runs):
    record, args = dict(curves={}, inputs=[], sources={}), None
    for spec in runs:
        name, path = spec.split("=", 1)
        few = json.loads(Path(path).read_text())
        for key, curve in few["curves"].items():
            record["curves"][f"{name}/{key.split('/')[1]}"] = curve
        record["inputs"].append(name)
        record["sources"][name] = {k: few["args"][k] for k in ("lte_file", "inputs", "teacher_ckpt")}
        args = few["args"]
    record["args"] = {k: v for k, v in args.items() if k not in ("lte_file", "inputs", "out")}
    return record


def table(record, below=1.0, round_=None):
    curves_of = {name: [c for k, c in record["curves"].items() if k.split("/")[0] == name]
                 for name in record["inputs"]}
    g, n = record["args"]["g_steps"], len(next(iter(curves_of.values()))[0]["loss_oh"])
    steps = sorted({s for s in (1, 10, g, 2 * g, 3 * g, n) if s <= n})
    if round_ and not 1 <= round_ <= n // g:
        sys.exit(f"--round {round_}: the curves have rounds 1 to {n // g}")
    nth = {1: "1st", 2: "2nd", 3: "3rd"}.get(round_, f"{round_}th")
    extra = f" mean L_OH over the {nth} round (each seed) |" if round_ else ""
    print(f"| input | L_OH at step {' / '.join(map(str, steps))} (mean) | first step with L_OH < {below:g} "
          f"(each seed) |{extra} mean L_OH over the last round (each seed) | L_BN at step 1 / {n} |")
    print("|---|---|---|---|---|" + ("---|" if round_ else ""))
    for name, curves in curves_of.items():
        at = lambda key, s: statistics.mean(c[key][s - 1] for c in curves)
        first = [next((i + 1 for i, v in enumerate(c["loss_oh"]) if v < below), "never") for c in curves]
        def over(r):  # each seed's mean L_OH over the steps of round r (1-based)
            means = [statistics.mean(c["loss_oh"][(r - 1) * g:r * g]) for c in curves]
            return f"{statistics.mean(means):.2f} ({', '.join(f'{v:.2f}' for v in means)})"
        oh = " / ".join(f"{at('loss_oh', s):.2f}" for s in steps)
        tail = over(n // g)  # the last round
        if round_:
            tail = f"{over(round_)} | {tail}"
        bn = f"{at('loss_bn', 1):.1f} / {at('loss_bn', n):.1f}"
        print(f"| {NAMES.get(name, name)} | {oh} | {', '.join(map(str, first))} | {tail} | {bn} |")


def collect_cells(runs):
    cells = read_cells(runs)
    for c in cells:
        folder = Path(runs) / f"{c['input']}_g{c['g_steps']}_s{c['seed']}"
        config = json.loads((folder / "config.json").read_text())
        c.update({k: config[k] for k in ("teacher_ckpt", "lte_file", "generator_input")})
    teachers = {(c["teacher_ckpt"], c["teacher_acc"]) for c in cells}
    if len(teachers) > 1:
        print(f"the cells under {runs} come from {len(teachers)} teachers {sorted(teachers)}: "
              f"compare inputs within one teacher", file=sys.stderr)
        sys.exit(2)
    return cells


def cell_groups(record):
    """{(steps, input): [cell, ...] by seed}, in the order the table and the figure show them."""
    order = {name: i for i, name in enumerate(NAMES)}
    groups = {}
    for c in sorted(record.get("cells", []), key=lambda c: (c["g_steps"], order.get(c["input"], 99),
                                                            c["seed"])):
        groups.setdefault((c["g_steps"], c["input"]), []).append(c)
    return groups


def cell_table(record, paired=None):
    groups = cell_groups(record)
    print("| input | generator steps a round | seeds | final acc % (each seed) | mean "
          "| L_OH, last epoch (each seed) |")
    print("|---|---|---|---|---|---|")
    for (steps, name), cells in groups.items():
        accs = [c["final_acc"] for c in cells]
        seeds = ", ".join(str(c["seed"]) for c in cells)
        each = ", ".join(f"{a:.2f}" for a in accs)
        oh = ", ".join(f"{c['last_loss_oh']:.2f}" for c in cells)
        print(f"| {NAMES.get(name, name)} | {steps} | {seeds} | {each} | "
              f"{statistics.mean(accs):.2f} | {oh} |")
    if paired:  # each input minus `paired`, seed by seed: mean +- standard error
        def acc(steps, name):  # {seed: final accuracy}
            return {c["seed"]: c["final_acc"] for c in groups.get((steps, name), [])}
        for steps, name in groups:
            d, m, se = seed_diff(acc(steps, name), acc(steps, paired))
            if name != paired and d:
                print(said_diff(f"{steps} steps, {name} - {paired}", d, m, se))


def draw_cells(record, out):
    """Final accuracy, a dot a seed and a bar at the mean; a panel per setting of generator steps
    (each its own scale: the seeds' spread is the thing to see)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    groups = cell_groups(record)
    settings = sorted({steps for steps, _ in groups})
    names = [n for n in NAMES if any(name == n for _, name in groups)]
    fig, axes = plt.subplots(1, len(settings), figsize=(max(6, 4 * len(settings)), 3.8), squeeze=False)
    for ax, steps in zip(axes[0], settings):
        for x, name in enumerate(names):
            accs = [c["final_acc"] for c in groups.get((steps, name), [])]
            ax.scatter([x] * len(accs), accs, color=COLOURS[name], s=18, alpha=0.8)
            if accs:
                ax.hlines(statistics.mean(accs), x - 0.3, x + 0.3, color=COLOURS[name])
        ax.set_xticks(range(len(names)), [NAMES[n].split(" (")[0] for n in names],
                      rotation=25, ha="right", fontsize=7)
        ax.set(title=f"{steps} generator steps a round", xlim=(-0.5, len(names) - 0.5))
    teacher = record["cells"][0]["teacher_acc"]
    axes[0][0].set_ylabel("final student test accuracy (%)")
    data = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100"}.get(record["args"].get("dataset"), "CIFAR-10")
    fig.suptitle(f"{data} recipe, one teacher ({teacher:.2f} %): a dot a seed, a bar the mean",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


def draw(record, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
    few = dict(args=dict(record["args"], inputs=",".join(record["inputs"])), curves=record["curves"])
    few_steps_curves(a, few, COLOURS, NAMES)
    a.set(xlabel="generator step after G is built", ylabel="L_OH (teacher cross-entropy)",
          title="How fast a fresh G learns the class")
    a.legend(fontsize=7)
    bn = dict(few, curves={k: dict(loss_oh=c["loss_bn"]) for k, c in record["curves"].items()})
    few_steps_curves(b, bn, COLOURS, NAMES)
    b.set(xlabel="generator step after G is built", ylabel="L_BN", yscale="log",
          title="BN statistics")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", nargs="*", help="NAME=FILE of lte_few_steps.py outputs (else: read --record)")
    ap.add_argument("--cells", help="folder of the recipe's run folders NAME_gSTEPS_sSEED to collect")
    ap.add_argument("--record", required=True,
                    help="the collected JSON (written when --runs or --cells is given)")
    ap.add_argument("--figure", help="PNG of the per-step curves to draw")
    ap.add_argument("--cells-figure", help="PNG of the accuracy cells to draw")
    ap.add_argument("--below", type=float, default=1.0,
                    help="the table's 'first step with L_OH below' level (Tiny-ImageNet: 5)")
    ap.add_argument("--paired", help="also each cell input minus this one (e.g. clip), by seed")
    ap.add_argument("--round", type=int, help="also each seed's mean L_OH over this round (1-based)")
    args = ap.parse_args(argv)
    if args.runs:
        Path(args.record).write_text(json.dumps(collect(args.runs)) + "\n")
    record = json.loads(Path(args.record).read_text())
    if args.cells:
        record["cells"] = collect_cells(args.cells)
        Path(args.record).write_text(json.dumps(record) + "\n")
    table(record, args.below, args.round)
    if record.get("cells"):
        cell_table(record, args.paired)
    if args.figure:
        draw(record, args.figure)
    if args.cells_figure:
        draw_cells(record, args.cells_figure)


if __name__ == "__main__":
    main()
