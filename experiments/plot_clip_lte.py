"""The paper's own CLIP table against its permuted control, MiniLM and one-hot: a fresh generator's
L_OH and L_BN step by step (RESULTS section 13), collected from `lte_few_steps.py` runs and drawn.

    python experiments/plot_clip_lte.py --runs clip=A.json clip_perm0=B.json minilm=C.json \
        onehot=D.json --record docs/results/clip_lte.json --figure docs/clip_lte.png
    python experiments/plot_clip_lte.py --record docs/results/clip_lte.json --figure docs/clip_lte.png

Each NAME=FILE is one `lte_few_steps.py --inputs lte` (or `--inputs onehot`) output; the record
keeps every seed's curves under NAME, and the figure is drawn from the record alone. The table
printed: mean L_OH (and each seed's) at a few steps, and the first step with L_OH < 1.
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


def table(record):
    g = record["args"]["g_steps"]
    print("| input | L_OH at step 1 / 10 / %d / %d / %d (mean) | first step with L_OH < 1 "
          "(each seed) | L_BN at step 1 / %d |" % (g, 2 * g, 3 * g, 3 * g))
    print("|---|---|---|---|")
    for name in record["inputs"]:
        curves = [c for k, c in record["curves"].items() if k.split("/")[0] == name]
        n = len(curves[0]["loss_oh"])
        at = lambda key, s: statistics.mean(c[key][s - 1] for c in curves)
        first = [next((i + 1 for i, v in enumerate(c["loss_oh"]) if v < 1), "never") for c in curves]
        steps = [s for s in (1, 10, g, 2 * g, 3 * g) if s <= n]
        oh = " / ".join(f"{at('loss_oh', s):.2f}" for s in steps)
        bn = f"{at('loss_bn', 1):.1f} / {at('loss_bn', n):.1f}"
        print(f"| {NAMES.get(name, name)} | {oh} | {', '.join(map(str, first))} | {bn} |")


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
    args = ap.parse_args(argv)
    if args.runs:
        Path(args.record).write_text(json.dumps(collect(args.runs)) + "\n")
    record = json.loads(Path(args.record).read_text())
    table(record)
    if args.figure:
        draw(record, args.figure)


if __name__ == "__main__":
    main()
