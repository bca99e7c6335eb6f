"""What the two peer harnesses share: importing a peer's repository, running it on the CPU, the real
CIFAR-10 test split, accuracy, the KD step as the peers' own `train()` does it, and the progress lines.

Nothing here is peer code: the peers' repositories are exported by the user (DEVELOPERS.md / README,
"Data") and imported from `--official-root`; nothing of them is committed.

The one patch both need on a CPU: their code calls `.cuda()` on modules and tensors in a few places
(generator clones and re-initialisation, meta-gradient buffers). `cpu_only()` makes
`torch.nn.Module.cuda` and `torch.Tensor.cuda` return the object unchanged for the whole process, so
every such call leaves it on the CPU; nothing else of theirs changes.
"""
import contextlib, importlib.machinery, importlib.util, json, os, pickle, sys, time, types, warnings
from pathlib import Path

import torch

PATCHES = []


def cpu_only():
    torch.nn.Module.cuda = lambda self, device=None: self
    torch.Tensor.cuda = lambda self, device=None, non_blocking=False, **kw: self
    PATCHES.append("torch.nn.Module.cuda and torch.Tensor.cuda are no-ops: every .cuda() of theirs stays on the CPU")
    # their DataLoader asks for 4 workers and pinned memory; kept as it is, its two warnings silenced
    warnings.filterwarnings("ignore", message=".*pin_memory.*")
    warnings.filterwarnings("ignore", message=".*worker processes in total.*")


def import_peer(root, stubs=("termcolor", "xlsxwriter", "pandas")):
    """Put the peer's repository first on sys.path and import its `registry` and `datafree` package.
    Modules its package imports but the path used here never calls are stubbed if not installed."""
    root = os.path.abspath(root)
    if not os.path.isfile(os.path.join(root, "registry.py")):
        sys.exit(f"no registry.py under --official-root {root}: export the peer's repository there")
    sys.path.insert(0, root)
    import torchvision  # noqa: F401  (before any stub, so that its own imports are the real ones)
    for name in stubs:
        if importlib.util.find_spec(name) is None:
            m = types.ModuleType(name)
            m.__spec__ = importlib.machinery.ModuleSpec(name, None)
            m.colored = lambda s, *a, **k: s  # termcolor's one function they use
            sys.modules[name] = m
            PATCHES.append(f"stub module '{name}' (not installed; imported by datafree, unused here)")
    try:  # Fast-DFKD's model zoo imports a torchvision module that torchvision 0.13 removed
        import torchvision.models.utils  # noqa: F401
    except ImportError:
        m = types.ModuleType("torchvision.models.utils")
        m.load_state_dict_from_url = torch.hub.load_state_dict_from_url  # where that function lives now
        sys.modules["torchvision.models.utils"] = m
        PATCHES.append("torchvision.models.utils (removed in torchvision 0.13) provided with torch.hub's "
                       "load_state_dict_from_url")
    with contextlib.redirect_stdout(open(os.devnull, "w")):
        import registry, datafree
    return registry, datafree


def load_teacher_student(registry, teacher_arch, student_arch, ckpt):
    with contextlib.redirect_stdout(open(os.devnull, "w")):  # registry.get_model prints the name
        teacher = registry.get_model(teacher_arch, num_classes=10)
        student = registry.get_model(student_arch, num_classes=10)
    sd = torch.load(ckpt, map_location="cpu", weights_only=True)
    teacher.load_state_dict(sd.get("state_dict", sd), strict=True)  # nayer.py's teachers load as they are
    return teacher.eval(), student


def cifar10_test(data_root, mean, std):
    """The 10,000 test images of a torchvision `cifar-10-batches-py` folder, normalised, in batches of 1000."""
    d = pickle.load(open(Path(data_root) / "cifar-10-batches-py" / "test_batch", "rb"), encoding="latin1")
    x = torch.tensor(d["data"]).view(-1, 3, 32, 32).float() / 255  # (N, 3072) -> (N, 3, 32, 32)
    x = (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    y = torch.tensor(d["labels"])
    return [(x[i:i + 1000], y[i:i + 1000]) for i in range(0, len(y), 1000)]


@torch.no_grad()
def accuracy(model, batches):
    model.eval()
    correct = sum((model(x).argmax(1) == y).sum().item() for x, y in batches)
    return 100.0 * correct / sum(len(y) for _, y in batches)


def kd_steps(synthesizer, student, teacher, criterion, optimizer, steps):
    """The KD part of an epoch as the peers' datafree_kd.train() does it on one device in fp32:
    a batch from their image-pool DataLoader, teacher without gradients, KL at temperature T."""
    student.train()
    teacher.eval()
    for _ in range(steps):
        images = synthesizer.sample()
        with torch.no_grad():
            t_out, _ = teacher(images, return_features=True)
        loss = criterion(student(images.detach()), t_out.detach())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


class Progress:
    """Per evaluation: epoch, cumulative training wall time (synthesis + KD; evaluations excluded, as in
    nayer.py's sec_synth + sec_kd) and test accuracy; `done()` prints the JSON line."""
    def __init__(self, name, args):
        self.name, self.args, self.history, self.train_s = name, args, [], 0.0
        self.t0 = time.time()

    def epoch(self, epoch, seconds, acc=None):
        self.train_s += seconds
        self.history.append(dict(epoch=epoch, train_s=round(self.train_s, 1), sec=round(seconds, 1), acc=acc))
        if acc is not None:
            print(f"{self.name} epoch {epoch} train {self.train_s:.0f}s acc {acc:.2f}%", flush=True)

    def done(self, **extra):
        accs = [h for h in self.history if h["acc"] is not None]
        print(json.dumps(dict(impl=self.name, final_acc=accs[-1]["acc"] if accs else None, history=self.history,
                              train_s=round(self.train_s, 1), total_s=round(time.time() - self.t0, 1),
                              args=vars(self.args), patches=PATCHES, **extra)), flush=True)
