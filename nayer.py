"""NAYER: data-free knowledge distillation with noisy-layer data generation.

Paper: M.-T. Tran, T. Le, X.-M. Le, M. Harandi, Q. H. Tran, D. Phung, "NAYER: Noisy
Layer Data Generation for Efficient and Effective Data-free Knowledge Distillation",
CVPR 2024, https://arxiv.org/abs/2310.00258

The idea. A trained teacher is given, its training data is not. A generator makes
images the teacher finds typical (its BatchNorm statistics match, it is confident
about the intended class) and, after a warm-up, images where the student still
disagrees with the teacher (adversarial term); the student is distilled on a growing
bank of those images. NAYER's two changes to earlier generators: the input is a
constant label-text embedding (LTE, "a photo of a cat" through a frozen text
encoder) instead of random noise, and the randomness lives in a *noisy layer*, a
Linear right after the LTE that is re-initialised before every synthetic batch. The
generator therefore starts from meaningful inputs and needs few steps per batch.

Commands:
    python nayer.py --dataset cifar10               # the paper's CIFAR-10 run, one GPU
    python nayer.py --dataset cifar10 --device cpu --epochs 3 --warmup 1 \
        --g-steps 2 --kd-steps 5 --synthesis-batch-size 20 --batch-size 32 \
        --teacher wrn16_1 --student wrn16_1 --train-teacher-epochs 1  # CPU smoke run
    python nayer.py --benchmark 5                   # images/s, random weights, no data
Without `checkpoints/pretrained/{dataset}_{teacher}.pth` the script first trains the
teacher on the real training split (the only step that touches real training data).
What to expect: the student's test accuracy is printed every epoch and climbs towards the
teacher's. The authors report, for CIFAR-100 WRN-40-2 -> WRN-16-2 with this 120-epoch
schedule, 70.20 % in about 2.1 GPU-hours (their figure; README lists what we measured).
Run `python nayer.py --help` for every option; README.md maps equations to functions.
"""
import argparse, contextlib, json, math, os, random, signal, sys, time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ----------------------------------------------------------------------------- config
ARCHS = ["resnet18", "resnet34", "wrn16_1", "wrn16_2", "wrn40_1", "wrn40_2", "vgg11"]
DATASETS = {  # per-channel mean/std of the training split, as in the authors' code
    "cifar10": dict(classes=10, mean=(0.4914, 0.4822, 0.4465), std=(0.2023, 0.1994, 0.2010), g_steps=30),
    "cifar100": dict(classes=100, mean=(0.5071, 0.4865, 0.4409), std=(0.2673, 0.2564, 0.2762), g_steps=40),
}
# Recipe for the fallback teacher (not part of NAYER; the usual CIFAR recipe):
# SGD lr 0.1, momentum 0.9, weight decay 5e-4, batch 128, cosine, crop+flip.
TEACHER_LR, TEACHER_WD, TEACHER_BATCH = 0.1, 5e-4, 128

class NayerError(Exception):
    """A problem the user can fix: main() prints the one-line message and exits with `code`."""
    def __init__(self, msg, code=2):
        super().__init__(msg)
        self.code = code

class OneLineParser(argparse.ArgumentParser):
    def error(self, message):  # argparse would print a 15-line usage block first
        print(f"nayer.py: error: {message} (see --help)", file=sys.stderr)
        raise SystemExit(2)

