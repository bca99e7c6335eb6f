"""The side-by-side records of docs/RESULTS.md: nayer.py against the authors' code, paired by seed.

    python experiments/parity_record.py tiny_imagenet --runs runs/timg32   # collect the runs, print, draw
    python experiments/parity_record.py tiny_imagenet                      # redraw from the committed record
    python experiments/parity_record.py cifar100 --runs runs/c100          # section 15, the same way

tiny_imagenet (section 11; the CPU recipe at 32 px, one teacher and table, seeds by file name) reads under --runs:
  official/authors_sN.json             experiments/official_nayer.py, their code as it is
  official/authors_pytorchinit_sN.json the same with --student-init pytorch (nayer.py's initialisation)
  lte_g10_sN/metrics.jsonl             nayer.py (experiments/tiny_imagenet_claim.sh)
  probe_student-init_sN/metrics.jsonl  nayer.py with their student initialisation (experiments/parity_probe.py)
  probe_student-mode_sN/metrics.jsonl  nayer.py with their student mode in synthesis (parity_probe.py)
cifar100 (section 15; its CPU recipe, one teacher and table) reads official/authors_sN.json,
official/authors_pytorchinit_sN.json, nayer_sN/metrics.jsonl and probe_student-init_sN/metrics.jsonl.
Writes docs/results/{DATASET}_parity.json (per run: accuracy by epoch, per-epoch losses where recorded,
training seconds an epoch) and draws docs/{DATASET}_parity.png from that record only. matplotlib is
needed here only.
"""
import argparse, json, re, statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AUTHORS = {  # name: (file pattern under --runs, student initialisation, code)
    "authors": ("official/authors_s*.json", "theirs (He fan-out)", "authors' code"),
    "authors_pytorch_init": ("official/authors_pytorchinit_s*.json", "PyTorch default", "authors' code"),
}
SETS = {
    "tiny_imagenet": dict(
        title="Tiny-ImageNet, 32 px CPU recipe: nayer.py and the authors' code", groups=dict(
            AUTHORS,
            nayer=("lte_g10_s*/metrics.jsonl", "PyTorch default", "nayer.py"),
            nayer_authors_init=("probe_student-init_s*/metrics.jsonl", "theirs (He fan-out)", "nayer.py"),
            nayer_authors_student_mode=("probe_student-mode_s*/metrics.jsonl", "PyTorch default", "nayer.py")),
        pairs=[("nayer", "authors"), ("nayer_authors_init", "authors"), ("nayer", "authors_pytorch_init"),
               ("nayer", "nayer_authors_init"), ("authors_pytorch_init", "authors")]),  # a - b, paired by seed
    "cifar100": dict(
        title="CIFAR-100 (real images), wrn40_1 -> wrn16_1: nayer.py and the authors' code",
        groups=dict(AUTHORS, nayer=("nayer_s*/metrics.jsonl", "PyTorch default", "nayer.py"),
                    nayer_authors_init=("probe_student-init_s*/metrics.jsonl", "theirs (He fan-out)", "nayer.py")),
        pairs=[("nayer", "authors"), ("nayer_authors_init", "authors"), ("nayer", "authors_pytorch_init"),
               ("nayer", "nayer_authors_init"), ("authors_pytorch_init", "authors")]),
}


def read_run(path):
    """Per epoch: accuracy (None where not evaluated), L_OH and L_KD; from either side's output."""
    if path.suffix == ".json":  # the harness's last stdout line
        rows = json.loads(path.read_text())["history"]
    else:
        if not (path.parent / "summary.json").exists():
            return None  # unfinished
        rows = [json.loads(line) for line in open(path)]
    keep = ("epoch", "acc", "loss_bn", "loss_oh", "loss_adv", "loss_kd")
    # training seconds an epoch: their harness's "sec", nayer.py's synthesis + KD (evaluation excluded in both)
    sec = [r["sec"] if "sec" in r else r["sec_synth"] + r["sec_kd"] for r in rows]
    return [dict({k: r.get(k) for k in keep}, sec=round(t, 2)) for r, t in zip(rows, sec)]


