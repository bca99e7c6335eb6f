r"""The paper's own label-text embedding: the authors' CLIP tables as `nayer.py --lte-file` tables.

NAYER's e_y comes from CLIP ViT-B/32's text tower, which cannot be downloaded here. The authors'
repository ships the tables their runs used, as data, in `label_embedding/` (fp16 CLIP features
of "a image of {name}", pickled from a GPU). This script reads them with every storage mapped to
the CPU (only tensor-rebuilding globals are allowed in the pickles) and writes, into `--out`:

    cifar10_clip.pt            (10, 512) in torchvision's class order
    cifar100_clip.pt           (100, 512) in torchvision's class order
    tiny_imagenet_clip.pt      (200, 512): for each Tiny-ImageNet class (sorted wnids, as nayer.py),
                               its own row of the ImageNet-1k table, picked by wnid
    tiny_imagenet_authors.pt   (200, 512): the authors' Tiny-ImageNet table in their row order, as
                               their code fed it (row i to class i; their rows are not in class order)
    {name}_perm{SEED}.pt       for each right table: its rows deranged among the classes (no class
                               keeps its own row): same statistics, wrong meaning
    cifar100_clip_across{SEED}.pt   with --cifar100-root: every class gets the row of a class of
                               ANOTHER superclass (a stranger's meaning: maple gets a bus's row)
    cifar100_clip_within{SEED}.pt   ... of another class of ITS OWN superclass (a sibling's meaning:
                               maple gets oak's, palm's, pine's or willow's row)

    python experiments/authors_lte.py --official-root OFF --out runs/clip/tables \
        [--tiny-root DATA/tiny-imagenet-200] [--cifar100-root DATA/cifar-100-python] [--permute 0]

OFF is an export of the authors' repository (`git archive`); nothing of it is committed, and the
tables are derived data (not committed either: this rebuilds them in seconds).

Class order. CIFAR: the authors' name lists must equal torchvision's order (CIFAR-10's fixed
list; CIFAR-100's meta file lists its fine labels alphabetically), checked, or the script stops.
Tiny-ImageNet: its 200 classes are ImageNet-1k classes, and the ImageNet-1k table's rows follow
ImageNet-1k's standard order (sorted wnids). Each class's words.txt line is matched to the
ImageNet-1k row with the same text, exactly. Where a text names two rows (the two "crane"s: the
bird n02012849 and the machine n03126707), the row is the one that keeps the order: sorted
wnids and ImageNet-1k rows rise together, so a class's row lies between its neighbours'. A class
with no row, or with more than one row left after that, is refused with one line (exit 2).
"""
import argparse, collections, io, pickle, sys
from pathlib import Path

import torch

CIFAR10 = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


class CpuUnpickler(pickle.Unpickler):
    """Tensors pickled on a GPU, loaded on the CPU; any other global is refused."""
    def find_class(self, module, name):
        if (module, name) == ("torch.storage", "_load_from_bytes"):
            return lambda b: torch.load(io.BytesIO(b), map_location="cpu", weights_only=True)
        if (module, name) in (("torch._utils", "_rebuild_tensor_v2"), ("collections", "OrderedDict")):
            return getattr(sys.modules[module], name)
        raise pickle.UnpicklingError(f"unexpected global {module}.{name} in an authors' table")


def authors_table(root, name):
    """(table (N, 512) fp32, the N names of its label file) from label_embedding/."""
    folder = Path(root) / "label_embedding"
    with open(folder / f"{name}_le.pickle", "rb") as f:
        table = torch.as_tensor(CpuUnpickler(f).load()).float()
    names = [l.strip() for l in (folder / f"{name}_label.txt").read_text().splitlines() if l.strip()]
    if table.shape[0] != len(names):
        fail(f"{name}: {table.shape[0]} rows but {len(names)} names in {name}_label.txt")
    return table, names


def fail(msg):
    print(f"authors_lte.py: error: {msg}", file=sys.stderr)
    raise SystemExit(2)


def tiny_rows(tiny_root, imagenet_names):
    """For each Tiny-ImageNet class in sorted-wnid order, its row in the ImageNet-1k table."""
    root = Path(tiny_root)
    wnids = sorted((root / "wnids.txt").read_text().split())
    words = dict(l.split("\t", 1) for l in (root / "words.txt").read_text().splitlines() if "\t" in l)
    by_text = collections.defaultdict(list)
    for row, text in enumerate(imagenet_names):
        by_text[text].append(row)
    candidates = []
    for w in wnids:
        text = words.get(w, "").strip()
        if not by_text.get(text):
            fail(f"Tiny-ImageNet class {w} ({text!r}) names no row of imagenet_label.txt")
        candidates.append(by_text[text])
    rows = [c[0] if len(c) == 1 else None for c in candidates]
    for i, c in enumerate(candidates):
        if rows[i] is None:  # the order decides: between the neighbours' rows
            lo = max([r for r in rows[:i] if r is not None], default=-1)
            hi = min([r for r in rows[i + 1:] if r is not None], default=len(imagenet_names))
            fits = [r for r in c if lo < r < hi]
            if len(fits) != 1:
                fail(f"Tiny-ImageNet class {wnids[i]} ({words[wnids[i]].strip()!r}) matches rows "
                     f"{c}; {len(fits)} of them keep the order")
            rows[i] = fits[0]
    if len(set(rows)) != len(rows) or rows != sorted(rows):
        fail("two Tiny-ImageNet classes matched one ImageNet-1k row, or the rows do not rise")
    ambiguous = {wnids[i]: (words[wnids[i]].strip(), c, rows[i]) for i, c in enumerate(candidates)
                 if len(c) > 1}
    return wnids, [words[w].strip() for w in wnids], rows, ambiguous


