"""The Tiny-ImageNet record, table and figure of docs/RESULTS.md section 11 (the LTE claim with 200 classes).

    python experiments/tiny_imagenet_claim.py --runs runs/timg32 --data-root data/timg_src \
        --few-steps runs/timg32/lte_few_steps.json          # collect the runs, per-class accuracies, draw
    python experiments/tiny_imagenet_claim.py               # redraw from the committed record

Collects the run folders {lte|onehot|noise}_g{steps}_s{seed} that experiments/tiny_imagenet_claim.sh wrote
(final accuracy, last L_OH, time), the per-step curves of experiments/lte_few_steps.py, and the mechanism the
paper names: per class, the validation accuracy of the label-text students minus that of the one-hot students
(mean over the seeds at the recipe's steps) against the class's nearest-neighbour cosine similarity in the label
table. Everything goes into docs/results/tiny_imagenet.json (committed); the figure docs/tiny_imagenet.png is
drawn from that record only. matplotlib is needed here only.
"""
import argparse, json, statistics, sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "experiments"))
import nayer  # noqa: E402
from plot_lte_claim import collect, few_steps_curves, table  # noqa: E402  as section 5's runs and curves


def per_class(runs, data_root, steps):
    """Per-class validation accuracy of every lte/onehot student at `steps`, and the table's neighbours."""
    args = argparse.Namespace(dataset="tiny_imagenet", data_root=data_root, image_size=32)
    x, y, names = nayer.load_split(args, train=False)
    x = (x.float() / 255 - 0.5) / 0.5  # (10000, 3, 32, 32): the data set's mean = std = 0.5
    lte = torch.load(Path(runs) / f"lte_g{steps}_s0" / "lte.pt", weights_only=True)["table"]  # (200, D)
    e = torch.nn.functional.normalize(lte, dim=1)
    cos = (e @ e.T).fill_diagonal_(-1)  # (200, 200), self excluded
    nn_cos, nn_idx = cos.max(1)
    accs = {}
    for d in sorted(Path(runs).glob(f"*_g{steps}_s*")):
        if d.name.split("_")[0] not in ("lte", "onehot") or not (d / "student.pth").exists():
            continue
        S = nayer.build_model("wrn16_1", 200)
        S.load_state_dict(torch.load(d / "student.pth", weights_only=True)["state_dict"])
        with torch.no_grad():
            pred = torch.cat([S.eval()(x[i:i + 1000]).argmax(1) for i in range(0, len(y), 1000)])
        accs[d.name] = [100 * (pred[y == c] == c).float().mean().item() for c in range(200)]
    return dict(names=names, nn_cos=nn_cos.tolist(), nn=[names[i] for i in nn_idx], acc=accs, g_steps=steps)


def analyse(pc):
    """Per-class difference (label text - one-hot) against nearest-neighbour cosine: correlations, quartiles."""
    mean_of = lambda inp: torch.tensor([v for k, v in pc["acc"].items() if k.startswith(inp + "_")]).mean(0)
    diff, s = mean_of("lte") - mean_of("onehot"), torch.tensor(pc["nn_cos"])  # (200,), (200,)
    rank = lambda v: v.argsort().argsort().float()
    corr = lambda a, b: torch.corrcoef(torch.stack([a, b]))[0, 1].item()
    q = s.quantile(torch.tensor([0.25, 0.75]))
    groups = {"closest quarter": s >= q[1], "middle half": (s > q[0]) & (s < q[1]), "farthest quarter": s <= q[0]}
    out = dict(pearson=corr(diff, s), spearman=corr(rank(diff), rank(s)), mean_diff=diff.mean().item(), groups={})
    # power check: does a class's difference repeat from one seed's pair of students to the next? (50 val images a
    # class: accuracy moves in steps of 2 points)
    pair = lambda seed: torch.tensor(pc["acc"][f"lte_g{pc['g_steps']}_s{seed}"]) - \
        torch.tensor(pc["acc"][f"onehot_g{pc['g_steps']}_s{seed}"])  # (200,)
    out["seed0_vs_seed1_diff_corr"] = corr(pair(0), pair(1))
    for name, m in groups.items():
        d = diff[m]
        out["groups"][name] = dict(n=int(m.sum()), nn_cos=f"{s[m].min():.2f}-{s[m].max():.2f}",
                                   mean_diff=d.mean().item(), se=(d.std() / len(d) ** 0.5).item())
    return out, diff.tolist()


def draw(record, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(15, 4))
    colours = dict(lte="tab:blue", onehot="tab:orange", noise="tab:grey")
    names = dict(lte="label text (NAYER)", onehot="one-hot label", noise="noise z")
    for inp in ("lte", "onehot", "noise"):
        rs = [r for r in record["runs"] if r["input"] == inp]
        if rs:
            steps = sorted({r["g_steps"] for r in rs})
            a.scatter([r["g_steps"] for r in rs], [r["final_acc"] for r in rs], color=colours[inp], s=14, alpha=0.6)
            a.plot(steps, [statistics.mean(r["final_acc"] for r in rs if r["g_steps"] == s) for s in steps],
                   color=colours[inp], marker="o", label=names[inp])
    a.set(xlabel="generator steps per round", ylabel="final student val accuracy (%)",
          title="Tiny-ImageNet 32 px recipe (wrn16_1 -> wrn16_1)")
    a.set_xticks(sorted({r["g_steps"] for r in record["runs"]}))
    a.legend()
    few = record.get("few_steps")
    if few:
        g = few_steps_curves(b, few, colours, names)
        b.axhline(5.298, color="k", lw=0.8, ls="--", label="uniform guess, ln 200")
        b.set(xlabel=f"generator step after G is built (new Z every {g} steps)", ylabel="L_OH (teacher CE)",
              title="a fresh generator learning, 200 classes")
        b.legend()
    pc = record.get("per_class")
    if pc:
        c.scatter(pc["nn_cos"], pc["diff"], s=10, alpha=0.6)
        c.axhline(0, color="k", lw=0.8)
        c.set(xlabel="nearest-neighbour cosine of the class in the label table",
              ylabel="val acc: label text - one-hot (points)",
              title=f"per class (Spearman {pc['analysis']['spearman']:+.2f})")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", default=None, help="folder of the run folders (else: redraw the record)")
    p.add_argument("--data-root", default="data", help="the folder holding tiny-imagenet-200 (per-class accuracy)")
    p.add_argument("--few-steps", default=None, help="lte_few_steps.py's JSON")
    p.add_argument("--per-class-steps", type=int, default=10, help="the recipe's generator steps")
    p.add_argument("--record", default=str(ROOT / "docs" / "results" / "tiny_imagenet.json"))
    p.add_argument("--out", default=str(ROOT / "docs" / "tiny_imagenet.png"))
    args = p.parse_args(argv)
    if args.runs:
        record = collect(args.runs, args.few_steps)
        pc = per_class(args.runs, args.data_root, args.per_class_steps)
        pc["analysis"], pc["diff"] = analyse(pc)
        record["per_class"] = pc
        Path(args.record).write_text(json.dumps(record, indent=1))
    record = json.loads(Path(args.record).read_text())
    table(record)
    pc = record.get("per_class")
    if pc:
        print(json.dumps(pc["analysis"], indent=1))
        top = sorted(range(200), key=lambda i: -pc["nn_cos"][i])[:8]
        print("closest pairs:", "; ".join(f"{pc['names'][i]} / {pc['nn'][i]} {pc['nn_cos'][i]:.2f}" for i in top))
    draw(record, args.out)


if __name__ == "__main__":
    main()