def collect(runs, dataset):
    record = dict(dataset=dataset, groups={})
    for name, (pattern, init, code) in SETS[dataset]["groups"].items():
        seeds = {}
        for p in sorted(Path(runs).glob(pattern)):
            seed = int(re.search(r"_s(\d+)", str(p.relative_to(runs))).group(1))
            rows = read_run(p)
            if rows:
                seeds[seed] = rows
        record["groups"][name] = dict(code=code, student_init=init, pattern=pattern, runs=seeds)
    return record


def final(record, name):
    return {int(s): rows[-1]["acc"] for s, rows in record["groups"][name]["runs"].items()}


def seed_diff(fa, fb):
    """a - b paired by seed ({seed: accuracy} each) -> (differences, mean, standard error)."""
    d = [fa[s] - fb[s] for s in sorted(fa.keys() & fb.keys())]
    se = statistics.stdev(d) / len(d) ** 0.5 if len(d) > 1 else float("nan")
    return d, statistics.mean(d) if d else float("nan"), se


def said_diff(what, d, m, se):
    return f"{what}: {', '.join(f'{x:+.2f}' for x in d)} -> {m:+.2f} +- {se:.2f} ({len(d)} pairs)"


def paired(record, a, b):
    return seed_diff(final(record, a), final(record, b))


def report(record):
    for name, g in record["groups"].items():
        f = final(record, name)
        print(f"{name:28s} {g['code']:14s} init {g['student_init']:20s} final acc "
              + " / ".join(f"s{s} {v:.2f}" for s, v in sorted(f.items()))
              + (f"  mean {statistics.mean(f.values()):.2f}" if f else ""))
    for a, b in SETS[record.get("dataset", "tiny_imagenet")]["pairs"]:
        print(said_diff(f"{a} - {b}", *paired(record, a, b)))


def draw(record, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    # colour: the student's initialisation; line: the code. Same colour, same curve: the init decides
    style = dict(authors=("tab:red", "--"), nayer_authors_init=("tab:red", "-"), authors_pytorch_init=("tab:blue", "--"),
                 nayer=("tab:blue", "-"))
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, (colour, ls) in style.items():
        g = record["groups"].get(name, dict(runs={}))
        for rows in g["runs"].values():
            pts = [(r["epoch"], r["acc"]) for r in rows if r["acc"] is not None]
            ax.plot(*zip(*pts), color=colour, ls=ls, lw=0.8, alpha=0.35)
        if g["runs"]:
            epochs = [r["epoch"] for r in next(iter(g["runs"].values())) if r["acc"] is not None]
            mean = [statistics.mean(next(r["acc"] for r in rows if r["epoch"] == e) for rows in g["runs"].values())
                    for e in epochs]
            ax.plot(epochs, mean, color=colour, ls=ls, lw=2, marker="o",
                    label=f"{g['code']}, student init {g['student_init']} "
                    f"({len(g['runs'])} seed{'s' * (len(g['runs']) != 1)})")
    dataset = record.get("dataset", "tiny_imagenet")  # the Tiny-ImageNet record predates the key
    ax.set(xlabel="epoch", ylabel=f"student {'val' if dataset == 'tiny_imagenet' else 'test'} accuracy (%)",
           title=SETS[dataset]["title"])
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("dataset", choices=list(SETS), help="which side-by-side")
    p.add_argument("--runs", default=None, help="the recipe's runs folder (else: redraw the record)")
    p.add_argument("--record", default=None, help="default: docs/results/{dataset}_parity.json")
    p.add_argument("--out", default=None, help="default: docs/{dataset}_parity.png")
    args = p.parse_args(argv)
    args.record = args.record or str(ROOT / "docs" / "results" / f"{args.dataset}_parity.json")
    args.out = args.out or str(ROOT / "docs" / f"{args.dataset}_parity.png")
    if args.runs:
        Path(args.record).write_text(json.dumps(collect(args.runs, args.dataset), indent=1))
    record = json.loads(Path(args.record).read_text())
    report(record)
    draw(record, args.out)


if __name__ == "__main__":
    main()
