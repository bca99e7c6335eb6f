"""How close are a data set's class names in the label-text embedding? CIFAR-10 against CIFAR-100.

The paper credits the LTE with "meaningful inter-class information": a class whose name is close
to another's (cat, dog) starts the generator from a related input. That can only help where such
pairs exist. This encodes both label sets with nayer.py's own `label_text_embeddings` (prompt
"a photo of {}", as the recipe) and prints, per data set, each class's cosine similarity to its
nearest other class (its closest "neighbour" in the table), the median over all pairs of classes, and the
closest pairs.

    python experiments/label_similarity.py --encoder PATH/TO/all-MiniLM-L6-v2

Runs in seconds on a CPU; no data set is read (the names are written below, as torchvision lists them).
"""
import argparse, statistics, sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import nayer  # noqa: E402

CIFAR10 = "airplane automobile bird cat deer dog frog horse ship truck".split()
CIFAR100 = """apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus butterfly camel
can castle caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile cup dinosaur dolphin
elephant flatfish forest fox girl hamster house kangaroo keyboard lamp lawn_mower leopard lion lizard lobster man
maple_tree motorcycle mountain mouse mushroom oak_tree orange orchid otter palm_tree pear pickup_truck pine_tree
plain plate poppy porcupine possum rabbit raccoon ray road rocket rose sea seal shark shrew skunk skyscraper snail
snake spider squirrel streetcar sunflower sweet_pepper table tank telephone television tiger tractor train trout
tulip turtle wardrobe whale willow_tree wolf woman worm""".split()


def neighbours(names, encoder, prompt):
    e = torch.nn.functional.normalize(nayer.label_text_embeddings([n.replace("_", " ") for n in names], encoder,
                                                                  prompt).float(), dim=1)  # (C, D), unit rows
    cos = e @ e.T  # (C, C)
    cos.fill_diagonal_(-1)
    nearest = cos.max(1)
    others = cos[~torch.eye(len(names), dtype=torch.bool)]  # every off-diagonal pair, (C*(C-1),)
    pairs = sorted({tuple(sorted((i, int(j)))) for i, j in enumerate(cos.argmax(1).tolist())},
                   key=lambda p: -cos[p].item())
    return cos, nearest.values, others.median().item(), [(names[i], names[j], round(cos[i, j].item(), 3)) for i, j in pairs]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--encoder", required=True, help="sentence-transformers model name or local folder")
    p.add_argument("--prompt", default="a photo of {}", help="as nayer.py's --prompt")
    p.add_argument("--threshold", type=float, default=0.6, help="count classes whose nearest neighbour is this close")
    args = p.parse_args(argv)
    for name, names in (("CIFAR-10", CIFAR10), ("CIFAR-100", CIFAR100)):
        cos, near, typical, pairs = neighbours(names, args.encoder, args.prompt)
        close = (near >= args.threshold).float().mean().item()
        count = (cos >= args.threshold).sum(1).float().mean().item()  # other classes that close, per class
        print(f"{name}: nearest-neighbour cosine median {near.median():.3f}, mean {near.mean():.3f}; "
              f"all pairs median {typical:.3f}; {100 * close:.0f} % of classes have a neighbour at >= {args.threshold} "
              f"(on average {count:.2f} such neighbours a class); closest pairs: "
              + ", ".join(f"{a}-{b} {c}" for a, b, c in pairs[:6]))


if __name__ == "__main__":
    main()
