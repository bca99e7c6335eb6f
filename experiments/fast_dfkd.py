"""Fast-DFKD's own code (Fang et al., AAAI 2022, github.com/zju-vipa/Fast-Datafree, `--method fast_meta`)
on a CPU, for README's time-to-accuracy comparison with NAYER.

Their classes do the work: registry.get_model, their Generator (nz 256, ngf 64), FastMetaSynthesizer
(a fresh z and random labels every round, a "fast" clone of the generator trained g_steps steps with z,
first-order MAML meta-gradient into the meta generator, BN hooks with momentum, kornia augmentation,
PNG image pool re-read by a 4-worker DataLoader) and their KLDiv(T). Patched: every `.cuda()` is a
no-op (peer_common.cpu_only; their generator clone and meta-gradient buffers call it). Re-written:
only the epoch loop of their datafree_kd.py (which needs a logging service): per epoch
ep_steps // kd_steps rounds, each synthesize() and, after warm-up, kd_steps KD steps as their
train() does them; then one cosine step (over the post-warm-up epochs here, eta_min lr/1000, like
nayer.py; theirs runs over a fixed 200 epochs); test accuracy every --eval-every epochs.
Their reset_l0 fires at epoch 120 + warm-up, beyond these schedules.

    python experiments/fast_dfkd.py --official-root FAST_EXPORT --data-root data --teacher-ckpt T.pth \\
        --g-steps 2 --epochs 60 --seed 0

Defaults: README's recipe's KD work (50 steps of 128 an epoch, lr 0.1, 5 warm-up epochs), synthesis
batch 100, everything else as their README's CIFAR command (bn 10, oh 0.4, adv 1.1, T 20, bn_mmt 0.9,
lr_g 5e-3, lr_z 0.015, is_maml 1). Last stdout line: one JSON object.
"""
import argparse, os, random, shutil, sys, tempfile, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peer_common as pc  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    a = p.add_argument
    a("--official-root", required=True, help="an export of github.com/zju-vipa/Fast-Datafree")
    a("--data-root", required=True, help="folder holding cifar-10-batches-py (md5 not checked)")
    a("--teacher-ckpt", required=True, help="teacher state dict ({'state_dict': ...} or bare)")
    a("--teacher", default="wrn16_1", help="their registry name")
    a("--student", default="wrn16_1", help="their registry name")
    a("--epochs", type=int, default=60, help="epochs in all (pick to fill the time budget)")
    a("--warmup", type=int, default=5, help="warm-up epochs: synthesis only (README's recipe)")
    a("--g-steps", type=int, default=2, help="generator steps per round: their Fast-2 / Fast-5 / Fast-10")
    a("--synthesis-batch-size", type=int, default=100, help="images per round (README's recipe)")
    a("--batch-size", type=int, default=128, help="KD batch (README's recipe)")
    a("--kd-steps", type=int, default=50, help="KD steps per round (README's recipe)")
    a("--ep-steps", type=int, default=50, help="their ep_steps: ep_steps // kd_steps rounds an epoch")
    a("--lr", type=float, default=0.1, help="student SGD learning rate (README's recipe; momentum 0.9, wd 1e-4)")
    a("--lr-g", type=float, default=5e-3, help="their lr_g")
    a("--lr-z", type=float, default=0.015, help="their lr_z")
    a("--bn", type=float, default=10.0, help="their bn weight")
    a("--oh", type=float, default=0.4, help="their oh weight")
    a("--adv", type=float, default=1.1, help="their adv weight")
    a("--bn-mmt", type=float, default=0.9, help="their BN-statistics momentum")
    a("--is-maml", type=int, default=1, help="1: first-order MAML meta-gradient; 0: REPTILE")
    a("--T", type=float, default=20.0, help="KD temperature")
    a("--eval-every", type=int, default=5, help="test accuracy every N epochs (and at the last)")
    a("--threads", type=int, default=2, help="torch threads")
    a("--seed", type=int, default=0, help="seeds Python's, numpy's and torch's generators")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    pc.cpu_only()
    registry, datafree = pc.import_peer(args.official_root)
    from datafree.synthesis import FastMetaSynthesizer
    from datafree.models.generator import Generator
    import numpy as np, torch, torchvision.transforms as T
    torch.set_num_threads(args.threads)
    random.seed(args.seed), np.random.seed(args.seed), torch.manual_seed(args.seed)
    teacher, student = pc.load_teacher_student(registry, args.teacher, args.student, args.teacher_ckpt)
    norm = registry.NORMALIZE_DICT["cifar10"]
    test = pc.cifar10_test(args.data_root, norm["mean"], norm["std"])
    transform = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(**norm)])
    pool = tempfile.mkdtemp(prefix="fast_dfkd_pool_")
    synthesizer = FastMetaSynthesizer(teacher, student, Generator(nz=256, ngf=64, img_size=32, nc=3), nz=256,
                                      num_classes=10, img_size=(3, 32, 32), save_dir=pool, device="cpu",
                                      transform=transform, normalizer=datafree.utils.Normalizer(**norm),
                                      synthesis_batch_size=args.synthesis_batch_size,
                                      sample_batch_size=args.batch_size, iterations=args.g_steps,
                                      warmup=args.warmup, lr_g=args.lr_g, lr_z=args.lr_z, adv=args.adv, bn=args.bn,
                                      oh=args.oh, reset_l0=1, reset_bn=0, bn_mmt=args.bn_mmt, is_maml=args.is_maml)
    criterion = datafree.criterions.KLDiv(T=args.T)
    optimizer = torch.optim.SGD(student.parameters(), args.lr, weight_decay=1e-4, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, args.epochs - args.warmup, eta_min=args.lr * 1e-3)
    progress = pc.Progress(f"fast_dfkd_g{args.g_steps}", args)
    for epoch in range(args.epochs):
        t0 = time.time()
        for _ in range(args.ep_steps // args.kd_steps):
            synthesizer.synthesize()
            if epoch >= args.warmup:
                pc.kd_steps(synthesizer, student, teacher, criterion, optimizer, args.kd_steps)
        if epoch >= args.warmup:
            scheduler.step()
        seconds = time.time() - t0
        evaluate = epoch >= args.warmup and ((epoch + 1) % args.eval_every == 0 or epoch + 1 == args.epochs)
        progress.epoch(epoch + 1, seconds, pc.accuracy(student, test) if evaluate else None)
    shutil.rmtree(pool, ignore_errors=True)
    progress.done(teacher_acc=pc.accuracy(teacher, test))


if __name__ == "__main__":
    main()
