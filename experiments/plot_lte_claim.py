"""The figure and table for README's "Does the label text help in few steps?" (the paper's LTE claim).

Left: final test accuracy of README's CIFAR-10 recipe against generator steps per round, for the
label-text input (NAYER) and one-hot labels, every seed a dot, the mean a line. Right: L_OH against
generator step right after G is built from scratch (experiments/lte_few_steps.py), mean and spread
over seeds, for the label text, one-hot labels and noise.

    python experiments/plot_lte_claim.py --runs runs/exp --few-steps runs/exp/lte_few_steps.json  # collect + draw
    python experiments/plot_lte_claim.py                                                          # redraw from the record

Run folders are named {lte|onehot}_g{steps}_s{seed} (README gives their commands). What is collected
goes into docs/results/lte_claim.json, which is committed; the figure is drawn from that record only.
matplotlib is needed here only, never by nayer.py or the tests.
"""
import argparse, json, re, statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def read_cells(runs, inputs=r"\w+"):
    """Every finished run folder RUNS/{input}_g{steps}_s{seed} (one with a summary.json): its final
    accuracy, the teacher's, the last epoch's L_OH, the training seconds and accuracy by epoch."""
    cells = []
    for d in sorted(Path(runs).iterdir()):
        m = re.fullmatch(rf"({inputs})_g(\d+)_s(\d+)", d.name)
        if not (m and (d / "summary.json").exists()):
            continue
        summary = json.loads((d / "summary.json").read_text())
        rows = [json.loads(l) for l in open(d / "metrics.jsonl")]
        cells.append(dict(input=m[1], g_steps=int(m[2]), seed=int(m[3]), final_acc=summary["final_acc"],
                          teacher_acc=summary["teacher_acc"], last_loss_oh=rows[-1]["loss_oh"],
                          train_s=round(sum(r["sec_synth"] + r["sec_kd"] for r in rows), 1),
                          acc_by_epoch={r["epoch"]: r["acc"] for r in rows if r["acc"] is not None}))
    return cells


def collect(runs, few_steps):
    return dict(runs=read_cells(runs, "lte|onehot|noise"),
                few_steps=json.loads(Path(few_steps).read_text()) if few_steps else None)


def table(record):
    print("| input | generator steps a round | seeds | final acc % (each seed) | mean | L_OH, last epoch | train s |")
    print("|---|---|---|---|---|---|---|")
    groups = {}
    for r in record["runs"]:
        groups.setdefault((r["input"], r["g_steps"]), []).append(r)
    for (inp, steps), rs in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        accs = [r["final_acc"] for r in sorted(rs, key=lambda r: r["seed"])]
        print(f"| {inp} | {steps} | {','.join(str(r['seed']) for r in rs)} | {', '.join(f'{a:.2f}' for a in accs)} "
              f"| {statistics.mean(accs):.2f} | {statistics.mean(r['last_loss_oh'] for r in rs):.2f} "
              f"| {statistics.mean(r['train_s'] for r in rs):.0f} |")


def few_steps_curves(ax, few, colours, names):
    """lte_few_steps.py's L_OH curves on ax: per input the mean over seeds, the min-max band, and a dotted line
    where each new round (fresh Z) starts. Returns the steps a round."""
    g = few["args"]["g_steps"]
    for inp in few["args"]["inputs"].split(","):
        curves = [c["loss_oh"] for k, c in few["curves"].items() if k.startswith(inp + "/")]
        n = len(curves[0])
        mean = [statistics.mean(c[i] for c in curves) for i in range(n)]
        lo = [min(c[i] for c in curves) for i in range(n)]
        hi = [max(c[i] for c in curves) for i in range(n)]
        x = range(1, n + 1)
        ax.plot(x, mean, color=colours[inp], label=f"{names[inp]} ({len(curves)} seeds)")
        ax.fill_between(x, lo, hi, color=colours[inp], alpha=0.2)
    for r in range(g, n, g):
        ax.axvline(r + 0.5, color="k", lw=0.5, ls=":")
    return g


def draw(record, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
    colours = dict(lte="tab:blue", onehot="tab:orange", noise="tab:grey")
    names = dict(lte="label text (NAYER)", onehot="one-hot label", noise="noise z")
    for inp in ("lte", "onehot"):
        rs = [r for r in record["runs"] if r["input"] == inp]
        if not rs:
            continue
        steps = sorted({r["g_steps"] for r in rs})
        a.scatter([r["g_steps"] for r in rs], [r["final_acc"] for r in rs], color=colours[inp], s=14, alpha=0.6)
        a.plot(steps, [statistics.mean(r["final_acc"] for r in rs if r["g_steps"] == s) for s in steps],
               color=colours[inp], marker="o", label=names[inp])
    a.set(xlabel="generator steps per round (g_steps)", ylabel="final student test accuracy (%)",
          title="CIFAR-10 recipe: accuracy vs generator steps")
    a.set_xticks(sorted({r["g_steps"] for r in record["runs"]}) or [2, 5, 10])
    a.legend()
    few = record.get("few_steps")
    if few:
        g = few_steps_curves(b, few, colours, names)
        b.set(xlabel=f"generator step after G is built (new Z every {g} steps)", ylabel="L_OH (teacher CE)",
              title="a fresh generator learning", yscale="log")
        b.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", default=None, help="folder of the recipe runs to collect (else: redraw the record)")
    p.add_argument("--few-steps", default=None, help="lte_few_steps.py's JSON to collect")
    p.add_argument("--record", default=str(ROOT / "docs" / "results" / "lte_claim.json"))
    p.add_argument("--out", default=str(ROOT / "docs" / "lte_claim.png"))
    args = p.parse_args(argv)
    if args.runs:
        Path(args.record).parent.mkdir(parents=True, exist_ok=True)
        Path(args.record).write_text(json.dumps(collect(args.runs, args.few_steps), indent=1))
    record = json.loads(Path(args.record).read_text())
    table(record)
    draw(record, args.out)


if __name__ == "__main__":
    main()
