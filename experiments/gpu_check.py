"""One prepared check for the first GPU this project meets: what that GPU gives, and that NAYER learns there.

    python experiments/gpu_check.py --teacher-ckpt T.pth --cifar10-test DIR --lte-file lte.pt --out gpu_check.json
    python experiments/gpu_check.py --device cpu --smoke --out /tmp/gpu_check_smoke.json   # the plumbing, on a CPU

Part 1, the benchmark (random weights, no data): `nayer.distill` itself for one warm-up round and two
post-warm-up epochs of `--rounds` synthesis rounds and `--rounds` KD steps each; the second epoch is timed
(the first one pays for cuDNN autotuning and --compile). At the paper's sizes, for the three pairs of the
authors' scripts: ResNet-34 -> ResNet-18 on CIFAR-10, WRN-40-2 -> WRN-16-2 on CIFAR-100 and ResNet-34 ->
ResNet-18 on Tiny-ImageNet (64 px), each in bf16 and in fp32, and the CIFAR-10 pair once more with --compile.
Per row: synthesis (bank images/s: one kept batch a round) and KD images/s, one post-warm-up epoch at the data
set's loop counts, peak GPU memory of the timed run and the bank the whole run would add, and the projected time
of the whole 120-epoch schedule (synthesis and KD only; evaluation not counted), beside the paper's "about
2.1 GPU-hours" for a CIFAR run (../shared/NAYER_NOTES.md).

Part 2, a short real distillation: the given teacher file (nayer.py's format, e.g. the CPU recipe's wrn16_1),
the real CIFAR-10 test split (a folder holding cifar-10-batches-py's `test_batch`; batches.meta optional) and a
saved (10, D) label table; a wrn16_1 student on a short schedule at the paper's batch sizes, the student's test
accuracy after every post-warm-up epoch. Everything it reads travels with the working tree (about 32 MiB: the
30 MB test split, a 0.7 MB teacher, the table); it downloads nothing.

It prints one table and writes one JSON file (`--out`). On one modern GPU the default sizes take a few minutes
(at most about 8). `--smoke` shrinks every size (and, when no inputs are given, uses a random teacher, random
test images and a random table: plumbing only, the accuracy means nothing) so that a CPU runs it end to end in
about two minutes; RESULTS.md section 9 describes that run.
"""
import argparse, json, pickle, platform, sys, tempfile, time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import nayer  # noqa: E402

PAIRS = [("cifar10", "resnet34", "resnet18"), ("cifar100", "wrn40_2", "wrn16_2"), ("tiny_imagenet", "resnet34", "resnet18")]
SMOKE = ["--synthesis-batch-size", "20", "--batch-size", "32", "--g-steps", "2", "--le-emb-size", "32"]  # x10 classes
PAPER_GPU_HOURS = 2.1  # the paper's time for its CIFAR runs (NAYER_NOTES.md), on the authors' GPU


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="as nayer.py's --device")
    p.add_argument("--rounds", type=int, default=5, help="synthesis rounds and KD steps per timed epoch")
    p.add_argument("--smoke", action="store_true", help="tiny sizes and pairs (wrn16_1), for a CPU")
    p.add_argument("--teacher-ckpt", default=None, help="part 2: a trained CIFAR-10 teacher (nayer.py's format)")
    p.add_argument("--teacher", default="wrn16_1", choices=nayer.ARCHS, help="its architecture, if the file omits it")
    p.add_argument("--cifar10-test", default=None, help="part 2: a folder with CIFAR-10's test_batch (+ batches.meta)")
    p.add_argument("--lte-file", default=None, help="part 2: a (10, D) label table, or nayer.py's lte.pt cache")
    p.add_argument("--distill-epochs", type=int, default=8, help="part 2: epochs, 2 of them warm-up")
    p.add_argument("--skip-benchmark", action="store_true", help="part 2 only")
    p.add_argument("--out", default="gpu_check.json", help="the JSON record")
    a = p.parse_args(argv)
    part2 = [a.teacher_ckpt, a.cifar10_test, a.lte_file]
    if any(part2) and not all(part2) or not (all(part2) or a.smoke):
        p.error("part 2 needs --teacher-ckpt, --cifar10-test and --lte-file together (or --smoke for random ones)")
    return a