def derangement(n, seed):
    g = torch.Generator().manual_seed(seed)
    while True:
        p = torch.randperm(n, generator=g)
        if not (p == torch.arange(n)).any():
            return p


def superclass_derangements(coarse, seed):
    """(across, within): permutations of the 100 classes where no class keeps its row and every
    class gets a row of another superclass (across), or of another class of its own (within)."""
    g, n = torch.Generator().manual_seed(seed), len(coarse)
    while True:  # about 1 in 150 random permutations qualifies: a fraction of a second
        across = torch.randperm(n, generator=g)
        if not (coarse[across] == coarse).any():
            break
    within = torch.arange(n)
    for c in coarse.unique():
        members = (coarse == c).nonzero().flatten()
        within[members] = members[derangement(len(members), seed + int(c))]
    assert (coarse[within] == coarse).all() and not (within == torch.arange(n)).any()
    return across, within


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--official-root", required=True, help="an export of the authors' repository")
    ap.add_argument("--out", required=True, help="folder for the (C, 512) tables")
    ap.add_argument("--tiny-root", help="a tiny-imagenet-200 folder (wnids.txt, words.txt)")
    ap.add_argument("--cifar100-root", help="a cifar-100-python folder: its superclasses, for the "
                                            "across/within derangements")
    ap.add_argument("--permute", type=int, default=0, help="seed of the derangement (default: 0)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    right = {}
    c10, names10 = authors_table(args.official_root, "cifar10")
    if names10 != CIFAR10:
        fail(f"cifar10_label.txt is not torchvision's order: {names10}")
    right["cifar10"] = c10
    print("cifar10: the authors' 10 names are torchvision's order", flush=True)
    c100, names100 = authors_table(args.official_root, "cifar100")
    if names100 != sorted(names100) or len(set(names100)) != 100:
        fail("cifar100_label.txt is not 100 names in torchvision's (alphabetical) order")
    right["cifar100"] = c100
    print("cifar100: the authors' 100 names are torchvision's (alphabetical) order", flush=True)
    if args.tiny_root:
        imagenet, imagenet_names = authors_table(args.official_root, "imagenet")
        wnids, names, rows, ambiguous = tiny_rows(args.tiny_root, imagenet_names)
        right["tiny_imagenet"] = imagenet[rows]
        print(f"tiny_imagenet: all {len(rows)} classes matched an ImageNet-1k row by their words.txt "
              f"text; resolved by order: {ambiguous}", flush=True)
        theirs, their_names = authors_table(args.official_root, "tiny_imagenet")
        torch.save(theirs, out / "tiny_imagenet_authors.pt")
        same = sum(a == b for a, b in zip(their_names, names))
        by_name = {n: i for i, n in enumerate(their_names)}
        if sorted(by_name) != sorted(names):
            fail("tiny_imagenet_label.txt does not name the 200 Tiny-ImageNet classes")
        cos = torch.nn.functional.cosine_similarity(theirs[[by_name[n] for n in names]],
                                                    right["tiny_imagenet"], dim=-1)
        print(f"tiny_imagenet_authors: their row i names class i for {same} of 200 classes; a "
              f"class's row in their Tiny table and its ImageNet-1k row agree (cosine > 0.999) for "
              f"{int((cos > 0.999).sum())} of 200 classes, the lowest cosine {cos.min():.3f}",
              flush=True)
    for name, table in right.items():
        torch.save(table, out / f"{name}_clip.pt")
        perm = derangement(len(table), args.permute)
        torch.save(table[perm], out / f"{name}_clip_perm{args.permute}.pt")
        cos = torch.nn.functional.cosine_similarity(table[:, None], table[None], dim=-1)
        off = cos[~torch.eye(len(table), dtype=torch.bool)]
        print(f"{name}: wrote {name}_clip.pt {tuple(table.shape)} and {name}_clip_perm{args.permute}.pt; "
              f"median cosine between two classes {off.median():.3f}", flush=True)
    if args.cifar100_root:  # superclasses as the data files label them (coarse_labels)
        with open(Path(args.cifar100_root) / "train", "rb") as f:
            d = pickle.load(f, encoding="latin1")
        pairs = set(zip(d["fine_labels"], d["coarse_labels"]))
        if len(pairs) != 100 or len({f for f, _ in pairs}) != 100:
            fail(f"{args.cifar100_root}/train does not give each of 100 classes one superclass")
        coarse = torch.tensor([c for _, c in sorted(pairs)])
        table = right["cifar100"]
        cos = torch.nn.functional.cosine_similarity(table[:, None], table[None], dim=-1)
        for kind, perm in zip(("across", "within"), superclass_derangements(coarse, args.permute)):
            torch.save(table[perm], out / f"cifar100_clip_{kind}{args.permute}.pt")
            print(f"cifar100: wrote cifar100_clip_{kind}{args.permute}.pt; mean cosine between a "
                  f"class's own row and the row it gets {cos[torch.arange(100), perm].mean():.3f}",
                  flush=True)
        same = coarse[:, None] == coarse[None]
        off = ~torch.eye(100, dtype=torch.bool)
        print(f"cifar100: mean cosine between two classes of one superclass {cos[same & off].mean():.3f}, "
              f"of two superclasses {cos[~same].mean():.3f}", flush=True)


if __name__ == "__main__":
    main()
