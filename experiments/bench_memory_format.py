"""channels_last against the contiguous format on this machine: synthesis rounds and KD steps, interleaved A/B.

    python experiments/bench_memory_format.py --teacher wrn16_1 --student wrn16_1 --batch 100 --reps 6
    python experiments/bench_memory_format.py --teacher resnet34 --student resnet18 --batch 40 --g-steps 3 --reps 4

Random weights, no data, fp32, nayer.py's own `synthesize_round` and `kd_step` with the models (and G) moved to
each format, the two formats alternating rep by rep so that a drift of the machine's speed hits both alike (the
first rep of each is a warm-up and not counted). Prints the median images/s of each and their ratio; the
numbers behind `distill`'s choice of channels_last on the CPU (docs/RESULTS.md section 7).
"""
import argparse, copy, statistics, sys, time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import nayer  # noqa: E402

p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
p.add_argument("--teacher", default="wrn16_1", choices=nayer.ARCHS)
p.add_argument("--student", default="wrn16_1", choices=nayer.ARCHS)
p.add_argument("--batch", type=int, default=100, help="synthesis batch (a multiple of 10)")
p.add_argument("--g-steps", type=int, default=10)
p.add_argument("--kd-batch", type=int, default=128)
p.add_argument("--kd-steps", type=int, default=10)
p.add_argument("--reps", type=int, default=6)
a = p.parse_args()
torch.manual_seed(0)
T = nayer.build_model(a.teacher, 10).eval().requires_grad_(False)
S, G = nayer.build_model(a.student, 10), nayer.Generator(torch.randn(10, 384), (3, 32, 32), a.batch // 10)
y, m = torch.arange(10).repeat(a.batch // 10), torch.full((1, 3, 1, 1), 0.5)
bank = torch.randint(0, 256, (a.kd_batch, 3, 32, 32), dtype=torch.uint8)
cfg = nayer.NayerConfig(g_steps=a.g_steps)  # the paper's weights, T and learning rate
fmts = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}
nets = {k: [copy.deepcopy(n).to(memory_format=f) for n in (T, S, G)] for k, f in fmts.items()}
speed = {k: ([], []) for k in fmts}
for rep in range(a.reps + 1):
    for k, (t, s, g) in nets.items():
        s.eval().requires_grad_(False)
        t0 = time.perf_counter()
        nayer.synthesize_round(g, t, s, nayer.BNStatLoss(t, 0.9), y, m, m, cfg)
        t1 = time.perf_counter()
        s.train().requires_grad_(True)
        opt = torch.optim.SGD(s.parameters(), lr=0.01, momentum=0.9)
        for _ in range(a.kd_steps):
            nayer.kd_step(s, t, opt, bank, m, m, cfg)
        t2 = time.perf_counter()
        if rep:  # rep 0: warm-up
            speed[k][0].append(a.batch * a.g_steps / (t1 - t0)); speed[k][1].append(a.kd_batch * a.kd_steps / (t2 - t1))
print(f"{a.teacher}->{a.student}, synthesis batch {a.batch} x {a.g_steps} steps, KD batch {a.kd_batch} x "
      f"{a.kd_steps}, {a.reps} reps, {torch.get_num_threads()} threads (median images/s)")
med = {k: [statistics.median(v) for v in speed[k]] for k in fmts}
for i, what in enumerate(["synthesis (generator img-steps/s)", "KD (img/s)"]):
    c, cl = med["contiguous"][i], med["channels_last"][i]
    print(f"  {what:36s} contiguous {c:8.1f}  channels_last {cl:8.1f}  ratio {cl / c:.2f}")
