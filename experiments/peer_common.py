"""What the two peer harnesses share: importing a peer's repository, running it on the CPU, the real
CIFAR-10 / CIFAR-100 test split, accuracy, the KD step as the peers' own `train()` does it, and the progress lines.

Nothing here is peer code: the peers' repositories are exported by the user (DEVELOPERS.md / README,
"Data") and imported from `--official-root`; nothing of them is committed.

The one patch both need on a CPU: their code calls `.cuda()` on modules and tensors in a few places
(generator clones and re-initialisation, meta-gradient buffers). `cpu_only()` makes
`torch.nn.Module.cuda` and `torch.Tensor.cuda` return the object unchanged for the whole process, so
every such call leaves it on the CPU; nothing else of theirs changes.
"""
import contextlib, importlib.machinery, importlib.util, io, json, os, pickle, sys, time, types, warnings
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


def load_teacher_student(registry, teacher_arch, student_arch, ckpt, num_classes=10):
    with contextlib.redirect_stdout(open(os.devnull, "w")):  # registry.get_model prints the name
        teacher = registry.get_model(teacher_arch, num_classes=num_classes)
        student = registry.get_model(student_arch, num_classes=num_classes)
    sd = torch.load(ckpt, map_location="cpu", weights_only=True)
    teacher.load_state_dict(sd.get("state_dict", sd), strict=True)  # nayer.py's teachers load as they are
    return teacher.eval(), student