def parse_args(argv=None):
    p = OneLineParser(description="NAYER data-free knowledge distillation (CVPR 2024)")
    a = p.add_argument  # defaults: the authors' CIFAR scripts, unless the comment says otherwise
    # -- data, teacher, text encoder
    a("--dataset", default="cifar10", choices=list(DATASETS))
    a("--data-root", default="./data", help="torchvision CIFAR folder; downloaded if missing")
    a("--teacher", default="resnet34", choices=ARCHS)        # authors' CIFAR-10 script pair
    a("--student", default="resnet18", choices=ARCHS)
    a("--teacher-ckpt", default=None, help="default checkpoints/pretrained/{dataset}_{teacher}.pth")
    a("--train-teacher-epochs", type=int, default=200, help="only if the teacher file is missing")
    a("--text-encoder", default="clip-ViT-B-32", help="sentence-transformers name or folder (authors: CLIP ViT-B/32)")
    a("--prompt", default="a photo of {}", help="paper: 'a photo of {}'; authors' code: 'a image of {}'")
    a("--lte-file", default=None, help="saved (C, D) label-text table; no encoder needed")
    # -- generator (the paper's method section) and its ablation switches
    a("--generator-input", default="lte", choices=["lte", "onehot", "noise"], help="ablation: paper's generator inputs")
    a("--noisy-layer", default="on", choices=["on", "off"], help="off: plain Linear, never re-initialised")
    a("--flip", default="on", choices=["on", "off"], help="random horizontal flips (off for digits, text...)")
    a("--le-emb-size", type=int, default=1000)              # noisy layer width, authors' scripts
    # -- synthesis loss L = bn * L_bn + oh * L_oh + adv * L_adv (authors' CIFAR scripts)
    a("--bn", type=float, default=10.0)
    a("--oh", type=float, default=0.5)
    a("--adv", type=float, default=1.33)
    a("--bn-momentum", type=float, default=0.9, help="authors' EMA of batch statistics; 0 = DeepInversion")
    # -- schedule: 120 epochs = 20*10 + 100*2 = 400 rounds of 400 images = 160k images
    a("--epochs", type=int, default=120)                    # authors' scripts (also 220, 320)
    a("--warmup", type=int, default=20)                     # synthesis only, no L_adv, no KD
    a("--g-loops", type=int, default=2, help="synthesis rounds per epoch after warm-up")
    a("--warmup-g-loops", type=int, default=10)
    a("--g-steps", type=int, default=None, help="generator steps per round (30 cifar10, 40 cifar100)")
    a("--g-life", type=int, default=10, help="rebuild the generator every this many epochs")
    a("--synthesis-batch-size", type=int, default=400)
    a("--batch-size", type=int, default=512, help="KD batch")
    a("--kd-steps", type=int, default=400)
    # -- optimisers and distillation
    a("--lr", type=float, default=0.2)                      # student SGD, cosine to lr/1000
    a("--lr-g", type=float, default=4e-3)                   # generator Adam, betas (0.5, 0.999)
    a("--T", type=float, default=20.0)                      # KD temperature
    # -- run
    a("--eval-every", type=int, default=1)
    a("--out", default=None, help="default runs/{dataset}_{teacher}_{student}")
    a("--resume", action="store_true")
    a("--device", default="auto", choices=["auto", "cpu", "cuda"])
    a("--seed", type=int, default=0)
    a("--amp", action=argparse.BooleanOptionalAction, default=None, help="bf16 autocast (default: on for CUDA)")
    a("--compile", action="store_true", help="torch.compile student and KD teacher")
    a("--benchmark", type=int, default=0, metavar="N", help="time N rounds and N KD steps, then exit")
    args = p.parse_args(argv)
    # derived defaults, then every number checked here, before any long work starts
    spec = DATASETS[args.dataset]
    args.g_steps = args.g_steps if args.g_steps is not None else spec["g_steps"]
    args.teacher_ckpt = args.teacher_ckpt or f"checkpoints/pretrained/{args.dataset}_{args.teacher}.pth"
    args.out = args.out or f"runs/{args.dataset}_{args.teacher}_{args.student}"
    for name in ["epochs", "g_loops", "warmup_g_loops", "g_steps", "g_life", "synthesis_batch_size",
                 "batch_size", "kd_steps", "le_emb_size", "train_teacher_epochs", "eval_every"]:
        if getattr(args, name) <= 0:
            p.error(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    for name in ["T", "lr", "lr_g"]:
        if not getattr(args, name) > 0:
            p.error(f"--{name.replace('_', '-')} must be positive")
    if min(args.bn, args.oh, args.adv) < 0 or not 0 <= args.bn_momentum < 1:
        p.error("loss weights must be >= 0 and --bn-momentum in [0, 1)")
    if not 0 <= args.warmup < args.epochs:
        p.error(f"--warmup ({args.warmup}) must be >= 0 and smaller than --epochs ({args.epochs})")
    if args.synthesis_batch_size % spec["classes"]:
        p.error(f"--synthesis-batch-size must be a multiple of the {spec['classes']} classes (K-to-1 noisy layers)")
    return args

def seed_everything(seed):
    random.seed(seed); np.random.seed(seed); torch.manual_seed(seed)  # manual_seed seeds CUDA too

def use_amp(args, device):  # --amp / --no-amp, else bf16 autocast exactly when on CUDA
    return device.type == "cuda" if args.amp is None else args.amp

def pick_device(name):
    if name == "cuda" and not torch.cuda.is_available():
        raise NayerError("--device cuda but no CUDA device is visible: use --device cpu or auto")
    return torch.device("cuda" if name in ("auto", "cuda") and torch.cuda.is_available() else "cpu")


# ----------------------------------------------------------------------------- data and teacher
def load_cifar(name, root, train):
    """The real torchvision dataset as tensors: uint8 images (N, 3, 32, 32), labels, class names.
    Data-free: the test split is used for evaluation only, and the training split is read
    by `train_teacher` alone, when no teacher checkpoint exists."""
    import torchvision
    cls = torchvision.datasets.CIFAR10 if name == "cifar10" else torchvision.datasets.CIFAR100
    try:
        ds = cls(root, train=train, download=False)
    except (RuntimeError, OSError):  # missing, partial or damaged: try the download (fails offline)
        try:
            ds = cls(root, train=train, download=True)
        except Exception as e:
            raise NayerError(f"{name} not found in {os.path.join(root, cls.base_folder)} and the download "
                             f"failed ({type(e).__name__}): put the extracted python archive there") from None
    x = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()  # (N, H, W, 3) -> (N, 3, H, W)
    return x, torch.tensor(ds.targets), list(ds.classes)

def tensor_loader(x_uint8, y, mean, std, batch=1000):
    """Evaluation batches (normalised float images, labels); no workers, no transforms.
    10k CIFAR test images are 120 MB as floats: simpler and faster than a DataLoader."""
    x = (x_uint8.float() / 255 - torch.tensor(mean).view(1, -1, 1, 1)) / torch.tensor(std).view(1, -1, 1, 1)
    return [(x[i:i + batch], y[i:i + batch]) for i in range(0, len(y), batch)]

def shapes(sd):  # name -> shape; BN's step counter is optional in old checkpoints
    return {k: tuple(v.shape) for k, v in sd.items() if not k.endswith("num_batches_tracked")}

def identify(sd):
    """Which (arch, classes) a foreign state dict holds, for the error message; None if unknown."""
    head = [v for k, v in shapes(sd).items() if k in ("linear.weight", "fc.weight", "classifier.weight")]
    for arch in ARCHS if head else []:
        with torch.device("meta"):  # shapes only, no memory
            if shapes(build_model(arch, head[0][0]).state_dict()) == shapes(sd):
                return f"a {arch} with {head[0][0]} classes"
    return None

def load_checkpoint_into(model, path, arch, num_classes):
    """Load {'state_dict': ...} or a bare state dict strictly; one clear line on any mismatch."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise NayerError(f"cannot read checkpoint {path} ({type(e).__name__}): delete it to retrain, "
                         f"or point --teacher-ckpt at a valid .pth file") from None
    sd = obj.get("state_dict", obj) if isinstance(obj, dict) else None
    if not sd or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise NayerError(f"{path} holds no state dict (expected {{'state_dict': ...}} or a bare state dict)")
    sd = {k.removeprefix("module."): v for k, v in sd.items()}  # DataParallel checkpoints
    if shapes(model.state_dict()) != shapes(sd):
        found = identify(sd) or "an unknown architecture"
        raise NayerError(f"{path} holds {found}, not the {arch} with {num_classes} classes asked for: "
                         f"fix --teacher/--dataset or --teacher-ckpt")
    model.load_state_dict(sd, strict=True)

def train_teacher(model, x, y, args, mean, std, device, eval_loader, amp):
    """Fallback when no teacher file exists: plain supervised training on the real data.
    Not part of NAYER (the paper starts from given teachers); the data stays on the device
    as uint8 and each batch is augmented there, so this needs no DataLoader either."""
    print(f"!! no teacher at {args.teacher_ckpt}: training {args.teacher} for {args.train_teacher_epochs} "
          f"epochs on the REAL {args.dataset} training split (the only step that reads training data)", flush=True)
    opt = torch.optim.SGD(model.parameters(), lr=TEACHER_LR, momentum=0.9, weight_decay=TEACHER_WD)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.train_teacher_epochs)
    x, y = x.to(device), y.to(device)
    m, s = torch.tensor(mean, device=device).view(1, -1, 1, 1), torch.tensor(std, device=device).view(1, -1, 1, 1)
    for epoch in range(args.train_teacher_epochs):
        model.train(); t0 = time.time(); total = torch.zeros((), device=device)
        batches = torch.randperm(len(y), device=device).split(TEACHER_BATCH)
        for idx in batches:
            with torch.autocast(device.type, torch.bfloat16, enabled=amp):
                loss = F.cross_entropy(model(augment(x[idx].float() / 255, m, s)).float(), y[idx])
            opt.zero_grad(set_to_none=True); loss.backward(); opt.step(); total += loss.detach()
        sched.step()
        acc = evaluate(model, eval_loader, device, amp)
        print(f"teacher epoch {epoch + 1}/{args.train_teacher_epochs} loss {total.item() / len(batches):.3f} "
              f"test acc {acc:.2f}% ({time.time() - t0:.0f}s)", flush=True)
    Path(args.teacher_ckpt).parent.mkdir(parents=True, exist_ok=True)
    atomic_save({"state_dict": model.state_dict(), "acc": acc, "arch": args.teacher}, args.teacher_ckpt)
    print(f"saved teacher to {args.teacher_ckpt}")


# ----------------------------------------------------------------------------- models
# CIFAR variants (32x32 inputs). Parameter names follow the classic CIFAR code so that
# the checkpoint archive shared by the DFKD papers loads with strict=True.
class ResBlock(nn.Module):
    """BasicBlock: two 3x3 convs with BN, ReLU after the residual sum."""
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()  # identity, or 1x1 conv + BN when the shape changes
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(out + self.shortcut(x))

class ResNet(nn.Module):
    def __init__(self, blocks, num_classes, in_ch=3):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, 64, 3, 1, 1, bias=False)  # 3x3 stem, no max-pool (CIFAR)
        self.bn1 = nn.BatchNorm2d(64)
        cin, layers = 64, []
        for width, n, stride in zip([64, 128, 256, 512], blocks, [1, 2, 2, 2]):
            layers.append(nn.Sequential(*[ResBlock(cin if i == 0 else width, width, stride if i == 0 else 1)
                                          for i in range(n)]))
            cin = width
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.linear = nn.Linear(512, num_classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.linear(F.adaptive_avg_pool2d(x, 1).flatten(1))  # (B, 512, h, w) -> (B, 512)

class WideBlock(nn.Module):
    """Pre-activation block. Easy to get wrong: when the width changes, BN-ReLU is applied
    to the input first and that *activated* tensor feeds both conv1 and the 1x1 shortcut;
    when it does not, the raw input is the identity shortcut."""
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(cin), nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2, self.conv2 = nn.BatchNorm2d(cout), nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.equal = cin == cout
        self.convShortcut = None if self.equal else nn.Conv2d(cin, cout, 1, stride, bias=False)

    def forward(self, x):
        act = F.relu(self.bn1(x))
        out = self.conv2(F.relu(self.bn2(self.conv1(act))))
        return out + (x if self.equal else self.convShortcut(act))

class WideGroup(nn.Module):
    """(d-4)/6 blocks; the `.layer` wrapper only exists so that keys read `block1.layer.0...`."""
    def __init__(self, n, cin, cout, stride):
        super().__init__()
        self.layer = nn.Sequential(*[WideBlock(cin if i == 0 else cout, cout, stride if i == 0 else 1)
                                     for i in range(n)])

    def forward(self, x):
        return self.layer(x)

class WideResNet(nn.Module):
    def __init__(self, depth, k, num_classes, in_ch=3):
        super().__init__()
        n, w = (depth - 4) // 6, [16, 16 * k, 32 * k, 64 * k]
        self.conv1 = nn.Conv2d(in_ch, 16, 3, 1, 1, bias=False)
        self.block1, self.block2, self.block3 = (WideGroup(n, w[i], w[i + 1], s) for i, s in enumerate([1, 2, 2]))
        self.bn1, self.fc = nn.BatchNorm2d(w[3]), nn.Linear(w[3], num_classes)

    def forward(self, x):
        x = self.block3(self.block2(self.block1(self.conv1(x))))
        return self.fc(F.adaptive_avg_pool2d(F.relu(self.bn1(x)), 1).flatten(1))  # (B, 64k)

class VGG(nn.Module):
    """VGG-11 with BN: blocks [64] [128] [256,256] [512,512] [512,512], conv with bias."""
    def __init__(self, num_classes, in_ch=3):
        super().__init__()
        cin, blocks = in_ch, []
        for widths in [[64], [128], [256, 256], [512, 512], [512, 512]]:
            layers = []
            for w in widths:
                layers += [nn.Conv2d(cin, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
                cin = w
            blocks.append(nn.Sequential(*layers[:-1]))  # last ReLU applied in forward (keeps indices)
        self.block0, self.block1, self.block2, self.block3, self.block4 = blocks
        self.classifier = nn.Linear(512, num_classes)

    def forward(self, x):
        size = x.shape[-1]
        for i, block in enumerate([self.block0, self.block1, self.block2, self.block3, self.block4]):
            x = F.relu(block(x))
            if i < 3 or (i == 3 and size == 64):  # 2x2 max-pool after the first three blocks
                x = F.max_pool2d(x, 2)
        return self.classifier(F.adaptive_avg_pool2d(x, 1).flatten(1))

def build_model(name, num_classes, in_channels=3):
    """'resnet18', 'wrn40_2', ... -> a freshly initialised CIFAR network."""
    if name not in ARCHS:
        raise NayerError(f"unknown architecture {name!r}: choose one of {', '.join(ARCHS)}")
    if name.startswith("resnet"):
        return ResNet([2, 2, 2, 2] if name == "resnet18" else [3, 4, 6, 3], num_classes, in_channels)
    if name.startswith("wrn"):
        depth, k = map(int, name[3:].split("_"))
        return WideResNet(depth, k, num_classes, in_channels)
    return VGG(num_classes, in_channels)


# ----------------------------------------------------------------------------- label-text embedding (LTE)
def label_text_embeddings(class_names, encoder, prompt="a photo of {}"):
    """E[C, D]: one sentence per class through a frozen text encoder (name, folder or model).
    Embeddings are not normalised (as in the authors' code)."""
    if isinstance(encoder, (str, Path)):
        try:
            from sentence_transformers import SentenceTransformer  # optional heavy import, lazily
            encoder = SentenceTransformer(str(encoder), device="cpu")
        except Exception as e:
            raise NayerError(f"cannot load text encoder {encoder!r} ({type(e).__name__}): pass --text-encoder PATH "
                             f"to a local sentence-transformers folder, or --lte-file with a saved table") from None
    # "aquarium_fish" -> "a photo of aquarium fish" (CIFAR-100 names use underscores)
    sentences = [prompt.format(c.replace("_", " ").replace("-", " ")) for c in class_names]
    with torch.no_grad():
        return torch.as_tensor(encoder.encode(sentences, convert_to_numpy=True)).float()  # (C, D)

def lte_table(args, class_names, out_dir):
    """--lte-file, else the cache in the output folder, else encode (and cache).
    The table is computed once per run and never trained: after this, no text encoder is
    needed (a resumed run, or a machine without the encoder, reads the cache)."""
    if args.lte_file:
        try:
            table = torch.load(args.lte_file, map_location="cpu", weights_only=True)
            table = table["table"] if isinstance(table, dict) else table
        except Exception as e:
            raise NayerError(f"cannot read --lte-file {args.lte_file} ({type(e).__name__})") from None
        if not isinstance(table, torch.Tensor) or table.ndim != 2 or table.shape[0] != len(class_names):
            shape = tuple(getattr(table, "shape", ()))
            raise NayerError(f"--lte-file {args.lte_file} has shape {shape}, but {args.dataset} has "
                             f"{len(class_names)} classes: encode a table for these classes")
        return table.float()
    key = dict(encoder=str(args.text_encoder), prompt=args.prompt, classes=list(class_names))
    cache = Path(out_dir) / "lte.pt"
    if cache.exists():
        saved = torch.load(cache, map_location="cpu", weights_only=True)
        if {k: saved.get(k) for k in key} == key:
            return saved["table"]
    table = label_text_embeddings(class_names, args.text_encoder, args.prompt)
    cache.parent.mkdir(parents=True, exist_ok=True)
    atomic_save(dict(key, table=table), cache)
    return table


# ----------------------------------------------------------------------------- generator
class Generator(nn.Module):
    """LTE rows -> BN1d -> noisy layer (K-to-1) -> Linear -> conv decoder -> sigmoid image.

    K-to-1: the synthesis batch is [0..C-1] repeated K times; chunk i of C consecutive
    samples goes through noisy layer i. All K layers are one (K, D, E) weight and one
    batched matmul. Ablations (the paper's analysis): input 'onehot' (identity rows instead of
    the LTE) or 'noise' (a fresh Gaussian z per sample, as in earlier generators);
    noisy_layer=False keeps one ordinary Linear that is never re-initialised."""
    def __init__(self, lte, image_shape, n_noisy, le_emb_size=1000, ngf=64, gen_input="lte", noisy_layer=True):
        super().__init__()
        C, D = lte.shape
        ch, H, W = image_shape
        table = torch.eye(C) if gen_input == "onehot" else lte.detach().float().cpu().clone()
        self.register_buffer("table", table)  # constant input, never trained
        self.gen_input, self.noisy = gen_input, noisy_layer
        d = table.shape[1]
        self.in_bn = nn.BatchNorm1d(d)
        k = n_noisy if noisy_layer else 1
        self.noisy_w = nn.Parameter(torch.empty(k, d, le_emb_size))
        self.noisy_b = nn.Parameter(torch.zeros(k, le_emb_size))
        if not noisy_layer:  # plain Linear: PyTorch's default uniform init, kept for good
            nn.init.uniform_(self.noisy_w, -d ** -0.5, d ** -0.5); nn.init.uniform_(self.noisy_b, -d ** -0.5, d ** -0.5)
        self.new_round()
        # decoder: a (2*ngf, H/4, W/4) map, upsampled twice to (ch, H, W); sizes come
        # from the data (32x32x3 for CIFAR, 8x8x1 for the digits test)
        self.h0, self.w0, self.c0 = H // 4, W // 4, 2 * ngf
        self.fc = nn.Linear(le_emb_size, self.c0 * self.h0 * self.w0)
        self.decoder = nn.Sequential(
            nn.BatchNorm2d(self.c0), nn.Upsample(scale_factor=2),
            nn.Conv2d(self.c0, self.c0, 3, 1, 1, bias=False), nn.BatchNorm2d(self.c0), nn.LeakyReLU(0.2),
            nn.Upsample(scale_factor=2),
            nn.Conv2d(self.c0, ngf, 3, 1, 1, bias=False), nn.BatchNorm2d(ngf), nn.LeakyReLU(0.2),
            nn.Conv2d(ngf, ch, 3, 1, 1), nn.Sigmoid())

    @torch.no_grad()
    def new_round(self):
        """EASY TO MISS: the noisy layers get fresh N(0,1) weights and zero bias before
        every synthetic batch; this is where NAYER's diversity comes from."""
        if self.noisy:
            self.noisy_w.normal_(0, 1); self.noisy_b.zero_()

    def forward(self, targets):
        B = targets.shape[0]
        if self.gen_input == "noise":
            e = torch.randn(B, self.table.shape[1], device=targets.device)  # (B, D)
        else:
            e = self.table[targets]                                          # (B, D)
        h = self.in_bn(e)  # batch statistics over the [0..C-1]*K rows: a fixed affine map of the LTE
        K = self.noisy_w.shape[0]
        h = torch.bmm(h.view(K, B // K, -1), self.noisy_w) + self.noisy_b[:, None]  # (K, B/K, E)
        h = self.fc(h.reshape(B, -1))                                        # (B, E) -> (B, c0*h0*w0)
        return self.decoder(h.view(B, self.c0, self.h0, self.w0))            # (B, ch, H, W) in [0, 1]


# ----------------------------------------------------------------------------- losses
class BNStatLoss:
    """L_bn = sum_l ||mu_l(x) - mu_l||_2 + ||var_l(x) - var_l||_2 over the teacher's BN2d
    layers (DeepInversion), from forward hooks on their inputs, in fp32.
    Authors' momentum m: after each round keep an EMA of the last batch statistics,
    ema <- m*ema + (1-m)*last, and compare the running stats with (1-m)*cur + m*ema.
    Hooks are attached only inside `with loss.attached():`, i.e. only during synthesis."""
    def __init__(self, teacher, momentum):
        self.layers = [m for m in teacher.modules() if isinstance(m, nn.BatchNorm2d)]
        if not self.layers:
            raise NayerError("the teacher has no BatchNorm2d layer: NAYER's L_bn needs its running statistics")
        self.momentum, self.terms = momentum, []  # terms: one per BN layer, filled by the hooks
        self.ema, self.last = [None] * len(self.layers), [None] * len(self.layers)  # (mean, var) per layer

    def _hook(self, i):
        def hook(module, inputs, output):
            var, mean = torch.var_mean(inputs[0].float(), dim=(0, 2, 3), correction=0)  # (C,), (C,)
            self.last[i] = (mean.detach(), var.detach())
            if self.ema[i] is not None and self.momentum > 0:
                m = self.momentum
                mean, var = (1 - m) * mean + m * self.ema[i][0], (1 - m) * var + m * self.ema[i][1]
            self.terms.append(torch.linalg.vector_norm(mean - module.running_mean)
                              + torch.linalg.vector_norm(var - module.running_var))
        return hook

    @contextlib.contextmanager
    def attached(self):
        handles = [m.register_forward_hook(self._hook(i)) for i, m in enumerate(self.layers)]
        try:
            yield
        finally:  # never left behind: KD and evaluation run without hooks
            for h in handles:
                h.remove()

    def pop(self):
        """The loss of the last teacher forward pass."""
        loss, self.terms = torch.stack(self.terms).sum(), []
        return loss

    def end_round(self):
        m = self.momentum
        self.ema = [last if ema is None else (m * ema[0] + (1 - m) * last[0], m * ema[1] + (1 - m) * last[1])
                    for ema, last in zip(self.ema, self.last)]

# L_oh = CE(teacher(x), y): plain F.cross_entropy on the teacher logits (in synthesize_round).

def adv_loss(s_logits, t_logits):
    """L_adv = -(1/B) sum_b 1[argmax s_b == argmax t_b] * KL(p_t,b || p_s,b), T = 1.
    Maximises the disagreement only where the student still agrees with the teacher."""
    s, t = s_logits.float(), t_logits.float()
    mask = (s.argmax(1) == t.argmax(1)).float()                                          # (B,)
    kl = (F.softmax(t, 1) * (F.log_softmax(t, 1) - F.log_softmax(s, 1))).sum(1)          # (B,)
    return -(kl * mask).mean()

def kd_loss(s_logits, t_logits, T):
    """L_kd = T^2 * (1/B) sum_b KL(softmax(t_b/T) || softmax(s_b/T))."""
    s, t = s_logits.float(), t_logits.float()
    return F.kl_div(F.log_softmax(s / T, 1), F.softmax(t / T, 1), reduction="batchmean") * T * T


# ----------------------------------------------------------------------------- synthesis
def crop_flip(x, dy, dx, flip, pad):
    """Per-sample crop (offsets dy, dx in [0, 2*pad] of the zero-padded image) then
    horizontal flip, as one gather: x (B, C, H, W) -> (B, C, H, W). Differentiable."""
    B, C, H, W = x.shape
    xp = F.pad(x, (pad, pad, pad, pad))                                                  # (B, C, H+2p, W+2p)
    rows = dy[:, None] + torch.arange(H, device=x.device)                                # (B, H)
    cols = torch.arange(W, device=x.device).expand(B, W)
    cols = torch.where(flip[:, None], W - 1 - cols, cols) + dx[:, None]                  # (B, W)
    b = torch.arange(B, device=x.device)[:, None, None]
    return xp[b, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)              # (B, H, W, C) -> (B, C, H, W)

def augment(x, mean, std, flip=True):
    """Random crop (pad = side/8: 4 for 32 px) + flip, then normalise. All on the device.
    Used on the generator output during synthesis (gradients flow through it to G) and on
    bank images during KD, as the authors' crop+flip transforms, but batched."""
    B, pad = x.shape[0], x.shape[-1] // 8
    dy, dx = (torch.randint(0, 2 * pad + 1, (B,), device=x.device) for _ in range(2))
    flips = torch.rand(B, device=x.device) < (0.5 if flip else 0.0)
    x = crop_flip(x, dy, dx, flips, pad) if pad else x
    return (x - mean) / std

def synthesize_round(G, teacher, student, bn_loss, targets, args, mean, std, use_adv, amp):
    """One NAYER round: fresh noisy layers and Adam, g_steps updates, return the batch
    (pre-update images) of the step with the lowest L, and per-term loss sums.
    L = bn * L_bn + oh * L_oh + adv * L_adv (the paper's total loss, authors' weights)."""
    G.new_round()  # <- noisy-layer re-init, every round
    opt = torch.optim.Adam(G.parameters(), lr=args.lr_g, betas=(0.5, 0.999))
    best_loss, best_x = torch.full((), float("inf"), device=targets.device), None
    sums = torch.zeros(4, device=targets.device)  # bn, oh, adv, total (read once an epoch)
    dev = targets.device.type
    with bn_loss.attached():
        for _ in range(args.g_steps):
            with torch.autocast(dev, torch.bfloat16, enabled=amp):
                x = G(targets).float()                            # (B, ch, H, W) in [0, 1]
                xa = augment(x, mean, std, args.flip == "on")
                t_logits = teacher(xa)                            # teacher: eval, frozen; hooks fire
                l_bn, l_oh = bn_loss.pop(), F.cross_entropy(t_logits.float(), targets)
                # student: eval mode and frozen here, so its BN running stats are not
                # polluted and no weight gradients are built (authors: train mode)
                l_adv = adv_loss(student(xa), t_logits) if use_adv else torch.zeros((), device=x.device)
            loss = args.bn * l_bn + args.oh * l_oh + args.adv * l_adv
            # keep the batch whose loss was lowest. `x` is the pre-update batch that this
            # loss was measured on. Done with torch.where on the device: no .item(), no
            # host sync per step (a GPU would otherwise wait for the CPU every step)
            better = loss.detach() < best_loss
            best_x = x.detach() if best_x is None else torch.where(better, x.detach(), best_x)
            best_loss = torch.where(better, loss.detach(), best_loss)
            sums += torch.stack([l_bn, l_oh, l_adv, loss]).detach()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    bn_loss.end_round()  # the authors' momentum: fold this round's last statistics into the EMA
    return best_x, sums


# ----------------------------------------------------------------------------- distillation
def to_uint8(x):
    """[0, 1] images -> uint8 for the bank: 8 bits, as the authors' PNG files."""
    return (x * 255).round().to(torch.uint8)

def sample_bank(bank, n, batch):
    """A batch drawn with replacement from the n filled rows of the bank, as [0, 1] floats."""
    return bank[torch.randint(0, n, (batch,), device=bank.device)].float() / 255

def kd_step(student, teacher, opt, bank, n, args, mean, std, amp):
    """One KD step on a batch from the whole in-memory bank (no loader, no host copy).
    Teacher and student see the same augmented images; only the student learns."""
    x = augment(sample_bank(bank, n, args.batch_size), mean, std, args.flip == "on")
    with torch.autocast(bank.device.type, torch.bfloat16, enabled=amp):
        with torch.no_grad():
            t_logits = teacher(x)
        loss = kd_loss(student(x), t_logits, args.T)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.detach()

def atomic_save(obj, path):
    tmp = f"{path}.tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)  # a crash mid-write never leaves a half checkpoint

def check_out_dir(out_dir, resume):
    """Never silently overwrite a run, never silently start afresh when asked to resume."""
    ckpt = Path(out_dir) / "checkpoint.pt"
    if resume and not ckpt.exists():
        raise NayerError(f"--resume: nothing to resume in {out_dir} (no checkpoint.pt): drop --resume to start")
    if not resume and ckpt.exists():
        raise NayerError(f"{out_dir} already holds a run (checkpoint.pt): add --resume to continue it "
                         f"or pick another --out")

def rng_state():  # only tensors and plain types, so checkpoints load with weights_only=True
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    return dict(python=random.getstate(), numpy=(kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss),
                torch=torch.get_rng_state(), cuda=torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [])

def set_rng_state(s):
    kind, keys, pos, has_gauss, gauss = s["numpy"]
    random.setstate(s["python"]); torch.set_rng_state(s["torch"])
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    if s["cuda"]:
        torch.cuda.set_rng_state_all(s["cuda"])

def save_grid(batch, num_classes, path, per_class=8):
    """One row per class, a few samples each, from a synthetic batch ordered [0..C-1]*K."""
    from torchvision.utils import save_image
    K = batch.shape[0] // num_classes
    grid = batch.view(K, num_classes, *batch.shape[1:]).transpose(0, 1)[:, :per_class]  # (C, k, ch, H, W)
    save_image(grid.reshape(-1, *batch.shape[1:]).float().cpu(), path, nrow=grid.shape[1])

def distill(teacher, student, lte, args, *, image_shape, mean, std, eval_loader=None, out_dir=None):
    """The whole NAYER schedule for any BN classifier pair; returns (student, history).

    Each epoch: synthesis rounds (warm-up: warmup_g_loops rounds with L_bn + L_oh; after:
    g_loops rounds with L_adv too), every kept batch appended to the bank, then (after
    warm-up) kd_steps KD steps on the whole bank, one cosine LR step, evaluation, a line
    of metrics and a checkpoint. Host syncs: two per epoch (marked), plus evaluation and
    the checkpoint; none inside the synthesis or KD steps."""
    device = pick_device(args.device)
    amp = use_amp(args, device)
    C, (ch, H, W), B = lte.shape[0], image_shape, args.synthesis_batch_size
    if H % 4 or W % 4:
        raise NayerError(f"image size {H}x{W}: the generator upsamples twice, so both sides must be multiples of 4")
    if B % C:
        raise NayerError(f"--synthesis-batch-size {B} must be a multiple of the {C} classes")
    if out_dir is None and args.resume:
        raise NayerError("--resume needs an output folder (out_dir) to resume from")
    if out_dir is not None:
        check_out_dir(out_dir, args.resume); Path(out_dir).mkdir(parents=True, exist_ok=True)
    fmt = torch.channels_last if device.type == "cuda" else torch.contiguous_format
    teacher = teacher.to(device, memory_format=fmt).eval().requires_grad_(False)  # frozen for good
    student = student.to(device, memory_format=fmt)
    mean, std = (torch.tensor(v, device=device).view(1, -1, 1, 1) for v in (mean, std))
    targets = torch.arange(C, device=device).repeat(B // C)  # [0..C-1] * K, hard labels
    bn_loss = BNStatLoss(teacher, args.bn_momentum)
    new_generator = lambda: Generator(lte, image_shape, B // C, args.le_emb_size, gen_input=args.generator_input,
                                      noisy_layer=args.noisy_layer == "on").to(device, memory_format=fmt)
    G = new_generator()
    opt = torch.optim.SGD(student.parameters(), lr=args.lr, momentum=0.9, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.epochs - args.warmup, eta_min=args.lr * 1e-3)
    # the bank: every kept batch, on the device, as uint8 (the authors' PNGs are 8-bit
    # too); preallocated for the whole schedule: 160k CIFAR images = 0.5 GB
    rounds = args.warmup * args.warmup_g_loops + (args.epochs - args.warmup) * args.g_loops
    bank, n = torch.empty((rounds * B, ch, H, W), dtype=torch.uint8, device=device), 0
    kd_student, kd_teacher = (torch.compile(m) if args.compile else m for m in (student, teacher))
    start, history, ckpt = 0, [], out_dir and Path(out_dir) / "checkpoint.pt"

    def checkpoint(epoch):
        atomic_save(dict(epoch=epoch, student=student.state_dict(), generator=G.state_dict(), opt=opt.state_dict(),
                         sched=sched.state_dict(), bank=bank[:n].cpu(), bn_ema=bn_loss.ema, history=history,
                         rng=rng_state(), args=vars(args)), ckpt)

    if args.resume and ckpt:  # same bank, optimiser, schedule, generator, EMA and RNG
        state = torch.load(ckpt, map_location="cpu", weights_only=True)
        start, history, n = state["epoch"], state["history"], len(state["bank"])
        if n > len(bank):
            raise NayerError(f"{ckpt} holds {n} synthetic images, more than this schedule makes: resume with "
                             f"the --epochs/--warmup/--g-loops it was started with")
        try:
            student.load_state_dict(state["student"]); G.load_state_dict(state["generator"])
        except RuntimeError:
            raise NayerError(f"{ckpt} was written by another configuration: resume with its options "
                             f"(see {out_dir}/config.json) or pick another --out") from None
        opt.load_state_dict(state["opt"]); sched.load_state_dict(state["sched"]); bank[:n] = state["bank"].to(device)
        bn_loss.ema = [e if e is None else tuple(t.to(device) for t in e) for e in state["bn_ema"]]
        set_rng_state(state["rng"])
        print(f"resumed {ckpt} at epoch {start}, bank {n} images")
    if out_dir is not None:
        (Path(out_dir) / "config.json").write_text(json.dumps(vars(args), indent=1))
        (Path(out_dir) / "metrics.jsonl").write_text("".join(json.dumps(h) + "\n" for h in history))
        if not args.resume:
            checkpoint(0)  # so that an interrupt in the very first epoch can be resumed
    stop = []  # SIGINT/SIGTERM: finish the current KD step or synthesis round, then stop
    handlers = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            handlers[sig] = signal.signal(sig, lambda signum, frame: stop.append(signum))
        except ValueError:  # not the main thread: leave signals alone
            pass

    def interrupted(epoch):  # the partial epoch is dropped: resuming mid-round could not be exact
        if stop and ckpt:
            raise NayerError(f"interrupted in epoch {epoch + 1}; {ckpt} holds the run after {epoch} epochs: "
                             f"rerun the same command with --resume to continue", code=130)
        if stop:
            raise NayerError(f"interrupted in epoch {epoch + 1} (no output folder, nothing saved)", code=130)

    try:
        for epoch in range(start, args.epochs):
            interrupted(epoch)  # a signal during the last evaluation or checkpoint
            warm = epoch < args.warmup  # warm-up: the generator learns the teacher first
            if epoch % args.g_life == 0 and epoch > 0:
                G = new_generator()  # whole generator rebuilt every g_life epochs
            t0, lr = time.time(), opt.param_groups[0]["lr"]
            sums, kd_sum = torch.zeros(4, device=device), torch.zeros((), device=device)
            student.eval().requires_grad_(False)  # serves only L_adv during synthesis
            n_rounds = args.warmup_g_loops if warm else args.g_loops
            for _ in range(n_rounds):
                x, round_sums = synthesize_round(G, teacher, student, bn_loss, targets, args, mean, std, not warm, amp)
                bank[n:n + B] = to_uint8(x); n += B
                sums += round_sums
                interrupted(epoch)
            if device.type == "cuda":
                torch.cuda.synchronize()  # sync point 1 of 2 an epoch: honest timing
            t1 = time.time()
            student.train().requires_grad_(True)  # back to learning
            if not warm:
                for _ in range(args.kd_steps):
                    kd_sum += kd_step(kd_student, kd_teacher, opt, bank, n, args, mean, std, amp)
                    interrupted(epoch)
                sched.step()
            # epoch means of the losses: (bn, oh, adv, total) per generator step, kd per KD step
            losses = (torch.cat([sums / (n_rounds * args.g_steps), kd_sum[None] / args.kd_steps])).tolist()  # sync 2
            t2 = time.time()
            for name, v in zip(["bn", "oh", "adv", "g", "kd"], losses):
                if not math.isfinite(v):  # stop before anything overwrites the last good checkpoint
                    raise NayerError(f"loss_{name} is {v} in epoch {epoch + 1}; the checkpoint of epoch {epoch} is "
                                     f"kept: lower --lr/--lr-g or the loss weights", code=1)
            do_eval = not warm and eval_loader is not None and ((epoch + 1) % args.eval_every == 0
                                                                or epoch + 1 == args.epochs)
            acc = evaluate(kd_student, eval_loader, device, amp) if do_eval else None
            rec = dict(epoch=epoch + 1, phase="warmup" if warm else "kd", loss_bn=losses[0], loss_oh=losses[1],
                       loss_adv=losses[2], loss_g=losses[3], loss_kd=losses[4] if not warm else None, acc=acc,
                       lr=lr, bank=n, sec_synth=t1 - t0, sec_kd=t2 - t1,
                       ips_synth=n_rounds * B / (t1 - t0), ips_kd=args.kd_steps * args.batch_size / (t2 - t1)
                       if not warm else None)
            history.append(rec)
            print(f"epoch {epoch + 1}/{args.epochs} {rec['phase']:6s} bn {losses[0]:.3f} oh {losses[1]:.3f} "
                  f"adv {losses[2]:.3f} kd {losses[4]:.3f} | acc {'-' if acc is None else f'{acc:.2f}%'} | "
                  f"synth {t1 - t0:.1f}s ({rec['ips_synth']:.0f} img/s) kd {t2 - t1:.1f}s | bank {n}", flush=True)
            if out_dir is not None:
                with open(Path(out_dir) / "metrics.jsonl", "a") as f:
                    f.write(json.dumps(rec) + "\n")
                if acc is not None:
                    save_grid(bank[n - B:n].float() / 255, C, Path(out_dir) / f"samples_epoch{epoch + 1:03d}.png")
                checkpoint(epoch + 1)
    finally:
        for sig, h in handlers.items():
            signal.signal(sig, h)
    return student, history


# ----------------------------------------------------------------------------- evaluation
@torch.no_grad()
def evaluate(model, loader, device, amp=False):
    """Top-1 accuracy (%) over (normalised images, labels) batches; one host sync at the end."""
    model.eval()
    correct, total = torch.zeros((), device=device), 0
    for x, y in loader:
        with torch.autocast(device.type, torch.bfloat16, enabled=amp):
            correct += (model(x.to(device)).argmax(1) == y.to(device)).sum()
        total += len(y)
    return 100.0 * correct.item() / total

def benchmark(args, device):
    """Images/s of synthesis and KD at the configured batch sizes, random weights, no data.
    It is `distill` itself for 3 epochs: one warm-up round, then N rounds + N KD steps
    twice (the first pass warms up cuDNN autotuning and --compile), the second timed."""
    spec, N = DATASETS[args.dataset], args.benchmark
    bench = argparse.Namespace(**{**vars(args), "epochs": 3, "warmup": 1, "warmup_g_loops": 1, "g_loops": N,
                                  "kd_steps": N, "resume": False})
    teacher, student = build_model(args.teacher, spec["classes"]), build_model(args.student, spec["classes"])
    _, history = distill(teacher, student, torch.randn(spec["classes"], 512), bench, image_shape=(3, 32, 32),
                         mean=spec["mean"], std=spec["std"])
    h, B = history[-1], args.synthesis_batch_size
    res = dict(synth_img_s=h["ips_synth"], gen_img_s=h["ips_synth"] * args.g_steps, kd_img_s=h["ips_kd"],
               amp=use_amp(args, device), device=str(device))
    res["epoch_s"] = args.g_loops * B / res["synth_img_s"] + args.kd_steps * args.batch_size / res["kd_img_s"]
    if device.type == "cuda":
        res["peak_mem_gib"] = torch.cuda.max_memory_allocated() / 2 ** 30
    print(f"benchmark {args.teacher}->{args.student} on {device} (amp {res['amp']}, "
          f"threads {torch.get_num_threads()}): "
          f"synthesis {res['synth_img_s']:.1f} bank img/s ({res['gen_img_s']:.0f} generator img/s, batch {B}, "
          f"{args.g_steps} steps); KD {res['kd_img_s']:.0f} img/s (batch {args.batch_size}); one post-warm-up epoch "
          f"({args.g_loops} rounds + {args.kd_steps} KD steps) ~ {res['epoch_s']:.1f}s"
          + (f"; peak memory {res['peak_mem_gib']:.2f} GiB" if "peak_mem_gib" in res else ""))
    return res


# ----------------------------------------------------------------------------- main
def run(args):
    """The CLI job: data, teacher, LTE, then `distill`; returns the summary dict."""
    seed_everything(args.seed)
    device = pick_device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    print("config: " + " ".join(f"{k}={v}" for k, v in vars(args).items()), flush=True)
    if args.benchmark:
        return benchmark(args, device)
    check_out_dir(args.out, args.resume)  # before any long work
    spec = DATASETS[args.dataset]
    amp = use_amp(args, device)
    # the test split: evaluation only, and the class names for the label-text embedding
    x_test, y_test, classes = load_cifar(args.dataset, args.data_root, train=False)
    eval_loader = tensor_loader(x_test, y_test, spec["mean"], spec["std"])
    teacher = build_model(args.teacher, spec["classes"]).to(device)
    if os.path.exists(args.teacher_ckpt):  # the usual case: a given, trained teacher
        load_checkpoint_into(teacher, args.teacher_ckpt, args.teacher, spec["classes"])
    else:
        x_train, y_train, _ = load_cifar(args.dataset, args.data_root, train=True)
        train_teacher(teacher, x_train, y_train, args, spec["mean"], spec["std"], device, eval_loader, amp)
    t_acc = evaluate(teacher, eval_loader, device, amp)
    print(f"teacher {args.teacher}: test accuracy {t_acc:.2f}%", flush=True)
    lte = lte_table(args, classes, args.out)
    print(f"label-text embedding: {tuple(lte.shape)} ({args.lte_file or args.text_encoder}, prompt {args.prompt!r})")
    seed_everything(args.seed)  # same start whether the teacher was trained or loaded
    student = build_model(args.student, spec["classes"])
    student, history = distill(teacher, student, lte, args, image_shape=(3, 32, 32), mean=spec["mean"],
                               std=spec["std"], eval_loader=eval_loader, out_dir=args.out)
    accs = [h["acc"] for h in history if h["acc"] is not None]
    summary = dict(teacher_acc=t_acc, final_acc=accs[-1] if accs else None,
                   best_acc_on_test=max(accs) if accs else None, epochs=args.epochs, out=args.out)
    torch.save({"state_dict": student.state_dict(), "arch": args.student, "acc": summary["final_acc"]},
               Path(args.out) / "student.pth")
    (Path(args.out) / "summary.json").write_text(json.dumps(summary, indent=1))
    print(f"final student test accuracy {summary['final_acc']:.2f}% (teacher {t_acc:.2f}%; best over epochs "
          f"{summary['best_acc_on_test']:.2f}%, chosen on test data, not a fair number)", flush=True)
    return summary

def main(argv=None):
    """Entry point; errors the user can fix become one line on stderr and an exit code."""
    args = parse_args(argv)
    try:
        return run(args)
    except NayerError as e:
        print(f"nayer.py: {'error: ' if e.code != 130 else ''}{e}", file=sys.stderr)
        raise SystemExit(e.code)
    except KeyboardInterrupt:  # before distillation started (data, teacher, encoder): nothing to save
        print("nayer.py: interrupted before distillation started; nothing was saved", file=sys.stderr)
        raise SystemExit(130)

if __name__ == "__main__":
    main()
