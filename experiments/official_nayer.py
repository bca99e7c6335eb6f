"""The authors' NAYER code (github.com/tmtuan1307/NAYER) on a CPU, for README's side-by-side runs.

Their classes do the work: registry.get_model, NLGenerator, NAYER.synthesize / sample (their BN hooks
with momentum, kornia augmentation, PNG image pool re-read by a 4-worker DataLoader, generator
rebuilt by their g_life rule) and their KLDiv(T). Patched: every `.cuda()` is a no-op
(peer_common.cpu_only; their NLGenerator.reinit ends in one), and synthesize()'s per-step prints go
to /dev/null. Re-written: only the epoch loop of their datafree_kd.py (which needs a logging
service): per epoch synthesize(); after warm-up kd_steps KD steps as their train() does them, then
one step of a cosine schedule over the post-warm-up epochs (eta_min lr/1000, as nayer.py); test
accuracy every --eval-every epochs on the real test split.

    python experiments/official_nayer.py --official-root NAYER_EXPORT --data-root data \\
        --teacher-ckpt T.pth --lte-file lte.pt --seed 0        # README's recipe schedule by default

T.pth: nayer.py's wrn16_1 teacher; lte.pt: the (10, D) table nayer.py cached (or any (C, D) tensor).
Last stdout line: one JSON object (history with cumulative training seconds, final accuracy, patches).
"""
import argparse, contextlib, os, random, shutil, sys, tempfile, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peer_common as pc  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    a = p.add_argument
    a("--official-root", required=True, help="an export of github.com/tmtuan1307/NAYER")
    a("--data-root", required=True, help="folder holding cifar-10-batches-py (md5 not checked)")
    a("--teacher-ckpt", required=True, help="teacher state dict ({'state_dict': ...} or bare)")
    a("--lte-file", required=True, help="(C, D) label-text table, or nayer.py's lte.pt cache")
    a("--teacher", default="wrn16_1", help="their registry name")
    a("--student", default="wrn16_1", help="their registry name")
    # README's CIFAR-10 recipe (a reduced schedule of the authors' CIFAR scripts)
    a("--epochs", type=int, default=30, help="epochs in all")
    a("--warmup", type=int, default=5, help="warm-up epochs (synthesis only)")
    a("--gwp-loops", type=int, default=4, help="synthesis rounds per warm-up epoch")
    a("--g-loops", type=int, default=2, help="synthesis rounds per epoch after warm-up")
    a("--g-steps", type=int, default=10, help="generator steps per round")
    a("--g-life", type=int, default=10, help="their generator-rebuild period")
    a("--synthesis-batch-size", type=int, default=100, help="images per round")
    a("--batch-size", type=int, default=128, help="KD batch")
    a("--kd-steps", type=int, default=50, help="KD steps per epoch after warm-up")
    a("--lr", type=float, default=0.1, help="student SGD learning rate (momentum 0.9, wd 1e-4)")
    a("--lr-g", type=float, default=4e-3, help="generator Adam learning rate")
    a("--bn", type=float, default=10.0, help="alpha")
    a("--oh", type=float, default=0.5, help="beta")
    a("--adv", type=float, default=1.33, help="gamma")
    a("--T", type=float, default=20.0, help="KD temperature")
    a("--eval-every", type=int, default=5, help="test accuracy every N epochs (and at the last)")
    a("--threads", type=int, default=2, help="torch threads")
    a("--seed", type=int, default=0, help="seeds Python's, numpy's and torch's generators")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    pc.cpu_only()
    registry, datafree = pc.import_peer(args.official_root)
    from datafree.synthesis.nayer import NAYER
    from datafree.models.generator import NLGenerator
    import numpy as np, torch, torchvision.transforms as T
    torch.set_num_threads(args.threads)
    random.seed(args.seed), np.random.seed(args.seed), torch.manual_seed(args.seed)
    teacher, student = pc.load_teacher_student(registry, args.teacher, args.student, args.teacher_ckpt)
    lte = torch.load(args.lte_file, map_location="cpu", weights_only=True)
    lte = (lte["table"] if isinstance(lte, dict) else lte).float()  # (C, D)
    norm = registry.NORMALIZE_DICT["cifar10"]
    test = pc.cifar10_test(args.data_root, norm["mean"], norm["std"])
    transform = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(**norm)])
    generator = NLGenerator(ngf=64, img_size=32, nc=3, nl=lte.shape[0], label_emb=lte, le_emb_size=1000,
                            le_size=lte.shape[1], sbz=args.synthesis_batch_size)
    pool = tempfile.mkdtemp(prefix="official_nayer_pool_")
    synthesizer = NAYER(teacher, student, generator, num_classes=lte.shape[0], img_size=(3, 32, 32),
                        save_dir=pool, device="cpu", transform=transform, normalizer=datafree.utils.Normalizer(**norm),
                        synthesis_batch_size=args.synthesis_batch_size, sample_batch_size=args.batch_size,
                        g_steps=args.g_steps, warmup=args.warmup, lr_g=args.lr_g, adv=args.adv, bn=args.bn,
                        oh=args.oh, bn_mmt=0.9, g_life=args.g_life, g_loops=args.g_loops, gwp_loops=args.gwp_loops)
    criterion = datafree.criterions.KLDiv(T=args.T)
    optimizer = torch.optim.SGD(student.parameters(), args.lr, weight_decay=1e-4, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, args.epochs - args.warmup, eta_min=args.lr * 1e-3)
    progress, quiet = pc.Progress("authors_nayer", args), open(os.devnull, "w")
    for epoch in range(args.epochs):
        t0 = time.time()
        with contextlib.redirect_stdout(quiet):  # their per-step loss prints
            synthesizer.synthesize()
        if epoch >= args.warmup:
            pc.kd_steps(synthesizer, student, teacher, criterion, optimizer, args.kd_steps)
            scheduler.step()
        seconds = time.time() - t0
        evaluate = epoch >= args.warmup and ((epoch + 1) % args.eval_every == 0 or epoch + 1 == args.epochs)
        progress.epoch(epoch + 1, seconds, pc.accuracy(student, test) if evaluate else None)
    shutil.rmtree(pool, ignore_errors=True)
    progress.done(teacher_acc=pc.accuracy(teacher, test))


if __name__ == "__main__":
    main()