def bench_one(dataset, teacher, student, precision, compile_, opts, device):
    """One benchmark row: distill on random weights, the second post-warm-up epoch timed."""
    argv = ["--dataset", dataset, "--teacher", teacher, "--student", student, "--device", opts.device,
            "--epochs", "3", "--warmup", "1", "--warmup-g-loops", "1", "--g-loops", str(opts.rounds),
            "--kd-steps", str(opts.rounds), "--amp" if precision == "bf16" else "--no-amp"]
    argv += (SMOKE + ["--image-size", "16"] if opts.smoke else []) + (["--compile"] if compile_ else [])
    if opts.smoke and dataset != "cifar10":  # 100 and 200 classes need batches of 100 and 200
        argv += ["--synthesis-batch-size", str(nayer.DATASETS[dataset]["classes"])]
    args, full = nayer.parse_args(argv), nayer.parse_args(argv[:6])  # full: the data set's whole schedule
    amp = nayer.amp_choice(args, device)[0]
    C, S = nayer.DATASETS[dataset]["classes"], args.image_size
    if device.type == "cuda":
        torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats()
    torch.manual_seed(0)
    t0 = time.time()
    nets = [nayer.build_model(n, C).to(device, memory_format=torch.channels_last) for n in (teacher, student)]
    _, h = nayer.distill(*nets, torch.randn(C, 512), nayer.config_of(args, amp), image_shape=(3, S, S),
                         mean=nayer.DATASETS[dataset]["mean"], std=nayer.DATASETS[dataset]["std"],
                         report=lambda rec: None,  # the table below says it
                         callbacks=nayer.RunFolder(tempfile.mkdtemp(), vars(args), compile=args.compile))
    synth, kd, B = h[-1]["ips_synth"], h[-1]["ips_kd"], args.synthesis_batch_size
    epoch_s = full.g_loops * B / synth + full.kd_steps * args.batch_size / kd  # at the data set's loop counts
    rounds = full.warmup * full.warmup_g_loops + (full.epochs - full.warmup) * full.g_loops
    run_h = (full.warmup * full.warmup_g_loops * B / synth + (full.epochs - full.warmup) * epoch_s) / 3600
    return dict(dataset=dataset, pair=f"{teacher}->{student}", precision=precision, compile=compile_, image_size=S,
                synthesis_batch=B, g_steps=args.g_steps, kd_batch=args.batch_size, synth_img_s=synth,
                generator_img_s=synth * args.g_steps, kd_img_s=kd, epoch_s=epoch_s, run_120_epochs_h=run_h,
                peak_mem_gib=torch.cuda.max_memory_allocated() / 2 ** 30 if device.type == "cuda" else None,
                full_bank_gib=rounds * B * 3 * S * S / 2 ** 30, wall_s=time.time() - t0)


def benchmark(opts, device):
    pairs = [(d, "wrn16_1", "wrn16_1") for d, _, _ in PAIRS] if opts.smoke else PAIRS
    rows = [bench_one(*pair, prec, False, opts, device) for pair in pairs for prec in ("bf16", "fp32")]
    native = nayer.native_bf16(device)[0]  # --compile once, in the precision the device runs by default
    rows.append(bench_one(*pairs[0], "bf16" if native else "fp32", True, opts, device))
    print(f"\n{'data set':14s} {'pair':20s} {'prec':5s} {'compile':7s} {'synth img/s':>11s} {'KD img/s':>9s} "
          f"{'epoch s':>8s} {'120 ep. h':>9s} {'peak GiB':>8s} {'+bank GiB':>9s}")
    for r in rows:
        mem = "-" if r["peak_mem_gib"] is None else f"{r['peak_mem_gib']:.2f}"
        print(f"{r['dataset']:14s} {r['pair']:20s} {r['precision']:5s} {str(r['compile']):7s} {r['synth_img_s']:11.1f} "
              f"{r['kd_img_s']:9.0f} {r['epoch_s']:8.1f} {r['run_120_epochs_h']:9.2f} {mem:>8s} {r['full_bank_gib']:9.2f}")
    print(f"(the paper: about {PAPER_GPU_HOURS} GPU-hours for a 120-epoch CIFAR run; '+bank': the uint8 bank of the "
          f"whole run, which the timed run did not hold)")
    return rows


