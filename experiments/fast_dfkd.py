"""Fast-DFKD's own code (Fang et al., AAAI 2022, github.com/zju-vipa/Fast-Datafree, `--method fast_meta`)
on a CPU, for README's time-to-accuracy comparison with NAYER.

Their classes do the work: registry.get_model, their Generator (nz 256, ngf 64), FastMetaSynthesizer
(a fresh z and random labels every round, a "fast" clone of the generator trained g_steps steps with z,
first-order MAML meta-gradient into the meta generator, BN hooks with momentum, kornia augmentation,
PNG image pool re-read by a 4-worker DataLoader) and their KLDiv(T). Patched: every `.cuda()` is a
no-op (peer_common.cpu_only; their generator clone and meta-gradient buffers call it). Re-written:
only the epoch loop of their datafree_kd.py (which needs a logging service): per epoch
ep_steps // kd_steps rounds, each synthesize() and, after warm-up, kd_steps KD steps as their
train() does them (peer_common.distill); then one cosine step (over the post-warm-up epochs here, eta_min lr/1000, like
nayer.py; theirs runs over a fixed 200 epochs); test accuracy every --eval-every epochs.
Their reset_l0 fires at epoch 120 + warm-up, beyond these schedules.

    python experiments/fast_dfkd.py --official-root FAST_EXPORT --data-root data --teacher-ckpt T.pth \\
        --g-steps 2 --epochs 60 --seed 0

Defaults: README's recipe's KD work (50 steps of 128 an epoch, lr 0.1, 5 warm-up epochs), synthesis
batch 100, everything else as their README's CIFAR command (bn 10, oh 0.4, adv 1.1, T 20, bn_mmt 0.9,
lr_g 5e-3, lr_z 0.015, is_maml 1). Last stdout line: one JSON object.
"""
import argparse, shutil, sys, tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peer_common as pc  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    pc.common_args(p, epochs=60)
    a = p.add_argument
    a("--g-steps", type=int, default=2, help="generator steps per round: their Fast-2 / Fast-5 / Fast-10")
    a("--ep-steps", type=int, default=50, help="their ep_steps: ep_steps // kd_steps rounds an epoch")
    a("--lr-g", type=float, default=5e-3, help="their lr_g")
    a("--lr-z", type=float, default=0.015, help="their lr_z")
    a("--bn", type=float, default=10.0, help="their bn weight")
    a("--oh", type=float, default=0.4, help="their oh weight")
    a("--adv", type=float, default=1.1, help="their adv weight")
    a("--bn-mmt", type=float, default=0.9, help="their BN-statistics momentum")
    a("--is-maml", type=int, default=1, help="1: first-order MAML meta-gradient; 0: REPTILE")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    datafree, teacher, student, norm, transform, test = pc.setup(args)
    from datafree.synthesis import FastMetaSynthesizer
    from datafree.models.generator import Generator
    pool = tempfile.mkdtemp(prefix="fast_dfkd_pool_")
    synthesizer = FastMetaSynthesizer(teacher, student, Generator(nz=256, ngf=64, img_size=32, nc=3), nz=256,
                                      num_classes=10, img_size=(3, 32, 32), save_dir=pool, device="cpu",
                                      transform=transform, normalizer=datafree.utils.Normalizer(**norm),
                                      synthesis_batch_size=args.synthesis_batch_size,
                                      sample_batch_size=args.batch_size, iterations=args.g_steps,
                                      warmup=args.warmup, lr_g=args.lr_g, lr_z=args.lr_z, adv=args.adv, bn=args.bn,
                                      oh=args.oh, reset_l0=1, reset_bn=0, bn_mmt=args.bn_mmt, is_maml=args.is_maml)
    pc.distill(args, f"fast_dfkd_g{args.g_steps}", synthesizer, teacher, student, datafree, test,
               rounds=args.ep_steps // args.kd_steps)
    shutil.rmtree(pool, ignore_errors=True)


if __name__ == "__main__":
    main()
