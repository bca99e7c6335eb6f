"""How fast does a freshly built generator learn? L_OH and L_BN at every generator step, per input.

The paper's claim for the label-text embedding (LTE): from meaningful inputs, G makes useful samples
"with only a few training steps". This measures it directly, with nayer.py's own pieces (Generator,
BNStatLoss, synthesize_round): from a trained teacher, build G from scratch with each input
(`lte`, `onehot`, `noise`), as `distill` does at epoch 0, and run `--rounds` warm-up rounds of
`--g-steps` steps (a fresh noisy layer Z and Adam every round, G kept across rounds; no L_ADV, as in
warm-up), recording every step's L_BN and L_OH. Same teacher, table, batch and learning rate for all.

    python experiments/lte_few_steps.py --teacher-ckpt T.pth --lte-file lte.pt --out docs/lte_few_steps.json

The teacher is a wrn16_1 CIFAR-10 checkpoint (README's recipe trains one); the table a (10, D) tensor
or nayer.py's lte.pt cache. No data is read. Tiny-ImageNet (docs/RESULTS.md section 11): `--dataset
tiny_imagenet --image-size 32 --synthesis-batch-size 200` with that recipe's teacher and (200, D) table. The JSON holds, per input and seed, the per-step curves;
the last stdout line summarises mean L_OH at a few steps.
"""
import argparse, json, sys, time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import nayer  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", default="cifar10", choices=list(nayer.DATASETS), help="its classes, normalisation")
    p.add_argument("--image-size", type=int, default=32, help="the teacher's input size (G makes it)")
    p.add_argument("--teacher-ckpt", required=True, help="a trained teacher of --dataset (nayer.py's format)")
    p.add_argument("--teacher", default="wrn16_1", choices=nayer.ARCHS, help="its architecture")
    p.add_argument("--lte-file", required=True, help="(C, D) label-text table, or nayer.py's lte.pt cache")
    p.add_argument("--inputs", default="lte,onehot,noise", help="generator inputs to compare")
    p.add_argument("--seeds", default="0,1,2", help="one fresh G per input and seed")
    p.add_argument("--rounds", type=int, default=3, help="synthesis rounds after the rebuild (fresh Z each)")
    p.add_argument("--g-steps", type=int, default=30, help="generator steps per round (paper: 30)")
    p.add_argument("--synthesis-batch-size", type=int, default=100, help="K copies of the C classes (README's recipe)")
    p.add_argument("--lr-g", type=float, default=4e-3, help="generator Adam learning rate (paper)")
    p.add_argument("--bn", type=float, default=10.0, help="alpha (paper)")
    p.add_argument("--oh", type=float, default=0.5, help="beta (paper)")
    p.add_argument("--out", required=True, help="JSON file for the curves")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    spec = nayer.DATASETS[args.dataset]
    teacher = nayer.build_model(args.teacher, spec["classes"])
    nayer.load_checkpoint_into(teacher, args.teacher_ckpt, args.teacher, spec["classes"])
    teacher.eval().requires_grad_(False)
    table = torch.load(args.lte_file, map_location="cpu", weights_only=True)
    table = (table["table"] if isinstance(table, dict) else table).float()  # (C, D)
    mean, std = (torch.tensor(v).view(1, -1, 1, 1) for v in (spec["mean"], spec["std"]))
    C, B = table.shape[0], args.synthesis_batch_size
    y = torch.arange(C).repeat(B // C)  # [0..C-1] * K
    curves = {}
    for gen_input in args.inputs.split(","):
        for seed in map(int, args.seeds.split(",")):
            torch.manual_seed(seed)
            G = nayer.Generator(table, (3, args.image_size, args.image_size), B // C, 1000, gen_input=gen_input)  # from scratch
            bn_loss, trace, t0 = nayer.BNStatLoss(teacher, 0.9), [], time.time()
            for _ in range(args.rounds):  # warm-up rounds: no L_ADV, so the student plays no part
                cfg = nayer.NayerConfig(g_steps=args.g_steps, lr_g=args.lr_g, bn=args.bn, oh=args.oh, adv=0.0)
                nayer.synthesize_round(G, teacher, teacher, bn_loss, y, mean, std, cfg, use_adv=False, trace=trace)
            steps = torch.stack(trace)  # (rounds * g_steps, 4): L_BN, L_OH, L_ADV, L_G
            curves[f"{gen_input}/{seed}"] = dict(loss_bn=steps[:, 0].tolist(), loss_oh=steps[:, 1].tolist())
            print(f"{gen_input} seed {seed}: L_OH step 1 {steps[0, 1]:.3f}, step {args.g_steps} "
                  f"{steps[args.g_steps - 1, 1]:.3f}, last {steps[-1, 1]:.3f}; L_BN step 1 {steps[0, 0]:.2f}, "
                  f"last {steps[-1, 0]:.2f} ({time.time() - t0:.0f}s)", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(dict(args=vars(args), curves=curves)))
    summary = {}
    for gen_input in args.inputs.split(","):
        oh = torch.tensor([c["loss_oh"] for k, c in curves.items() if k.startswith(gen_input + "/")])  # (seeds, steps)
        summary[gen_input] = {f"step {s}": round(oh[:, s - 1].mean().item(), 3)
                              for s in (1, 5, 10, args.g_steps, oh.shape[1]) if s <= oh.shape[1]}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