def read_test_split(folder):
    """CIFAR-10's test_batch (torchvision's python layout) without torchvision's check of the train files."""
    d = pickle.load(open(Path(folder) / "test_batch", "rb"), encoding="latin1")
    x = torch.as_tensor(d["data"]).view(-1, 3, 32, 32)  # (N, 3072) -> (N, 3, 32, 32) uint8
    return x, torch.as_tensor(d["labels"])


def short_distillation(opts, device):
    """Part 2: a given teacher, the real test split, a short schedule at the paper's batch sizes."""
    spec = nayer.DATASETS["cifar10"]
    if opts.teacher_ckpt:
        x, y = read_test_split(opts.cifar10_test)
        lte = torch.load(opts.lte_file, map_location="cpu", weights_only=True)
        lte = lte["table"] if isinstance(lte, dict) else lte
        obj = torch.load(opts.teacher_ckpt, map_location="cpu", weights_only=True)
        arch = obj.get("arch", opts.teacher) if isinstance(obj, dict) else opts.teacher
        teacher = nayer.build_model(arch, 10)
        nayer.load_checkpoint_into(teacher, opts.teacher_ckpt, arch, 10)
    else:  # --smoke without inputs: random everything, the plumbing only
        torch.manual_seed(0)
        x, y, lte, arch = torch.randint(0, 256, (500, 3, 32, 32), dtype=torch.uint8), torch.randint(0, 10, (500,)), \
            torch.randn(10, 384), "wrn16_1"
        teacher = nayer.build_model(arch, 10)
    m, s = (torch.tensor(v).view(1, 3, 1, 1) for v in (spec["mean"], spec["std"]))
    xn = (x.float() / 255 - m) / s  # (N, 3, 32, 32), normalised
    loader = [(xn[i:i + 1000], y[i:i + 1000]) for i in range(0, len(y), 1000)]
    teacher_acc = nayer.evaluate(teacher.to(device), loader, device)
    E = opts.distill_epochs
    argv = ["--device", opts.device, "--epochs", str(E), "--warmup", "2", "--warmup-g-loops", "5", "--g-loops", "2",
            "--kd-steps", "100", "--lr", "0.1", "--student", "wrn16_1"] + (SMOKE + ["--kd-steps", "3"] if opts.smoke else [])
    args = nayer.parse_args(argv)
    print(f"\npart 2: {arch} teacher {teacher_acc:.2f}% on {len(y)} test images; wrn16_1 student, {E} epochs", flush=True)
    torch.manual_seed(0)
    t0 = time.time()
    nets = [m.to(device, memory_format=torch.channels_last) for m in (teacher, nayer.build_model("wrn16_1", 10))]
    _, history = nayer.distill(*nets, lte.float(), nayer.config_of(args, nayer.amp_choice(args, device)[0]),
                               image_shape=(3, 32, 32), mean=spec["mean"], std=spec["std"], eval_loader=loader,
                               report=lambda rec: print(nayer.epoch_line(rec, E), flush=True))
    accs = [h["acc"] for h in history if h["acc"] is not None]
    print(f"student accuracy by post-warm-up epoch: {' '.join(f'{a:.1f}' for a in accs)} (teacher {teacher_acc:.2f}%)")
    return dict(teacher=arch, teacher_acc=teacher_acc, n_test=len(y), args=vars(args), history=history,
                wall_s=time.time() - t0, random_inputs=not opts.teacher_ckpt)


def main(argv=None):
    opts = parse_args(argv)
    try:
        device = nayer.pick_device(opts.device)
    except nayer.NayerError as e:
        raise SystemExit(f"gpu_check.py: error: {e}")
    torch.backends.cudnn.benchmark = device.type == "cuda"  # as nayer.py's run
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{platform.processor() or 'CPU'}"
    print(f"gpu_check on {device} ({name}), torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"native bf16: {nayer.native_bf16(device)}", flush=True)
    t0, record = time.time(), dict(device=str(device), name=name, torch=torch.__version__, smoke=opts.smoke)
    if not opts.skip_benchmark:
        record["benchmark"] = benchmark(opts, device)
    record["distillation"] = short_distillation(opts, device)
    record["wall_s"] = time.time() - t0
    Path(opts.out).write_text(json.dumps(record, indent=1))
    print(f"gpu_check: {record['wall_s']:.0f} s in all; record in {opts.out}")


if __name__ == "__main__":
    main()
