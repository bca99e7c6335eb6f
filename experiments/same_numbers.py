"""A refactor keeps the numbers: seeded tiny CIFAR-10 runs of six variants, their metrics.

    python experiments/same_numbers.py OUT.json            # run nayer.py beside this folder
    NAYER_FILE=old/nayer.py python experiments/same_numbers.py OLD.json
    cmp OLD.json OUT.json                                    # identical: the same numbers

Each variant runs nayer.py's CLI (fp32, --no-amp, seed 0, on the CPU) on a fake CIFAR-10 and a
random wrn16_1 teacher written here, and records metrics.jsonl without its timings: the losses,
accuracy, learning rate and bank size of every epoch, at full float precision. The variants are
the ones used since issue 36: the default, flips off, one-hot input, noise input, no noisy layer,
and flips in KD only with the BN momentum off.
"""
import json, os, pickle, subprocess, sys, tempfile
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
NAYER = os.environ.get("NAYER_FILE") or str(HERE.parent / "nayer.py")
VARIANTS = {"default": [], "flip_off": ["--flip", "off"], "onehot": ["--generator-input", "onehot"],
            "noise": ["--generator-input", "noise"], "no_noisy_layer": ["--noisy-layer", "off"],
            "flip_kd_momentum_0": ["--flip", "kd", "--bn-momentum", "0"]}
# the md5 check switched off for the fake files; nayer.py loaded from NAYER_FILE
LAUNCH = ("import sys, importlib.util, torchvision.datasets.cifar as c; "
          "c.check_integrity = lambda *a, **k: True; "
          "s = importlib.util.spec_from_file_location('nayer', sys.argv[1]); "
          "m = importlib.util.module_from_spec(s); sys.modules['nayer'] = m; "
          "s.loader.exec_module(m); m.main(sys.argv[2:])")


def fake_cifar10(root):
    rng = np.random.default_rng(0)
    d = Path(root) / "cifar-10-batches-py"
    d.mkdir(parents=True)
    for name, n in [(f"data_batch_{i}", 40) for i in range(1, 6)] + [("test_batch", 100)]:
        rows = dict(data=rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                    labels=rng.integers(0, 10, n).tolist())
        (d / name).write_bytes(pickle.dumps(rows))
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
             "truck"]
    (d / "batches.meta").write_bytes(pickle.dumps({"label_names": names}))


def main(out_json):
    sys.path.insert(0, str(Path(NAYER).parent))
    import nayer  # for the teacher's architecture only
    record = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        fake_cifar10(tmp / "data")
        torch.manual_seed(0)
        torch.save(torch.randn(10, 16), tmp / "lte.pt")
        teacher = nayer.build_model("wrn16_1", 10).state_dict()
        torch.save({"state_dict": teacher}, tmp / "teacher.pth")
        for name, extra in VARIANTS.items():
            argv = ["--data-root", tmp / "data", "--device", "cpu", "--teacher", "wrn16_1",
                    "--student", "wrn16_1", "--teacher-ckpt", tmp / "teacher.pth",
                    "--lte-file", tmp / "lte.pt", "--epochs", "4", "--warmup", "1",
                    "--warmup-g-loops", "2", "--g-loops", "1", "--g-steps", "2", "--kd-steps", "3",
                    "--synthesis-batch-size", "20", "--batch-size", "16", "--le-emb-size", "32",
                    "--no-amp", "--seed", "0", "--out", tmp / name, *extra]
            proc = subprocess.run([sys.executable, "-c", LAUNCH, NAYER, *map(str, argv)],
                                  capture_output=True, text=True)
            if proc.returncode:
                sys.exit(f"{name}: {proc.stderr.strip()[-500:]}")
            lines = (tmp / name / "metrics.jsonl").read_text().splitlines()
            drop = ("sec_synth", "sec_kd", "ips_synth", "ips_kd")  # timings differ run to run
            record[name] = [{k: v for k, v in json.loads(line).items() if k not in drop}
                            for line in lines]
            print(name, record[name][-1]["acc"], flush=True)
    Path(out_json).write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main(sys.argv[1])