def cifar_test(data_root, mean, std, dataset="cifar10"):
    """The 10,000 test images of a torchvision `cifar-10-batches-py` or `cifar-100-python` folder (fine
    labels), normalised, in batches of 1000."""
    path = {"cifar10": "cifar-10-batches-py/test_batch", "cifar100": "cifar-100-python/test"}[dataset]
    d = pickle.load(open(Path(data_root) / path, "rb"), encoding="latin1")
    x = torch.tensor(d["data"]).view(-1, 3, 32, 32).float() / 255  # (N, 3072) -> (N, 3, 32, 32)
    x = (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    y = torch.tensor(d["labels" if dataset == "cifar10" else "fine_labels"])
    return [(x[i:i + 1000], y[i:i + 1000]) for i in range(0, len(y), 1000)]


def tiny_imagenet_val(data_root, image_size, mean, std):
    """The 10,000 Tiny-ImageNet val images exactly as nayer.py reads them (its loader and its one antialiased
    resize to --image-size, so both sides are scored on the same pixels), normalised, in batches of 1000."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import nayer
    x, y, _ = nayer.load_split(types.SimpleNamespace(dataset="tiny_imagenet", data_root=data_root,
                                                     image_size=image_size), train=False)  # (N, 3, S, S) uint8
    x = (x.float() / 255 - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
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
    total = torch.zeros(())
    for _ in range(steps):
        images = synthesizer.sample()
        with torch.no_grad():
            t_out, _ = teacher(images, return_features=True)
        loss = criterion(student(images.detach()), t_out.detach())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.detach()  # no host sync per step; one at the end
    return total.item() / steps  # mean L_KD, for the record (nayer.py's loss_kd)


def common_args(p, epochs):
    """The options both harnesses share; defaults: README's CIFAR-10 recipe (its KD work and batches)."""
    a = p.add_argument
    a("--official-root", required=True, help="an export of the peer's GitHub repository")
    a("--data-root", required=True, help="folder holding cifar-10-batches-py or cifar-100-python (md5 not checked)")
    a("--teacher-ckpt", required=True, help="teacher state dict ({'state_dict': ...} or bare)")
    a("--teacher", default="wrn16_1", help="their registry name")
    a("--student", default="wrn16_1", help="their registry name")
    a("--epochs", type=int, default=epochs, help="epochs in all")
    a("--warmup", type=int, default=5, help="warm-up epochs: synthesis only")
    a("--synthesis-batch-size", type=int, default=100, help="images per round")
    a("--batch-size", type=int, default=128, help="KD batch")
    a("--kd-steps", type=int, default=50, help="KD steps per round after warm-up")
    a("--lr", type=float, default=0.1, help="student SGD learning rate (momentum 0.9, wd 1e-4)")
    a("--T", type=float, default=20.0, help="KD temperature")
    a("--eval-every", type=int, default=5, help="test accuracy every N epochs (and at the last)")
    a("--threads", type=int, default=2, help="torch threads")
    a("--seed", type=int, default=0, help="seeds Python's, numpy's and torch's generators")


def setup(args, dataset="cifar10", image_size=32):
    """CPU patch, the peer's modules, seeds, teacher and student, normalisation, their train transform
    (crop 4 + flip, as their CIFAR and Tiny-ImageNet loaders) and the test batches."""
    import random, numpy as np, torchvision.transforms as T
    cpu_only()
    registry, datafree = import_peer(args.official_root)
    torch.set_num_threads(args.threads)
    random.seed(args.seed), np.random.seed(args.seed), torch.manual_seed(args.seed)
    classes = {"cifar10": 10, "cifar100": 100, "tiny_imagenet": 200}[dataset]
    teacher, student = load_teacher_student(registry, args.teacher, args.student, args.teacher_ckpt, classes)
    norm = registry.NORMALIZE_DICT[dataset]
    transform = T.Compose([T.RandomCrop(image_size, padding=4), T.RandomHorizontalFlip(), T.ToTensor(),
                           T.Normalize(**norm)])
    if dataset == "tiny_imagenet":
        test = tiny_imagenet_val(args.data_root, image_size, norm["mean"], norm["std"])
    else:
        test = cifar_test(args.data_root, norm["mean"], norm["std"], dataset)
    return datafree, teacher, student, norm, transform, test


def distill(args, name, synthesizer, teacher, student, datafree, test, rounds=1, read_prints=None):
    """The re-written epoch loop: `rounds` times synthesize() (prints discarded) then, after warm-up,
    kd_steps KD steps; one cosine step over the post-warm-up epochs (eta_min lr/1000, as nayer.py).
    read_prints: a function of the epoch's synthesis prints returning a dict of losses for the history."""
    criterion = datafree.criterions.KLDiv(T=args.T)
    optimizer = torch.optim.SGD(student.parameters(), args.lr, weight_decay=1e-4, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, args.epochs - args.warmup, eta_min=args.lr * 1e-3)
    progress, quiet = Progress(name, args), open(os.devnull, "w")
    for epoch in range(args.epochs):
        t0, prints, kd = time.time(), io.StringIO(), []
        for _ in range(rounds):
            with contextlib.redirect_stdout(prints if read_prints else quiet):  # per-step loss prints
                synthesizer.synthesize()
            if epoch >= args.warmup:
                kd.append(kd_steps(synthesizer, student, teacher, criterion, optimizer, args.kd_steps))
        if epoch >= args.warmup:
            scheduler.step()
        seconds = time.time() - t0
        losses = dict(read_prints(prints.getvalue()), loss_kd=sum(kd) / len(kd) if kd else None) if read_prints else {}
        evaluate = epoch >= args.warmup and ((epoch + 1) % args.eval_every == 0 or epoch + 1 == args.epochs)
        progress.epoch(epoch + 1, seconds, accuracy(student, test) if evaluate else None, **losses)
    progress.done(teacher_acc=accuracy(teacher, test))


class Progress:
    """Per evaluation: epoch, cumulative training wall time (synthesis + KD; evaluations excluded, as in
    nayer.py's sec_synth + sec_kd) and test accuracy; `done()` prints the JSON line."""
    def __init__(self, name, args):
        self.name, self.args, self.history, self.train_s = name, args, [], 0.0
        self.t0 = time.time()

    def epoch(self, epoch, seconds, acc=None, **losses):
        self.train_s += seconds
        self.history.append(dict(epoch=epoch, train_s=round(self.train_s, 1), sec=round(seconds, 1), acc=acc, **losses))
        if acc is not None:
            print(f"{self.name} epoch {epoch} train {self.train_s:.0f}s acc {acc:.2f}%", flush=True)

    def done(self, **extra):
        accs = [h for h in self.history if h["acc"] is not None]
        print(json.dumps(dict(impl=self.name, final_acc=accs[-1]["acc"] if accs else None, history=self.history,
                              train_s=round(self.train_s, 1), total_s=round(time.time() - self.t0, 1),
                              args=vars(self.args), patches=PATCHES, **extra)), flush=True)
