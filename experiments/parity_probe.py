"""nayer.py with one of the authors' behaviours switched in, to find what separates the two codes (RESULTS §11).

Runs `nayer.main` unchanged except for the patch named by --authors (nayer.py itself is not edited):
  student-init  the student initialised as their WideResNet class does: conv weights N(0, 2 / (k*k*out)) (He,
                fan-out), BN weight 1 and bias 0, Linear bias 0 (its weight as PyTorch's default). nayer.py keeps
                PyTorch's defaults (conv: std 1 / sqrt(3 * fan-in), sqrt(6) = 2.4x smaller where fan-in =
                fan-out); their ResNets keep the defaults too. On Tiny-ImageNet this made the gap.
  student-mode  after every synthesis round the student is put in train mode, as their NAYER.synthesize does
                (`self.student.train()` after a round), so later rounds of an epoch serve L_ADV with batch
                statistics and update the student's BN running statistics on G's images. Not the gap.
Every other argument goes to nayer.py as it is:

    python experiments/parity_probe.py --authors student-init -- --dataset tiny_imagenet ... --seed N --out RUN
    python experiments/parity_probe.py --authors student-init --rebuilt-cifar -- --dataset cifar100 ...  # §15
"""
import argparse, sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import nayer  # noqa: E402


def student_mode():
    import torch.nn as nn
    plain = nayer.synthesize_round

    class TrainMode(nn.Module):
        """The student as the authors' synthesis sees it after a round: in train mode (batch statistics,
        its BN running statistics updated). Not a submodule, so nayer.py's eval-mode check passes."""
        def __init__(self, student):
            super().__init__()
            self.student = [student]

        def forward(self, x):
            return self.student[0](x)

    def round_then_train(G, teacher, student, *args, **kwargs):
        if student.training:  # set below after the epoch's first round; distill resets it each epoch
            student = TrainMode(student)
        out = plain(G, teacher, student, *args, **kwargs)
        student = student.student[0] if isinstance(student, TrainMode) else student
        student.train()  # theirs: eval for the first round of an epoch, train for the rest
        return out
    nayer.synthesize_round = round_then_train


def student_init():
    import math, torch.nn as nn
    plain = nayer.build_model

    def build_then_init(name, num_classes, *args, **kwargs):
        model = plain(name, num_classes, *args, **kwargs)  # the teacher's is overwritten by its checkpoint
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.data.normal_(0, math.sqrt(2.0 / (m.kernel_size[0] * m.kernel_size[1] * m.out_channels)))
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.data.fill_(1)
                m.bias.data.zero_()
            elif isinstance(m, nn.Linear):
                m.bias.data.zero_()
        return model
    nayer.build_model = build_then_init


PATCHES = {"student-mode": student_mode, "student-init": student_init}

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--authors", required=True, choices=sorted(PATCHES), help="the behaviour of theirs to switch in")
    p.add_argument("--rebuilt-cifar", action="store_true",
                   help="torchvision's md5 check off, as real_cifar.py (the CIFAR copies rebuilt from image files)")
    p.add_argument("nayer_args", nargs=argparse.REMAINDER, help="-- then nayer.py's arguments")
    a = p.parse_args()
    if a.rebuilt_cifar:
        import torchvision.datasets.cifar as tv_cifar
        tv_cifar.check_integrity = lambda *a, **k: True  # rebuilt files: no md5 match, the images are real
    PATCHES[a.authors]()
    print(f"parity_probe: nayer.py with the authors' {a.authors}", flush=True)
    nayer.main([x for x in a.nayer_args if x != "--"] if a.nayer_args[:1] == ["--"] else a.nayer_args)
