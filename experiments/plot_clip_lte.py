"""The paper's own CLIP table against its permuted control, MiniLM and one-hot: a fresh generator's
L_OH and L_BN step by step (RESULTS section 13), collected from `lte_few_steps.py` runs and drawn.

    python experiments/plot_clip_lte.py --runs clip=A.json clip_perm0=B.json minilm=C.json \
        onehot=D.json --record docs/results/clip_lte.json --figure docs/clip_lte.png
    python experiments/plot_clip_lte.py --record docs/results/clip_lte.json --figure docs/clip_lte.png

Each NAME=FILE is one `lte_few_steps.py --inputs lte` (or `--inputs onehot`) output; the record
keeps every seed's curves under NAME, and the figure is drawn from the record alone. The table
printed: mean L_OH at a few steps, each seed's first step with L_OH < 1 (`--below`), and each
seed's mean L_OH over the last round (steps of one round are less noisy than one step).
"""
import argparse, json, statistics
from pathlib import Path

from plot_lte_claim import few_steps_curves

NAMES = dict(clip="CLIP, right rows (the paper's)", clip_perm0="CLIP, rows deranged",
             authors="CLIP, the authors' row order", minilm="all-MiniLM-L6-v2",
             onehot="one-hot label", noise="noise z")
COLOURS = dict(clip="tab:blue", clip_perm0="tab:red", authors="tab:purple", minilm="tab:green",
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


def table(record, below=1.0):
    curves_of = {name: [c for k, c in record["curves"].items() if k.split("/")[0] == name]
                 for name in record["inputs"]}
    g, n = record["args"]["g_steps"], len(next(iter(curves_of.values()))[0]["loss_oh"])
    steps = sorted({s for s in (1, 10, g, 2 * g, 3 * g, n) if s <= n})
    print(f"| input | L_OH at step {' / '.join(map(str, steps))} (mean) | first step with L_OH < {below:g} "
          f"(each seed) | mean L_OH over the last round (each seed) | L_BN at step 1 / {n} |")
    print("|---|---|---|---|---|")
    for name, curves in curves_of.items():
        at = lambda key, s: statistics.mean(c[key][s - 1] for c in curves)
        first = [next((i + 1 for i, v in enumerate(c["loss_oh"]) if v < below), "never") for c in curves]
        last = [statistics.mean(c["loss_oh"][n - g:]) for c in curves]  # steps of the last round
        oh = " / ".join(f"{at('loss_oh', s):.2f}" for s in steps)
        tail = f"{statistics.mean(last):.2f} ({', '.join(f'{v:.2f}' for v in last)})"
        bn = f"{at('loss_bn', 1):.1f} / {at('loss_bn', n):.1f}"
        print(f"| {NAMES.get(name, name)} | {oh} | {', '.join(map(str, first))} | {tail} | {bn} |")


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
    ap.add_argument("--record", required=True, help="the collected JSON (written when --runs is given)")
    ap.add_argument("--figure", help="PNG to draw")
    ap.add_argument("--below", type=float, default=1.0,
                    help="the table's 'first step with L_OH below' level (Tiny-ImageNet: 5)")
    args = ap.parse_args(argv)
    if args.runs:
        Path(args.record).write_text(json.dumps(collect(args.runs)) + "\n")
    record = json.loads(Path(args.record).read_text())
    table(record, args.below)
    if args.figure:
        draw(record, args.figure)


if __name__ == "__main__":
    main()
