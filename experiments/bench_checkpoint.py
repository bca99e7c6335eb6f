"""What an epoch's checkpoint costs as the bank M grows (RESULTS section 14): the whole bank in
every checkpoint (nayer.py before the bank was saved in pieces) against the rows added since the
last save (one piece) plus the small state.

    python experiments/bench_checkpoint.py --banks 10000 160000 --out /tmp/bench_ckpt

The small state is the paper's CIFAR-10 pair's: a ResNet-18 student (with SGD momentum), the
generator of a 400-image synthesis batch, the BN EMA of a ResNet-34 teacher; the new rows are one
post-warm-up epoch's (2 rounds of 400 images). Each way is saved `--repeats` times with nayer.py's
own atomic_save (the best time kept), then read back once; sizes are the files on disk.
"""
import argparse, json, shutil, sys, time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import nayer  # noqa: E402


def small_state(teacher_bns):
    torch.manual_seed(0)
    student = nayer.build_model("resnet18", 10)
    opt = torch.optim.SGD(student.parameters(), lr=0.2, momentum=0.9)
    student(torch.randn(2, 3, 32, 32)).sum().backward()
    opt.step()  # momentum buffers, as in a real checkpoint
    G = nayer.Generator(torch.randn(10, 512), (3, 32, 32), 40)
    ema = [(torch.zeros(c), torch.ones(c)) for c in teacher_bns]
    return dict(student=student.state_dict(), generator=G.state_dict(), opt=opt.state_dict(),
                bn_ema=ema, rng=torch.get_rng_state())


def timed(fn, repeats):
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--banks", type=int, nargs="+", default=[10000, 160000], help="bank sizes")
    ap.add_argument("--new-rows", type=int, default=800, help="rows added an epoch (2 x 400)")
    ap.add_argument("--repeats", type=int, default=3, help="saves per way (best kept)")
    ap.add_argument("--out", required=True, help="scratch folder (emptied)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    teacher = nayer.build_model("resnet34", 10)
    bns = [m.num_features for m in teacher.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    state, rows = small_state(bns), []
    for n in args.banks:
        M = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8)  # images already in M
        whole = lambda: nayer.atomic_save(dict(state, bank=M), out / "whole.pt")
        piece = M[n - args.new_rows:n].clone()
        pieces = lambda: (nayer.atomic_save(piece, out / "piece.pt"),
                          nayer.atomic_save(dict(state, bank=[("piece.pt", len(piece))]),
                                            out / "small.pt"))
        t_whole, t_piece = timed(whole, args.repeats), timed(pieces, args.repeats)
        t0 = time.perf_counter()
        torch.load(out / "whole.pt", weights_only=True)
        t_read = time.perf_counter() - t0
        size = lambda *fs: sum((out / f).stat().st_size for f in fs) / 2 ** 20
        rows.append(dict(bank=n, save_whole_s=round(t_whole, 3), save_new_rows_s=round(t_piece, 4),
                         read_whole_s=round(t_read, 3), whole_mib=round(size("whole.pt"), 1),
                         new_rows_and_state_mib=round(size("piece.pt", "small.pt"), 1)))
        print(json.dumps(rows[-1]), flush=True)
    print(json.dumps(dict(torch=torch.__version__, threads=torch.get_num_threads(), rows=rows)))


if __name__ == "__main__":
    main()
