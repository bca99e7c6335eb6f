"""The authors' NAYER code (github.com/tmtuan1307/NAYER) on a CPU, for README's side-by-side runs.

Their classes do the work: registry.get_model, NLGenerator, NAYER.synthesize / sample (their BN hooks
with momentum, kornia augmentation, PNG image pool re-read by a 4-worker DataLoader, generator
rebuilt by their g_life rule, their student-mode switching) and their KLDiv(T). Patched: every
`.cuda()` is a no-op (peer_common.cpu_only; their NLGenerator.reinit ends in one), and
synthesize()'s per-step prints go to /dev/null. Re-written: only the epoch loop of their
datafree_kd.py (which needs a logging service), in peer_common.distill: per epoch synthesize();
after warm-up kd_steps KD steps as their train() does them, then one step of a cosine schedule over
the post-warm-up epochs (eta_min lr/1000, as nayer.py); test accuracy every --eval-every epochs.

    python experiments/official_nayer.py --official-root NAYER_EXPORT --data-root data \\
        --teacher-ckpt T.pth --lte-file lte.pt --seed 0        # README's recipe schedule by default

T.pth: nayer.py's wrn16_1 teacher; lte.pt: the (10, D) table nayer.py cached (or any (C, D) tensor).
`--dataset tiny_imagenet --image-size 32` (docs/RESULTS.md section 11): their Tiny-ImageNet path (200 classes,
mean = std = 0.5, their crop + flip for KD) at the CPU recipe's size, scored on nayer.py's own val pixels.
`--dataset cifar100 --teacher wrn40_1` (RESULTS section 15): their CIFAR-100 path (100 classes, their
CIFAR-100 normalisation, crop + flip), scored on the official test split's fine labels.
EASY TO MISS: their NAYER class skips the synthesis flip only when given dataset="tiny_imagenet", and their
datafree_kd.py never passes it for Tiny-ImageNet, so their runs flip; `--synthesis-flip` picks either.
`--student-init pytorch` gives their student nayer.py's initialisation (PyTorch's defaults) in place of their
WideResNet's He fan-out normal, the one difference found to matter on Tiny-ImageNet (RESULTS section 11).
Per epoch the history records their synthesis prints' mean L_BN, L_OH, L_ADV and the mean L_KD.
Last stdout line: one JSON object (history with cumulative training seconds, final accuracy, patches).
"""
import argparse, re, shutil, sys, tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peer_common as pc  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    pc.common_args(p, epochs=30)
    a = p.add_argument
    a("--lte-file", required=True, help="(C, D) label-text table, or nayer.py's lte.pt cache")
    a("--dataset", default="cifar10", choices=["cifar10", "cifar100", "tiny_imagenet"], help="test split, classes, normalisation")
    a("--image-size", type=int, default=32, help="G's output and the test images' size (Tiny-ImageNet: resized)")
    a("--synthesis-flip", choices=["on", "off"], default="on",
      help="on: as datafree_kd.py builds NAYER (no dataset= given); off: dataset='tiny_imagenet' passed (bare crop)")
    a("--student-init", choices=["theirs", "pytorch"], default="theirs",
      help="theirs: their WideResNet's own init; pytorch: every layer's reset_parameters(), as nayer.py's models")
    a("--gwp-loops", type=int, default=4, help="synthesis rounds per warm-up epoch (README's recipe)")
    a("--g-loops", type=int, default=2, help="synthesis rounds per epoch after warm-up")
    a("--g-steps", type=int, default=10, help="generator steps per round (README's recipe)")
    a("--g-life", type=int, default=10, help="their generator-rebuild period")
    a("--lr-g", type=float, default=4e-3, help="generator Adam learning rate")
    a("--bn", type=float, default=10.0, help="alpha")
    a("--oh", type=float, default=0.5, help="beta")
    a("--adv", type=float, default=1.33, help="gamma")
    args = p.parse_args(argv)
    if args.dataset != "tiny_imagenet" and args.image_size != 32:  # CIFAR test splits: 32 px, unresized
        p.error("--image-size applies to tiny_imagenet only: CIFAR is 32 px (drop --image-size)")
    return args


# one line per generator step of their synthesize(): "it - bn alpha*L_BN - bn L_BN - oh L_OH - adv gamma*L_ADV"
STEP = re.compile(r"^\d+ - bn tensor\(\[?([^\s\])]+)\]?\) - bn tensor\(\[?([^\s\])]+)\]?\) - oh tensor\(\[?([^\s\])]+)\]?\)"
                  r" - adv tensor\(\[?([^\s\])]+)\]?\)", re.M)


def step_means(text, gamma):
    """The epoch's per-step means of L_BN, L_OH, L_ADV from their prints (as nayer.py's metrics.jsonl names them)."""
    rows = [[float(v) for v in m.groups()] for m in STEP.finditer(text)]
    if not rows:
        return dict(loss_bn=None, loss_oh=None, loss_adv=None, g_steps_seen=0)
    mean = lambda j: round(sum(r[j] for r in rows) / len(rows), 4)
    return dict(loss_bn=mean(1), loss_oh=mean(2), loss_adv=mean(3) / gamma, g_steps_seen=len(rows))


def main(argv=None):
    args = parse_args(argv)
    datafree, teacher, student, norm, transform, test = pc.setup(args, args.dataset, args.image_size)
    from datafree.synthesis.nayer import NAYER
    from datafree.models.generator import NLGenerator
    import torch
    lte = torch.load(args.lte_file, map_location="cpu", weights_only=True)
    lte = (lte["table"] if isinstance(lte, dict) else lte).float()  # (C, D)
    S = args.image_size
    if args.student_init == "pytorch":
        for m in student.modules():
            if hasattr(m, "reset_parameters") and m is not student:
                m.reset_parameters()
        pc.PATCHES.append("student re-initialised by PyTorch's reset_parameters() (nayer.py's init), not theirs")
    if args.synthesis_flip == "off":
        pc.PATCHES.append("NAYER(dataset='tiny_imagenet'): their class's synthesis augmentation without the flip")
    generator = NLGenerator(ngf=64, img_size=S, nc=3, nl=lte.shape[0], label_emb=lte, le_emb_size=1000,
                            le_size=lte.shape[1], sbz=args.synthesis_batch_size)
    pool = tempfile.mkdtemp(prefix="official_nayer_pool_")
    synthesizer = NAYER(teacher, student, generator, num_classes=lte.shape[0], img_size=(3, S, S),
                        save_dir=pool, device="cpu", transform=transform, normalizer=datafree.utils.Normalizer(**norm),
                        synthesis_batch_size=args.synthesis_batch_size, sample_batch_size=args.batch_size,
                        g_steps=args.g_steps, warmup=args.warmup, lr_g=args.lr_g, adv=args.adv, bn=args.bn,
                        oh=args.oh, bn_mmt=0.9, g_life=args.g_life, g_loops=args.g_loops, gwp_loops=args.gwp_loops,
                        **(dict(dataset="tiny_imagenet") if args.synthesis_flip == "off" else {}))
    pc.distill(args, "authors_nayer", synthesizer, teacher, student, datafree, test,
               read_prints=lambda text: step_means(text, args.adv))
    shutil.rmtree(pool, ignore_errors=True)


if __name__ == "__main__":
    main()
