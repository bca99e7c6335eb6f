r"""NAYER: data-free knowledge distillation with noisy-layer data generation.

Paper: M.-T. Tran, T. Le, X.-M. Le, M. Harandi, Q. H. Tran, D. Phung, "NAYER: Noisy Layer Data
Generation for Efficient and Effective Data-free Knowledge Distillation", CVPR 2024,
https://arxiv.org/abs/2310.00258

The idea. A trained teacher is given, its training data is not. A generator G makes images the
teacher finds typical (its BatchNorm statistics match, it is sure of the intended class) and,
after a warm-up, images on which the student can still be pushed away from the teacher; the
student is distilled on a growing memory bank M of those images. NAYER's two changes to earlier
generators: the input is a constant label-text embedding e_y ("a photo of a cat" through a frozen
text encoder) instead of random noise, and the randomness lives in a *noisy layer* Z right after
e_y, re-initialised before every synthetic batch: G starts from meaningful inputs, needs few steps.

The procedure, as `distill` runs it (symbols as in the paper's method figure):
    every epoch:
        if epoch = 0 or epoch = warmup (mod g_life), the authors' rule: rebuild G from scratch
        repeat for warmup_g_loops rounds (warm-up) or g_loops rounds (after):
            re-initialise Z;  x = G(Z(e_y)) for the labels y = [0..C-1] * K
            g_steps Adam steps on L_G = alpha*L_BN + beta*L_OH + gamma*L_ADV (no L_ADV in warm-up)
            append the x of the step with the lowest L_G to M
        after warm-up: kd_steps SGD steps of the student S on L_KD over M, one cosine step
The method comes first, every knob in `NayerConfig`: up to the NOT THE METHOD banner, a whole
NAYER that runs alone (README: "Copy it"); then backbones, data, teacher, run folder, CLI.
Commands (README.md: what each gives and costs, our results, the paper-to-code map):
    python nayer.py --dataset cifar10        # the paper's CIFAR-10 run (ResNet-34 -> ResNet-18)
    python nayer.py --dataset tiny_imagenet  # the paper's Tiny-ImageNet run (the same pair, 64 px)
    python nayer.py --help                   # every option; README: a CPU recipe (~40 min)
With no teacher file it is first trained on the real training split (the only use of training
data). Expect a line an epoch, test accuracy climbing towards the teacher's: 70.20 % (CIFAR-100
WRN-40-2 -> WRN-16-2, 120 epochs) in about 2.1 GPU-hours, the authors report.
"""
import collections.abc, contextlib, dataclasses, time, types
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

class NayerError(Exception):
    """A problem the user can fix, in one line naming the fix; only `main` exits on it (`code`)."""
    code = 2

# ==================================================================== THE METHOD: every knob, typed
@dataclasses.dataclass
class NayerConfig:
    """The method's knobs; defaults: the authors' CIFAR-10 script. The CLI fills it from its
    options and its per-data-set table (CIFAR-100: g_steps 40; Tiny-ImageNet: other values)."""
    epochs: int = 120  # in all, warm-up included
    warmup: int = 20  # warm-up epochs: synthesis only, no L_ADV, no KD
    warmup_g_loops: int = 10  # synthesis rounds per warm-up epoch
    g_loops: int = 2  # synthesis rounds per epoch after warm-up
    g_steps: int = 30  # generator steps per round (CIFAR-100: 40)
    g_life: int = 10  # G rebuilt at epochs e = 0 or e = warmup (mod g_life)
    synthesis_batch_size: int = 400  # K copies of the C classes (K-to-1)
    batch_size: int = 512  # KD batch, drawn from M
    kd_steps: int = 400  # student steps per epoch after warm-up
    lr: float = 0.2  # student SGD (momentum 0.9, wd 1e-4), cosine to lr/1000
    lr_g: float = 4e-3  # generator Adam (0.5, 0.999), a fresh one every round
    T: float = 20.0  # KD temperature of L_KD
    bn: float = 10.0  # alpha, weight of L_BN
    oh: float = 0.5  # beta, weight of L_OH
    adv: float = 1.33  # gamma, weight of L_ADV
    bn_momentum: float = 0.9  # m, EMA of L_BN's batch statistics over rounds (0: DeepInversion)
    le_emb_size: int = 1000  # E, the output width of each noisy layer Z
    ngf: int = 64  # G's convolution width (its first map has 2*ngf channels)
    generator_input: str = "lte"  # "lte" (e_y); ablations: "onehot", "noise"
    noisy_layer: bool = True  # off (False): one plain Linear, never re-initialised (ablation)
    flip: str = "on"  # random flips in synthesis and KD; "kd": in KD only; "off"
    amp: bool = False  # bf16 autocast (losses in fp32); ours, not the paper's
    eval_every: int = 1  # test accuracy every N post-warm-up epochs and at the end; ours
    def check(self, C, image_shape):
        """Every number, before any work; errors name the parameter."""
        weights = ("warmup", "bn", "oh", "adv", "bn_momentum")  # may be 0
        for name, v in dataclasses.asdict(self).items():  # sizes, steps, rates: positive
            if type(v) in (int, float) and name not in weights and not v > 0:
                raise NayerError(f"`{name}` must be positive, got {v}")
        if min(self.bn, self.oh, self.adv) < 0 or not 0 <= self.bn_momentum < 1:
            raise NayerError("`bn`, `oh`, `adv` must be >= 0 and `bn_momentum` in [0, 1)")
        if not 0 <= self.warmup < self.epochs:
            raise NayerError(f"`warmup` ({self.warmup}) must be >= 0 and below `epochs`")
        if self.synthesis_batch_size % C:  # K-to-1: the batch is [0..C-1] repeated K times
            raise NayerError(f"`synthesis_batch_size` ({self.synthesis_batch_size}) must be a "
                             f"multiple of the {C} classes (K copies of each)")
        if image_shape[1] % 4 or image_shape[2] % 4:  # G upsamples an (H/4, W/4) map twice
            raise NayerError(f"`image_shape` {tuple(image_shape)}: H, W must be multiples of 4")

# ================================================================= THE METHOD: label-text embedding
def label_text_embeddings(class_names, encoder, prompt="a photo of {}"):
    r"""The LTE table (C, D): row y is $e_y$, class y's sentence through a frozen text encoder (a
    sentence-transformers model, its name or folder; the paper: CLIP ViT-B/32's text tower)."""
    if isinstance(encoder, (str, Path)):
        try:
            from sentence_transformers import SentenceTransformer  # heavy: imported lazily
            encoder = SentenceTransformer(str(encoder), device="cpu")
        except Exception as e:
            raise NayerError(f"cannot load text encoder {str(encoder)!r} ({type(e).__name__}): "
                             f"pass a local sentence-transformers folder as `text_encoder`, or "
                             f"a saved (C, D) table as `lte_file`") from None
    # "aquarium_fish" -> "a photo of aquarium fish" (CIFAR-100 names use underscores)
    names = [c.replace("_", " ").replace("-", " ") for c in class_names]
    sentences = [prompt.format(name) for name in names]
    e = encoder.encode(sentences, convert_to_numpy=True)  # no gradients: a constant input of G
    return torch.as_tensor(e).float()  # (C, D)

# ---------------------------------------------------------------------------------------- generator
class Generator(nn.Module):
    r"""G: $e_y$ -> BN1d -> noisy layer Z -> Linear -> conv decoder -> sigmoid image.
    K-to-1: the batch is the labels [0..C-1] repeated K times; chunk k of C consecutive samples
    goes through its own noisy layer $Z_k$ (one (K, D, E) weight `noisy_w`, one batched matmul).
    Ablations (the paper's analysis): input 'onehot' (identity rows instead of $e_y$) or 'noise'
    (a fresh Gaussian z per sample); noisy_layer=False: one plain Linear, never re-initialised.
        >>> G = Generator(torch.randn(10, 384), image_shape=(3, 32, 32), n_noisy=2)  # (C, D)
        >>> y = torch.arange(10).repeat(2)  # [0..9] * K, K = 2
        >>> G.new_round()                   # a fresh Z: before every batch
        >>> x = G(y)
        >>> x.shape, bool(x.min() >= 0), bool(x.max() <= 1)
        (torch.Size([20, 3, 32, 32]), True, True)
    """
    def __init__(self, lte, image_shape, n_noisy, le_emb_size=1000, ngf=64, gen_input="lte",
                 noisy_layer=True):
        super().__init__()
        (C, _), (ch, H, W) = lte.shape, image_shape
        table = lte.detach().float().cpu().clone()
        if gen_input == "onehot":
            table = torch.eye(C)
        self.register_buffer("table", table)  # the e_y rows: a constant input, never trained
        self.gen_input, self.noisy, self.checked_y = gen_input, noisy_layer, None
        D, K = table.shape[1], n_noisy if noisy_layer else 1
        self.in_bn = nn.BatchNorm1d(D)
        self.noisy_w = nn.Parameter(torch.empty(K, D, le_emb_size))  # Z: K layers of D -> E
        self.noisy_b = nn.Parameter(torch.zeros(K, le_emb_size))
        if not noisy_layer:  # a plain Linear: PyTorch's default uniform init, kept for good
            nn.init.uniform_(self.noisy_w, -D ** -0.5, D ** -0.5)
            nn.init.uniform_(self.noisy_b, -D ** -0.5, D ** -0.5)
        self.new_round()
        self.h0, self.w0, self.c0 = H // 4, W // 4, 2 * ngf  # (2*ngf, H/4, W/4), upsampled twice
        self.fc = nn.Linear(le_emb_size, self.c0 * self.h0 * self.w0)
        self.decoder = nn.Sequential(
            nn.BatchNorm2d(self.c0), nn.Upsample(scale_factor=2),
            nn.Conv2d(self.c0, self.c0, 3, 1, 1, bias=False), nn.BatchNorm2d(self.c0),
            nn.LeakyReLU(0.2), nn.Upsample(scale_factor=2),
            nn.Conv2d(self.c0, ngf, 3, 1, 1, bias=False), nn.BatchNorm2d(ngf), nn.LeakyReLU(0.2),
            nn.Conv2d(ngf, ch, 3, 1, 1), nn.Sigmoid())
    @torch.no_grad()
    def new_round(self):
        r"""EASY TO MISS: Z gets fresh $\mathcal{N}(0, 1)$ weights and a zero bias before every
        batch: NAYER's diversity comes from here, not from $e_y$."""
        if self.noisy:
            self.noisy_w.normal_(0, 1)
            self.noisy_b.zero_()
    def forward(self, y):
        B, K = y.shape[0], self.noisy_w.shape[0]
        e = self.inputs(y)  # (B, D): the e_y rows of the labels
        h = self.in_bn(e)  # batch statistics over the [0..C-1]*K rows: a fixed affine map of e_y
        # $Z_k(h) = h W_k + b_k$ for chunk k: (K, B/K, D) @ (K, D, E) -> (K, B/K, E)
        h = torch.bmm(h.view(K, B // K, -1), self.noisy_w) + self.noisy_b[:, None]
        h = self.fc(h.reshape(B, -1))  # (B, E) -> (B, c0*h0*w0)
        return self.decoder(h.view(B, self.c0, self.h0, self.w0))  # (B, ch, H, W) in [0, 1]
    def inputs(self, y):
        """The input rows for the labels y ($e_y$, or an ablation's), the K-to-1 layout checked."""
        K, C = self.noisy_w.shape[0], self.table.shape[0]
        if self.noisy and y is not self.checked_y:  # a value check syncs: once per tensor
            want = torch.arange(C, device=y.device).repeat(K)
            if y.shape != (K * C,) or not torch.equal(y, want):
                raise NayerError(f"Generator with {K} noisy layers x {C} classes wants labels "
                                 f"[0..{C - 1}] repeated {K} times (batch {K * C}), got "
                                 f"{y.shape[0]} labels starting {y[:C + 1].tolist()}")
            self.checked_y = y
        if self.gen_input == "noise":  # a fresh z per sample and call, as earlier generators
            return torch.randn(y.shape[0], self.table.shape[1], device=y.device)
        return self.table[y]  # e_y: the same every call

# ------------------------------------------------------------------------------------------- losses
class BNStatLoss:
    r"""$\mathcal{L}_{BN} = \sum_l \|\mu_l(x) - \mu_l\|_2 + \|\sigma^2_l(x) - \sigma^2_l\|_2$
    over the teacher's BN2d layers l (DeepInversion): each layer input's batch statistics against
    the running ones, in fp32, from hooks attached only inside `with loss.attached():`. The
    authors' momentum m: later rounds compare $(1 - m) \mu_l(x) + m \bar\mu_l$ (and so for
    $\sigma^2_l$), the EMA $\bar\mu_l$ taking in each round's last batch. Contract: one teacher
    pass, `pop()`; after each round, `end_round()`.
        >>> teacher = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(),  # any BN net
        ...                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10)).eval()
        >>> bn_loss = BNStatLoss(teacher, momentum=0.9)
        >>> with bn_loss.attached():
        ...     logits = teacher(torch.rand(8, 3, 32, 32))  # the hooks fire
        ...     l_bn = bn_loss.pop()                        # the sum over the BN layers
        >>> bn_loss.end_round()
        >>> l_bn.ndim, bool(l_bn > 0), len(bn_loss.ema)     # one EMA per BN layer
        (0, True, 1)
    """
    def __init__(self, teacher, momentum):
        self.layers = [mod for mod in teacher.modules() if isinstance(mod, nn.BatchNorm2d)]
        if not self.layers:
            raise NayerError("the teacher has no BatchNorm2d layer: L_BN needs its statistics")
        self.momentum, self.terms = momentum, []  # terms: one a BN layer, of the last pass
        self.ema = [None] * len(self.layers)  # (mean, var) per layer, over the earlier rounds
        self.last = [None] * len(self.layers)  # (mean, var) per layer, of the last batch
    def _hook(self, i):
        def hook(module, inputs, output):
            # $\mu_l(x)$, $\sigma^2_l(x)$: per channel, biased, over (B, H, W)
            var, mean = torch.var_mean(inputs[0].float(), dim=(0, 2, 3), correction=0)  # (C,)
            self.last[i] = (mean.detach(), var.detach())
            if self.ema[i] is not None and self.momentum > 0:
                m, (ema_mean, ema_var) = self.momentum, self.ema[i]
                # $(1 - m) \mu_l(x) + m \bar\mu_l$, and the same for $\sigma^2_l$
                mean = (1 - m) * mean + m * ema_mean
                var = (1 - m) * var + m * ema_var
            # $\|\mu_l(x) - \mu_l\|_2 + \|\sigma^2_l(x) - \sigma^2_l\|_2$
            term = torch.linalg.vector_norm(mean - module.running_mean)
            self.terms.append(term + torch.linalg.vector_norm(var - module.running_var))
        return hook
    @contextlib.contextmanager
    def attached(self):
        handles = [mod.register_forward_hook(self._hook(i)) for i, mod in enumerate(self.layers)]
        try:
            yield
        finally:  # never left behind: KD and evaluation run without hooks
            for h in handles:
                h.remove()
    def pop(self):
        """L_BN of the last teacher pass: exactly one since the last pop, inside `attached()`."""
        if len(self.terms) != len(self.layers):  # the hooks fire only inside `attached()`
            raise NayerError(f"BNStatLoss.pop() wants one teacher pass since the last pop, "
                             f"only inside `with bn_loss.attached():`, found "
                             f"{len(self.terms) / len(self.layers):g}")
        loss = torch.stack(self.terms).sum()
        self.terms = []
        return loss
    def end_round(self):
        r"""$\bar\mu_l \leftarrow m \bar\mu_l + (1 - m) \mu_l(x_{last})$; round 1's starts it."""
        m = self.momentum
        for i, last in enumerate(self.last):
            if self.ema[i] is None:
                self.ema[i] = last
            else:
                (ema_mean, ema_var), (mean, var) = self.ema[i], last
                self.ema[i] = (m * ema_mean + (1 - m) * mean, m * ema_var + (1 - m) * var)

# $\mathcal{L}_{OH} = \mathrm{CE}(T(x), y)$: `F.cross_entropy` of the teacher's logits against
# the intended labels y, in `synthesize_round`.

def adv_loss(s_logits, t_logits):
    r"""$\mathcal{L}_{ADV} = -\frac{1}{B} \sum_b \mathbb{1}[\arg\max s_b = \arg\max t_b] \,
    \mathrm{KL}(p_{t,b} \| p_{s,b})$, at temperature 1. The disagreement is maximised only where
    the student still agrees with the teacher: samples it already gets wrong would only drift
    further from the teacher's classes. Logits (B, C):
        >>> s, t = torch.tensor([[2., 0.], [0., 2.]]), torch.tensor([[3., 0.], [3., 0.]])
        >>> round(adv_loss(s, t).item(), 4)  # row 1 disagrees: masked; -KL(row 0) / B, B = 2
        -0.0155
    """
    s, t = s_logits.float(), t_logits.float()
    mask = (s.argmax(1) == t.argmax(1)).float()  # (B,)
    # $\mathrm{KL}(p_t \| p_s) = \sum_c p_t (\log p_t - \log p_s)$
    kl = (F.softmax(t, 1) * (F.log_softmax(t, 1) - F.log_softmax(s, 1))).sum(1)  # (B,)
    return -(kl * mask).mean()

def kd_loss(s_logits, t_logits, T):
    r"""$\mathcal{L}_{KD} = \frac{T^2}{B} \sum_b \mathrm{KL}(\mathrm{softmax}(t_b / T) \|
    \mathrm{softmax}(s_b / T))$; $T^2$ keeps the gradient's scale independent of the
    temperature (Hinton et al.). Logits (B, C):
        >>> round(kd_loss(torch.zeros(1, 2), torch.tensor([[4., 0.]]), T=20).item(), 4)  # ~4^2/8
        1.99
    """
    s, t = s_logits.float(), t_logits.float()
    kl = F.kl_div(F.log_softmax(s / T, 1), F.softmax(t / T, 1), reduction="batchmean")
    return kl * T * T

# ---------------------------------------------------------------------------------------- synthesis
def augment(x, mean, std, flip=True):
    """Random crop (pad min(4, side/8): 4 at 32 and 64 px, as the authors), flip, normalise, on
    the device: on G's output in synthesis (G's gradients flow through it) and on M in KD."""
    B, pad = x.shape[0], min(4, x.shape[-1] // 8)
    dy, dx = (torch.randint(0, 2 * pad + 1, (B,), device=x.device) for _ in range(2))
    flips = torch.rand(B, device=x.device) < (0.5 if flip else 0.0)
    if pad:
        x = crop_flip(x, dy, dx, flips, pad)
    return (x - mean) / std

def crop_flip(x, dy, dx, flip, pad):
    """`augment`'s per-sample crop (offsets dy, dx of the padded image) and flip: one gather."""
    B, ch, H, W = x.shape
    xp = F.pad(x, (pad, pad, pad, pad))  # (B, ch, H+2p, W+2p)
    rows = dy[:, None] + torch.arange(H, device=x.device)  # (B, H)
    cols = torch.arange(W, device=x.device).expand(B, W)
    cols = torch.where(flip[:, None], W - 1 - cols, cols) + dx[:, None]  # (B, W)
    b = torch.arange(B, device=x.device)[:, None, None]
    out = xp[b, :, rows[:, :, None], cols[:, None, :]]  # (B, H, W, ch)
    return out.permute(0, 3, 1, 2)  # (B, ch, H, W)

def synthesize_round(G, teacher, student, bn_loss, y, mean, std, cfg, *, use_adv=True,
                     trace=None):
    r"""One NAYER round: a fresh Z and Adam, then `cfg.g_steps` updates of G on $\mathcal{L}_G$.
    Returns the pre-update batch x (in [0, 1]) of the step with the lowest $\mathcal{L}_G$ and the
    step sums of (L_BN, L_OH, L_ADV, L_G) (a list `trace` gets each step's). Contract: teacher and
    student in eval mode, frozen (checked); bn_loss = BNStatLoss(teacher, m); y as `Generator`
    wants; mean, std (1, ch, 1, 1).
        >>> def net():  # any classifier with BatchNorm2d, frozen in eval mode
        ...     return nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.AdaptiveAvgPool2d(1),
        ...                          nn.Flatten(), nn.Linear(8, 10)).eval().requires_grad_(False)
        >>> teacher, student, cfg = net(), net(), NayerConfig(g_steps=2)
        >>> G, y = Generator(torch.randn(10, 384), (3, 32, 32), 2), torch.arange(10).repeat(2)
        >>> h = torch.full((1, 3, 1, 1), 0.5)  # as mean and as std
        >>> x, sums = synthesize_round(G, teacher, student, BNStatLoss(teacher, 0.9), y, h, h, cfg)
        >>> l_bn, l_oh, l_adv, l_g = sums  # over the 2 steps; L_G is their weighted sum
        >>> x.shape, bool(torch.isclose(l_g, 10 * l_bn + 0.5 * l_oh + 1.33 * l_adv))
        (torch.Size([20, 3, 32, 32]), True)
    """
    models = [teacher, student]  # frozen: no BN statistics moved, no weight gradients built up
    if any(m.training or any(p.requires_grad for p in m.parameters()) for m in models):
        raise NayerError("synthesize_round wants the teacher and the student in eval mode and "
                         "frozen: .eval().requires_grad_(False)")
    alpha, beta, gamma = cfg.bn, cfg.oh, cfg.adv
    # EASY TO MISS: a fresh noisy layer every round, $Z \sim \mathcal{N}(0, 1)$ with a zero bias
    G.new_round()
    opt = torch.optim.Adam(G.parameters(), lr=cfg.lr_g, betas=(0.5, 0.999))
    best_loss, best_x = torch.full((), float("inf"), device=y.device), None
    steps = []  # each step's (L_BN, L_OH, L_ADV, L_G)
    with bn_loss.attached():
        for _ in range(cfg.g_steps):
            with torch.autocast(y.device.type, torch.bfloat16, enabled=cfg.amp):
                x = G(y).float()  # (B, ch, H, W) in [0, 1]
                xa = augment(x, mean, std, cfg.flip == "on")  # "kd": flips in KD only
                t_logits = teacher(xa)  # frozen, eval mode; the BN hooks fire
                # $L_{BN}$ of this pass: the hooks compared x's statistics with the running ones
                l_bn = bn_loss.pop()
                # $L_{OH} = \mathrm{CE}(T(x), y)$
                l_oh = F.cross_entropy(t_logits.float(), y)
                # the student is in eval mode and frozen here: its BN running statistics stay
                # clean, no weight gradients (the authors: train mode)
                l_adv = torch.zeros((), device=x.device)
                if use_adv:
                    l_adv = adv_loss(student(xa), t_logits)
            # $L_G = \alpha L_{BN} + \beta L_{OH} + \gamma L_{ADV}$
            loss = alpha * l_bn + beta * l_oh + gamma * l_adv
            # keep $x^* = \arg\min_t L_G(x_t)$. EASY TO MISS: `x` is the pre-update batch this
            # loss was measured on. torch.where keeps it on the device: no host sync a step
            better = loss.detach() < best_loss
            best_x = x.detach() if best_x is None else torch.where(better, x.detach(), best_x)
            best_loss = torch.where(better, loss.detach(), best_loss)
            steps.append(torch.stack([l_bn, l_oh, l_adv, loss]).detach())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    bn_loss.end_round()  # the authors' momentum: this round's last statistics into the EMA
    if trace is not None:
        trace.extend(steps)
    return best_x, sum(steps, torch.zeros(4, device=y.device))

# ------------------------------------------------------------------------------------- distillation
def kd_batches(n, steps, batch, device):
    """(steps, batch) indices into M's n images: shuffled passes, new each epoch (as a loader)."""
    passes = -(-steps * batch // n)  # ceil
    idx = torch.cat([torch.randperm(n, device=device) for _ in range(passes)])
    return idx[:steps * batch].view(steps, batch)

def kd_step(student, teacher, opt, x, mean, std, cfg):
    r"""One student update on $\mathcal{L}_{KD}$ over a uint8 batch x of M, on the device; the
    teacher (in eval mode: checked) and the student see the same augmented images."""
    if teacher.training:
        raise NayerError("the teacher must be in eval mode in KD: teacher.eval()")
    x = augment(x.float() / 255, mean, std, cfg.flip != "off")
    with torch.autocast(x.device.type, torch.bfloat16, enabled=cfg.amp):
        loss = kd_loss(student(x), teacher(x), cfg.T)  # the teacher is frozen: no graph
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.detach()

@torch.no_grad()
def evaluate(model, loader, device, amp=False):
    """Top-1 accuracy (%) over (normalised images, labels) batches: one pass, one host sync."""
    model.eval()
    correct, seen = torch.zeros((), device=device), 0
    # EASY TO MISS: a DataLoader draws a seed from torch's RNG; forked, a list gives the same run
    with torch.random.fork_rng(devices=[]):
        for x, y in loader:
            with torch.autocast(device.type, torch.bfloat16, enabled=amp):
                correct += (model(x.to(device)).argmax(1) == y.to(device)).sum()
            seen += len(y)
    if not seen:
        raise NayerError("the evaluation batches are empty: pass (images, labels) batches")
    return 100.0 * correct.item() / seen

class Callbacks:
    """Where a runner plugs into `distill` (the CLI's `RunFolder`); these do nothing."""
    memory_format = torch.contiguous_format  # G's layout (the CLI: channels_last)
    def kd_models(self, student, teacher):  # the modules KD and evaluation call (compiled?)
        return student, teacher
    def on_start(self, loop):  # -> (first epoch, images in M), a resumed run's restored
        return 0, 0
    def on_round(self, loop, epoch):  # after each synthesis round
        pass
    def kd_pass(self, loop, epoch, batches):  # an epoch's KD batches, passed on
        return batches
    def on_epoch_end(self, loop, rec):  # rec: the epoch's line of the history
        pass

def distill(teacher, student, e_y, cfg, *, image_shape, mean, std, eval_loader=None,
            report=print, callbacks=None):
    """The NAYER schedule (the module docstring's procedure) for two BN classifiers of C classes;
    e_y: the (C, D) label-text table; image_shape (ch, H, W), mean, std: the teacher's inputs.
    On the teacher's device, the teacher frozen in eval mode (and left so), the student trained in
    place -> (student in eval mode, history); each epoch's record to `report`, with test accuracy
    if `eval_loader` (normalised images, labels) is given. Host syncs: two an epoch."""
    C, B, cb = e_y.shape[0], cfg.synthesis_batch_size, callbacks or Callbacks()
    cfg.check(C, image_shape)
    if isinstance(eval_loader, collections.abc.Iterator):  # a generator: one pass, but
        eval_loader = list(eval_loader)  # evaluation recurs: read it once, now
    if eval_loader is not None and not eval_loader:
        raise NayerError("`eval_loader` is empty: pass batches of (images, labels), or None")
    device = next(teacher.parameters()).device  # everything lives where the teacher does
    mean, std = (torch.tensor(v, device=device).view(1, -1, 1, 1) for v in (mean, std))
    teacher.eval().requires_grad_(False)  # frozen for good: a teacher never learns here
    student.to(device)
    kd_student, kd_teacher = cb.kd_models(student, teacher)
    y = torch.arange(C, device=device).repeat(B // C)  # [0..C-1] * K: K copies of every class
    bn_loss = BNStatLoss(teacher, cfg.bn_momentum)
    def new_G():  # at epoch 0 and at every rebuild
        G = Generator(e_y, image_shape, B // C, cfg.le_emb_size, cfg.ngf, cfg.generator_input,
                      cfg.noisy_layer)
        return G.to(device, memory_format=cb.memory_format)
    G = new_G()
    opt = torch.optim.SGD(student.parameters(), lr=cfg.lr, momentum=0.9, weight_decay=1e-4)
    # the student's learning rate: cosine from lr to lr/1000 over the post-warm-up epochs
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.epochs - cfg.warmup,
                                                       eta_min=cfg.lr * 1e-3)
    # M: every kept batch, preallocated on the device, uint8 as the authors' PNGs (160k: 0.5 GB)
    rounds = cfg.warmup * cfg.warmup_g_loops + (cfg.epochs - cfg.warmup) * cfg.g_loops
    M = torch.empty((rounds * B, *image_shape), dtype=torch.uint8, device=device)  # (N, ch, H, W)
    loop = types.SimpleNamespace(cfg=cfg, student=student, G=G, opt=opt, sched=sched,
                                 bn_loss=bn_loss, M=M, history=[])  # what a runner saves
    start, n = cb.on_start(loop)  # n: images in M so far (a resumed run's)
    for epoch in range(start, cfg.epochs):
        warm = epoch < cfg.warmup  # warm-up: G learns to please the teacher; no L_ADV, no KD
        # EASY TO MISS: the whole G is rebuilt (the authors' rule: epoch = 0 or warmup, mod g_life)
        if epoch > 0 and (epoch % cfg.g_life == 0 or (epoch - cfg.warmup) % cfg.g_life == 0):
            G = loop.G = new_G()
        t0, lr = time.time(), opt.param_groups[0]["lr"]
        # 1. synthesis: rounds of (fresh Z, g_steps updates of G, the best x appended to M)
        student.eval().requires_grad_(False)  # S only serves L_ADV here
        n_rounds = cfg.warmup_g_loops if warm else cfg.g_loops
        g_sums = torch.zeros(4, device=device)  # sums of L_BN, L_OH, L_ADV, L_G in the epoch
        for _ in range(n_rounds):
            x, sums = synthesize_round(G, teacher, student, bn_loss, y, mean, std, cfg,
                                       use_adv=not warm)
            # $M \leftarrow M \cup \{x\}$: 8-bit, like the authors' PNGs; M only grows
            M[n:n + B] = (x * 255).round().to(torch.uint8)
            n += B
            g_sums += sums
            cb.on_round(loop, epoch)
        if device.type == "cuda":
            torch.cuda.synchronize()  # sync point 1 of 2 an epoch: honest timing
        t1 = time.time()
        # 2. distillation: the student learns from the teacher on batches of the whole bank M
        student.train().requires_grad_(True)
        kd_sum = torch.zeros((), device=device)  # sum of L_KD
        if not warm:
            batches = kd_batches(n, cfg.kd_steps, cfg.batch_size, device)  # (kd_steps, batch)
            for idx in cb.kd_pass(loop, epoch, batches):  # (batch,)
                kd_sum += kd_step(kd_student, kd_teacher, opt, M[idx], mean, std, cfg)
            sched.step()  # one cosine step per post-warm-up epoch
        # 3. the epoch's record: mean losses (sync point 2 of 2), test accuracy if due
        losses = torch.cat([g_sums / (n_rounds * cfg.g_steps), kd_sum[None] / cfg.kd_steps])
        l_bn, l_oh, l_adv, l_g, l_kd = losses.tolist()
        t2 = time.time()
        acc = None
        due = (epoch + 1) % cfg.eval_every == 0 or epoch + 1 == cfg.epochs
        if eval_loader is not None and not warm and due:
            acc = evaluate(kd_student, eval_loader, device, cfg.amp)
        rec = dict(epoch=epoch + 1, phase="warmup" if warm else "kd", loss_bn=l_bn,
                   loss_oh=l_oh, loss_adv=l_adv, loss_g=l_g, loss_kd=None if warm else l_kd,
                   acc=acc, lr=lr, bank=n, sec_synth=t1 - t0, sec_kd=t2 - t1,
                   ips_synth=n_rounds * B / (t1 - t0),
                   ips_kd=None if warm else cfg.kd_steps * cfg.batch_size / (t2 - t1))
        loop.history.append(rec)
        report(rec)
        cb.on_epoch_end(loop, rec)  # the CLI: metrics.jsonl, sample grid, checkpoint
    return student.eval(), loop.history

# ========================================================================= NOT THE METHOD: the rest
# What a run needs but the paper does not describe: backbones, data, the fallback teacher, the run
# folder that plugs into `distill`, options and `main`. Nothing above the banner uses them.
import argparse, errno, inspect, json, math, os, platform, re, shutil, sys

# ------------------------------------------------------------------------------------------- models
# CIFAR variants (3x3 stem, no max-pool), with the classic CIFAR code's names: the DFKD
# archive's checkpoints load strictly. `build_model` makes each name in ARCHS.
class ResBlock(nn.Module):
    """BasicBlock: two 3x3 convs with BN, ReLU after the residual sum."""
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout)
        self.conv2, self.bn2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()  # identity, or 1x1 conv + BN when the shape changes
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                          nn.BatchNorm2d(cout))
    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))

class ResNet(nn.Module):
    def __init__(self, blocks, num_classes, in_ch=3):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(in_ch, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64)
        cin, layers = 64, []
        for width, n, stride in zip([64, 128, 256, 512], blocks, [1, 2, 2, 2]):
            strides = [stride] + [1] * (n - 1)  # the first block of a layer downsamples
            layers.append(nn.Sequential(*[ResBlock(cin if i == 0 else width, width, s)
                                          for i, s in enumerate(strides)]))
            cin = width
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.linear = nn.Linear(512, num_classes)
    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.linear(F.adaptive_avg_pool2d(x, 1).flatten(1))  # (B, 512, h, w) -> (B, 512)

class WideBlock(nn.Module):
    """Pre-activation block. Easy to get wrong: when the width changes, the BN-ReLU *activated*
    input feeds both conv1 and the 1x1 shortcut; else the raw input is the identity shortcut."""
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(cin), nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2, self.conv2 = nn.BatchNorm2d(cout), nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.equal = cin == cout  # else a 1x1 conv shortcut (the archive's name: convShortcut)
        self.convShortcut = None if self.equal else nn.Conv2d(cin, cout, 1, stride, bias=False)
    def forward(self, x):
        act = F.relu(self.bn1(x))
        out = self.conv2(F.relu(self.bn2(self.conv1(act))))
        return out + (x if self.equal else self.convShortcut(act))

class WideResNet(nn.Module):
    def __init__(self, depth, k, num_classes, in_ch=3):
        super().__init__()
        n, w = (depth - 4) // 6, [16, 16 * k, 32 * k, 64 * k]
        self.conv1 = nn.Conv2d(in_ch, 16, 3, 1, 1, bias=False)
        groups = []
        for g, stride in enumerate([1, 2, 2]):  # 3 groups of (d-4)/6 blocks
            blocks = [WideBlock(w[g] if i == 0 else w[g + 1], w[g + 1], stride if i == 0 else 1)
                      for i in range(n)]
            # keys read `block1.layer.0...`, as in the archive
            groups.append(nn.ModuleDict(dict(layer=nn.Sequential(*blocks))))
        self.block1, self.block2, self.block3 = groups
        self.bn1, self.fc = nn.BatchNorm2d(w[3]), nn.Linear(w[3], num_classes)
    def forward(self, x):
        x = self.block3.layer(self.block2.layer(self.block1.layer(self.conv1(x))))  # (B, 64k, h, w)
        return self.fc(F.adaptive_avg_pool2d(F.relu(self.bn1(x)), 1).flatten(1))  # (B, 64k)

class VGG(nn.Module):
    """VGG-11 with BN: blocks [64] [128] [256,256] [512,512] [512,512], conv with bias."""
    def __init__(self, num_classes, in_ch=3):
        super().__init__()
        cin, blocks = in_ch, []
        for widths in [[64], [128], [256, 256], [512, 512], [512, 512]]:
            layers = []
            for w in widths:
                layers += [nn.Conv2d(cin, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(True)]
                cin = w
            blocks.append(nn.Sequential(*layers[:-1]))  # the last ReLU in forward (same indices)
        self.block0, self.block1, self.block2, self.block3, self.block4 = blocks
        self.classifier = nn.Linear(512, num_classes)
    def forward(self, x):
        blocks = [self.block0, self.block1, self.block2, self.block3, self.block4]
        for i, block in enumerate(blocks):
            x = F.relu(block(x))
            if i < 3:  # 2x2 max-pool after the first three blocks: 32 -> 4 px
                x = F.max_pool2d(x, 2)
        return self.classifier(F.adaptive_avg_pool2d(x, 1).flatten(1))

def build_model(name, num_classes, in_channels=3):
    """'resnet18', 'wrn40_2', ... -> a freshly initialised CIFAR network."""
    if name.startswith("resnet"):
        blocks = [2, 2, 2, 2] if name == "resnet18" else [3, 4, 6, 3]
        return ResNet(blocks, num_classes, in_channels)
    if name.startswith("wrn"):  # wrn{depth}_{widen factor}
        return WideResNet(*map(int, name[3:].split("_")), num_classes, in_channels)
    return VGG(num_classes, in_channels)

# --------------------------------------------------------------------------------- data and teacher
# The test split is read for evaluation only, the training split only by the fallback teacher
# (`train_teacher`), never by NAYER. Images stay uint8 (N, 3, H, W) until they reach the device.
def load_cifar(name, root, train):
    """The torchvision dataset as uint8 images (N, 3, 32, 32), labels, class names."""
    from torchvision.datasets import CIFAR10, CIFAR100
    cls = CIFAR10 if name == "cifar10" else CIFAR100
    try:  # present and intact: read, no network; missing or damaged: downloaded (fails offline)
        ds = cls(root, train=train, download=True)
    except Exception as e:  # none there and no network, or a file cut short
        where = Path(root) / cls.base_folder
        what = "not found, no download"
        if where.is_dir():  # a file cut short, or another copy than the official archive's (md5)
            what = "is damaged or not the official files"
        raise NayerError(f"{name} {what} in {where} ({type(e).__name__}): put the extracted "
                         f"python archive there") from None
    x = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()  # (N, H, W, 3) -> (N, 3, H, W)
    return x, torch.tensor(ds.targets), list(ds.classes)

def load_tiny_imagenet(root, train):
    """The official tiny-imagenet-200 folder (as its zip unpacks; test/ unused) as uint8 images
    (N, 3, 64, 64), labels, class names: sorted wnids (the authors' order), each named by its
    words.txt line's first synonym ("goldfish"), as the paper's prompt (the authors: all of it)."""
    folder, split = Path(root) / "tiny-imagenet-200", "train" if train else "val"
    if not folder.is_dir():  # missing: try the official zip (fails offline)
        try:
            from torchvision.datasets.utils import download_and_extract_archive
            url = "http://cs231n.stanford.edu/tiny-imagenet-200.zip"  # the official zip
            download_and_extract_archive(url, str(root))
        except Exception as e:
            raise NayerError(f"tiny_imagenet not found in {folder} and the download failed "
                             f"({type(e).__name__}): put the extracted official "
                             f"tiny-imagenet-200.zip there") from None
    def damaged(what):
        return NayerError(f"{folder} is damaged ({what}): extract the official zip there afresh")
    # (file, wnid): train/<wnid>/images/*.JPEG; val/images/*.JPEG, as val_annotations.txt says
    try:
        wnids = sorted((folder / "wnids.txt").read_text().split())
        lines = (folder / "words.txt").read_text().splitlines()
        words = dict(line.split("\t", 1) for line in lines if "\t" in line)
        if train:
            files = [(p, w) for w in wnids
                     for p in sorted((folder / "train" / w / "images").glob("*.JPEG"))]
        else:
            rows = (folder / "val" / "val_annotations.txt").read_text().splitlines()
            files = sorted((folder / "val" / "images" / r[0], r[1])
                           for r in (line.split("\t") for line in rows))
    except (OSError, IndexError) as e:
        raise damaged(f"cannot read {getattr(e, 'filename', None) or e}") from None
    odd = sorted(set(wnids) ^ {w for _, w in files}) + [w for w in wnids if w not in words]
    if odd or not wnids:  # a class without images, images of an unlisted class, no name
        raise damaged(f"class {odd[0] if odd else '?'}: no {split} images, not in wnids.txt or "
                      f"no words.txt name")
    names = [words[w].split(",")[0].strip() for w in wnids]
    index = {w: c for c, w in enumerate(wnids)}
    # decoding 110,000 JPEGs takes minutes: cached next to the folder, keyed by the file list
    cache = Path(root) / f"tiny-imagenet-200_{split}_uint8.pt"
    key = [f"{p.name} {w}" for p, w in files]
    saved = read_cache(cache, lambda d: d.get("key") == key, lambda d: d["x"].dtype == torch.uint8
                       and d["x"].shape == (len(key), 3, 64, 64) and d["y"].shape == (len(key),))
    if saved:
        return saved["x"], saved["y"], names
    import PIL.Image  # lazily (torchvision.io's JPEG decoding is deprecated)
    import torchvision.transforms.functional as TF
    print(f"decoding {len(files)} {split} JPEGs of {folder} once (then cached)", flush=True)
    x = torch.empty((len(files), 3, 64, 64), dtype=torch.uint8)  # (N, 3, 64, 64)
    progress = Progress(f"decoding {split}", len(files))
    for i, (p, _) in enumerate(files):
        progress(i + 1)
        try:  # EASY TO MISS: some images are grey; convert("RGB") gives them 3 channels
            x[i] = TF.pil_to_tensor(PIL.Image.open(p).convert("RGB"))  # (3, 64, 64)
        except (OSError, RuntimeError) as e:  # missing, not a JPEG, not 64 x 64
            raise damaged(f"{p}: {str(e).splitlines()[0][:80]}") from None
    y = torch.tensor([index[w] for _, w in files])
    atomic_save(dict(key=key, x=x, y=y), cache)
    print(f"cached the decoded {split} split in {cache}", flush=True)
    return x, y, names

def load_split(args, train):
    """The split at --image-size (resized once, antialiased): uint8 (N, 3, S, S), labels, names."""
    if args.dataset == "tiny_imagenet":
        x, y, names = load_tiny_imagenet(args.data_root, train)
    else:
        x, y, names = load_cifar(args.dataset, args.data_root, train)
    if x.shape[-1] != args.image_size:  # uint8 in, uint8 out: no float copy of 100,000 images
        x = F.interpolate(x, size=(args.image_size,) * 2, mode="bilinear", antialias=True)
    return x, y, names

def lte_table(args, class_names, out_dir):
    """--lte-file, else the run folder's cache, else encode (cached: a resume needs no encoder)."""
    if args.lte_file:
        try:
            table = torch.load(args.lte_file, map_location="cpu", weights_only=True)
            table = table["table"] if isinstance(table, dict) else table
        except Exception as e:
            raise NayerError(f"cannot read --lte-file {args.lte_file} "
                             f"({type(e).__name__})") from None
        C = len(class_names)
        if not isinstance(table, torch.Tensor) or table.ndim != 2 or table.shape[0] != C:
            shape = tuple(getattr(table, "shape", ()))
            raise NayerError(f"--lte-file {args.lte_file} has shape {shape}, but {args.dataset} "
                             f"has {C} classes: encode a table for these classes")
        return table.float()
    key = dict(encoder=str(args.text_encoder), prompt=args.prompt, classes=list(class_names))
    cache = Path(out_dir) / "lte.pt"
    saved = read_cache(cache, lambda d: {k: d.get(k) for k in key} == key,  # same encoder, prompt
                       lambda d: d["table"].ndim == 2 and len(d["table"]) == len(class_names))
    if saved:
        return saved["table"]
    table = label_text_embeddings(class_names, args.text_encoder, args.prompt)
    atomic_save(dict(key, table=table), cache)
    return table

def load_checkpoint_into(model, path, arch, num_classes):
    """Load {'state_dict': ...} or a bare state dict strictly; one clear line on any mismatch."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise NayerError(f"cannot read checkpoint {path} ({type(e).__name__}): fix "
                         f"--teacher-ckpt/delete it") from None
    sd = obj.get("state_dict", obj) if isinstance(obj, dict) else None
    if not sd or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise NayerError(f"{path} holds no state dict (expected {{'state_dict': ...}} or a bare "
                         f"state dict)")
    sd = {k.removeprefix("module."): v for k, v in sd.items()}  # DataParallel checkpoints
    def shapes(sd):  # old checkpoints have no num_batches_tracked
        return {k: tuple(v.shape) for k, v in sd.items() if not k.endswith("num_batches_tracked")}
    if shapes(model.state_dict()) != shapes(sd):
        raise NayerError(f"{path} holds other parameter shapes than the {arch} with {num_classes} "
                         f"classes asked for: fix --teacher/--dataset or --teacher-ckpt")
    model.load_state_dict(sd, strict=True)
    return obj

def train_teacher(model, x, y, args, mean, std, device, eval_loader, amp):
    """Fallback, not NAYER (the paper starts from given teachers): supervised training, uint8
    data on the device; saved every epoch, so that the same command, rerun, continues exactly."""
    E = args.train_teacher_epochs
    print(f"!! no teacher at {args.teacher_ckpt}: training {args.teacher} for {E} epochs on the "
          f"REAL {args.dataset} training split (the only use of it)", flush=True)
    opt = torch.optim.SGD(model.parameters(), lr=TEACHER_LR, momentum=0.9, weight_decay=TEACHER_WD)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, E)
    x, y, mean, std = (t.to(device) for t in (x, y, mean, std))  # mean, std: (1, 3, 1, 1)
    # `how` names the training: the .part file of another training is not continued
    how = {k: vars(args)[k] for k in ("teacher", "dataset", "train_teacher_epochs", "image_size")}
    part, start = Path(f"{args.teacher_ckpt}.part"), 0
    state = read_cache(part, lambda d: d["how"] == how,
                       lambda d: 0 < d["epoch"] < E)
    if state:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        torch.set_rng_state(state["rng"])
        if device.type == "cuda":
            torch.cuda.set_rng_state(state["cuda_rng"], device)
        start = state["epoch"]
        print(f"continuing the teacher's training after epoch {start} ({part})", flush=True)
    for epoch in range(start, E):
        model.train()
        t0, total = time.time(), torch.zeros((), device=device)
        batches = torch.randperm(len(y), device=device).split(TEACHER_BATCH)
        progress = Progress(f"teacher epoch {epoch + 1}/{E}", len(batches), E - epoch - 1,
                            "teacher" if epoch == start else None)
        for i, idx in enumerate(batches):
            with torch.autocast(device.type, torch.bfloat16, enabled=amp):
                logits = model(augment(x[idx].float() / 255, mean, std))
                loss = F.cross_entropy(logits.float(), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach()
            progress(i + 1)
        sched.step()
        acc = evaluate(model, eval_loader, device, amp)
        print(f"teacher epoch {epoch + 1}/{E} loss {total.item() / len(batches):.3f} test acc "
              f"{acc:.2f}% ({time.time() - t0:.0f}s)", flush=True)
        cuda_rng = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
        state = dict(how=how, model=model.state_dict(), opt=opt.state_dict(), epoch=epoch + 1,
                     sched=sched.state_dict(), rng=torch.get_rng_state(), cuda_rng=cuda_rng)
        atomic_save(state, part)
    # and how it was trained: a later run must not take it for another training
    final = dict(how, state_dict=model.state_dict(), acc=acc, arch=args.teacher)
    atomic_save(final, args.teacher_ckpt)
    part.unlink(missing_ok=True)

# --------------------------------------------------------------------------------------- run folder
# What the CLI plugs into `distill`: config.json, metrics.jsonl, samples_epochNNN.png, checkpoint.pt
# with bank/ (M's rows, a file an epoch), lte.pt, student.pth, summary.json, each written whole or
# not at all (`atomic_write`); long phases say where they are, with an ETA, every 30 s at most.
class RunFolder(Callbacks):
    """Resume, checkpoints and bank pieces, metrics, sample grids, the NaN stop, progress and
    ETA, compile; `config`: what config.json records (the CLI: every option)."""
    memory_format = torch.channels_last  # cuDNN's fast layout; on a CPU as fast (RESULTS 7)
    def __init__(self, out_dir, config, resume=False, compile=False):
        self.out, self.config, self.resume, self.compile = Path(out_dir), config, resume, compile
        self.pieces = []  # M on disk: (file, rows), each epoch's new rows
        check_out_dir(self.out, resume)  # before any long work
    def kd_models(self, student, teacher):
        if self.compile:  # KD and evaluation only: synthesis needs the teacher's BN hooks
            return torch.compile(student), torch.compile(teacher)
        return student, teacher
    def on_start(self, loop):
        """Afresh, or resumed exactly (student, G, optimisers, M, BN EMA, RNG): -> (epoch, n)."""
        ckpt, start, n, cfg = self.out / "checkpoint.pt", 0, 0, loop.cfg
        if self.resume:  # read everything first: a damaged file is refused before any change
            state, bank = read_checkpoint(ckpt, self.out)
            start, n, self.pieces = state["epoch"], sum(len(b) for b in bank), state["bank"]
            try:  # other models or a longer schedule than this one (M too small): another run
                loop.student.load_state_dict(state["student"])
                loop.G.load_state_dict(state["generator"])
                loop.M[:n] = torch.cat(bank).to(loop.M.device) if bank else loop.M[:0]
            except RuntimeError:
                raise NayerError(f"{ckpt} is from another configuration: resume with the "
                                 f"options in config.json") from None
            loop.opt.load_state_dict(state["opt"])
            loop.sched.load_state_dict(state["sched"])
            loop.bn_loss.ema = [e if e is None else tuple(t.to(loop.M.device) for t in e)
                                for e in state["bn_ema"]]
            loop.history.extend(state["history"])
            # the CPU generator: exact on a CPU (GPU kernels are not deterministic)
            torch.set_rng_state(state["rng"])
            print(f"resumed {ckpt} at epoch {start}, bank {n} images")
        atomic_write(self.out / "config.json", json.dumps(self.config, indent=1))
        # metrics.jsonl from the checkpoint's history: a line written after it is not repeated
        self.save_metrics(loop.history)
        if not self.resume:  # so that a Ctrl-C in the very first epoch can be resumed
            atomic_save(dict(self.snapshot(loop, n), epoch=0, history=loop.history), ckpt)
        # the ETA: seconds a round and an epoch's tail (KD, evaluation, saving) as timed so far
        rounds = cfg.warmup * cfg.warmup_g_loops + (cfg.epochs - cfg.warmup) * cfg.g_loops
        self.rounds_left, self.epoch, self.cfg = rounds - n // cfg.synthesis_batch_size, start, cfg
        self.round_s, self.tail_s, self.mark, self.said = [], [], time.time(), time.time()
        return start, n
    def on_round(self, loop, epoch):
        now = time.time()
        self.round_s.append(now - self.mark)
        self.mark, self.rounds_left = now, self.rounds_left - 1
        if len(self.round_s) == 1:  # the first timed round: what the run costs here
            say_cost("distillation", self.left(), "a round timed; KD after the warm-up")
        self.say_where(epoch, f"{self.rounds_left} synthesis rounds to go")
    def kd_pass(self, loop, epoch, batches):
        for k, idx in enumerate(batches):
            yield idx
            self.say_where(epoch, f"KD step {k + 1}/{len(batches)}")
    def say_where(self, epoch, where):  # a progress line every 30 s at most
        now = time.time()
        if now - self.said >= 30:
            print(f"  epoch {epoch + 1}/{self.cfg.epochs}: {where} | ETA {hms(self.left())}",
                  flush=True)
            self.said = now
    def left(self):  # seconds left, by the host clock: no device sync
        tail = sum(self.tail_s) / len(self.tail_s) if self.tail_s else 0.0  # 0 before timed
        kd_epochs = self.cfg.epochs - max(self.cfg.warmup, self.epoch)
        return self.rounds_left * sum(self.round_s) / len(self.round_s) + kd_epochs * tail
    def report(self, rec):
        """The NaN stop, before anything of the epoch is printed or kept; the epoch line."""
        for name in ("bn", "oh", "adv", "g", "kd"):
            v = rec[f"loss_{name}"]
            if v is not None and not math.isfinite(v):
                raise NanStop(f"loss_{name} is {v} in epoch {rec['epoch']}; the last checkpoint is "
                              f"kept: lower --lr/--lr-g or the loss weights")
        self.epoch = rec["epoch"]
        untimed = " + KD" if not self.tail_s and self.epoch < self.cfg.epochs else ""
        print(f"{epoch_line(rec, self.cfg.epochs)} | ETA {hms(self.left())}{untimed}", flush=True)
    def on_epoch_end(self, loop, rec):
        """metrics.jsonl, a sample grid when evaluated, the checkpoint: a kill loses one epoch."""
        n, B = rec["bank"], loop.cfg.synthesis_batch_size
        self.save_metrics(loop.history)
        if rec["acc"] is not None:
            grid = self.out / f"samples_epoch{rec['epoch']:03d}.png"
            save_samples(loop.M[n - B:n], loop.G.table.shape[0], grid)
        # the checkpoint last: a kill before it leaves the previous epoch's, which --resume redoes
        state = dict(self.snapshot(loop, n), epoch=rec["epoch"], history=loop.history)
        atomic_save(state, self.out / "checkpoint.pt")
        if rec["phase"] == "kd":
            self.tail_s.append(time.time() - self.mark)
        self.mark = self.said = time.time()
    def save_metrics(self, history):  # a JSON line an epoch
        atomic_write(self.out / "metrics.jsonl", "".join(f"{json.dumps(h)}\n" for h in history))
    def snapshot(self, loop, n):
        """What a checkpoint holds: everything an exact resume needs; M's new rows saved apart."""
        return dict(student=loop.student.state_dict(), generator=loop.G.state_dict(),
                    opt=loop.opt.state_dict(), sched=loop.sched.state_dict(),
                    bank=save_bank(self.out, loop.M, n, self.pieces), bn_ema=loop.bn_loss.ema,
                    rng=torch.get_rng_state(), args=self.config)

class NanStop(NayerError):
    code = 1  # a NaN stop: the options, not the input, need a change

def epoch_line(rec, epochs):
    kd, acc = rec["loss_kd"] or 0.0, rec["acc"]
    shown = "-" if acc is None else f"{acc:.2f}%"
    return (f"epoch {rec['epoch']}/{epochs} {rec['phase']:6s} bn {rec['loss_bn']:.3f} oh "
            f"{rec['loss_oh']:.3f} adv {rec['loss_adv']:.3f} kd {kd:.3f} | acc {shown} | "
            f"synth {rec['sec_synth']:.1f}s ({rec['ips_synth']:.0f} img/s) kd "
            f"{rec['sec_kd']:.1f}s | bank {rec['bank']}")

def hms(s):
    if s >= 5400:
        return f"{s / 3600:.1f} h"
    return f"{s / 60:.0f} min" if s >= 90 else f"{s:.0f}s"

def say_cost(what, seconds, how):
    """One line: a phase's projected time here; on a CPU at the paper's scale, where to go."""
    print(f"{what}: about {hms(seconds)} on this machine ({how})", flush=True)
    if seconds > 7200 and not torch.cuda.is_available():
        print("  on a CPU that is the paper's scale: README's CPU recipe (docs/RESULTS.md "
              "section 2) trains a teacher and distils CIFAR-10 in about an hour", flush=True)

class Progress:
    """Plain lines (a log stays readable), every 30 s at most: a loop's ETA, the phase's if `more`
    loops follow; a named `phase` has its projected time said after 20 steps or 20 s."""
    def __init__(self, what, total, more=0, phase=None):
        self.what, self.total, self.more, self.phase = what, total, more, phase
        self.t0 = self.said = time.time()
    def __call__(self, done):
        now = time.time()
        if self.phase and (done == min(20, self.total) or now - self.t0 >= 20):
            say_cost(self.phase, (now - self.t0) / done * self.total * (1 + self.more),
                     f"{done} steps timed")  # what the phase costs on this machine
            self.phase = None
        if now - self.said >= 30 and done < self.total:
            per_loop = (now - self.t0) / done * self.total
            phase = f" (phase {hms(per_loop * (1 + self.more) - (now - self.t0))})"
            print(f"  {self.what}: {done}/{self.total} | ETA {hms(per_loop - now + self.t0)}"
                  f"{phase if self.more else ''}", flush=True)
            self.said = now

def check_out_dir(out_dir, resume):
    """Never silently overwrite a run, never silently start afresh when asked to resume."""
    exists = (Path(out_dir) / "checkpoint.pt").exists()
    if resume and not exists:
        raise NayerError(f"--resume: nothing to resume in {out_dir} (no checkpoint.pt): drop it")
    if exists and not resume:
        raise NayerError(f"{out_dir} holds a run (checkpoint.pt): add --resume, or another --out")

def read_checkpoint(ckpt, out_dir):
    """checkpoint.pt and its bank pieces, all read before anything changes; one line if not."""
    def read(f, fits):
        try:
            x = torch.load(f, map_location="cpu", weights_only=True)
            if fits(x):
                return x
            why = "not what this script wrote"
        except Exception as e:  # missing, cut short, not a torch file
            why = type(e).__name__
        raise NayerError(f"{f} is damaged ({why}): restore it, or start afresh in another --out")
    state = read(ckpt, lambda d: {"epoch", "history", "bank"} <= set(d))
    return state, [read(Path(out_dir) / f, lambda x: x.dtype == torch.uint8 and x.ndim == 4
                        and len(x) == rows) for f, rows in state["bank"]]

def save_samples(x, C, path):
    """The last batch: a row a class (8 at most) if K >= 4, else a near-square grid of classes."""
    from torchvision.utils import save_image
    K = len(x) // C
    grid = x.view(K, C, *x.shape[1:]).transpose(0, 1)  # (K*C, ch, H, W) -> (C, K, ch, H, W)
    nrow = min(K, 8) if K >= 4 else K * math.ceil(math.sqrt(C))
    images = grid[:, :8].reshape(-1, *x.shape[1:]).float().cpu() / 255  # (C * k, ch, H, W)
    atomic_write(path, lambda tmp: save_image(images, tmp, nrow=nrow, format="png"))

def save_bank(out_dir, M, n, pieces):
    """M's rows added since the last save, in a file of their own; the list of all the pieces."""
    done = sum(rows for _, rows in pieces)
    if n > done:
        name = f"bank/{done:08d}-{n:08d}.pt"
        atomic_save(M[done:n].cpu().clone(), Path(out_dir) / name)  # clone: the rows, not all M
        pieces.append((name, n - done))
    return list(pieces)

def atomic_save(obj, path):
    def save(tmp):
        try:
            torch.save(obj, tmp)
        except RuntimeError:  # EASY TO MISS: torch.save's zip writer says a full disk this way
            full = shutil.disk_usage(tmp.parent).free < 2 ** 20
            code = errno.ENOSPC if full else errno.EIO
            raise OSError(code, os.strerror(code)) from None
    atomic_write(path, save)

def atomic_write(path, write):
    """write(tmp) (or a text), then rename: a crash or a full disk leaves the old file or none,
    and no .tmp; a failed write is one line naming the fix."""
    tmp = Path(f"{path}.tmp")
    try:
        tmp.parent.mkdir(parents=True, exist_ok=True)
        if callable(write):
            write(tmp)
        else:
            tmp.write_text(write)
        os.replace(tmp, path)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise NayerError(f"cannot write {path} ({e.strerror or e}): free some space or make "
                             f"its folder writable; --resume continues from the last checkpoint")
        raise

def read_cache(path, fresh, valid):
    """A cache this script wrote; {} if missing, stale (not `fresh`) or damaged (said; rebuilt)."""
    if not Path(path).exists():
        return {}
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        if not fresh(saved):
            return {}
        if valid(saved):
            return saved
        why = "not what it should hold"
    except Exception as e:
        why = type(e).__name__
    print(f"{path} is damaged ({why}): rebuilding it", flush=True)
    return {}

# ----------------------------------------------------------------------------- precision and device
# bf16 autocast by default only where the hardware computes bf16 (`native_bf16`); the tests and
# every comparison in docs/RESULTS.md pin --no-amp, so that their numbers are fp32 everywhere.
def native_bf16(device):
    """(bf16 autocast by default?, why): where the hardware computes bf16. EASY TO MISS: else it is
    emulated, slower than fp32 (10x for wrn16_1 on an AVX2-only CPU here); is_bf16_supported()
    says True for pre-8.0 GPUs (T4, V100, GTX/RTX 10xx-20xx) as it counts emulation."""
    if device.type == "cuda":
        cc = torch.cuda.get_device_capability(device)
        rel = ">=" if cc >= (8, 0) else "<"
        return cc >= (8, 0), f"CUDA compute capability {cc[0]}.{cc[1]} ({rel} 8.0)"
    def has(name):  # private helpers; absent = no
        return bool(getattr(torch.cpu, name, lambda: False)())
    if has("_is_avx512_bf16_supported") or has("_is_amx_tile_supported"):
        return True, "CPU with AVX512-BF16/AMX"
    arm = platform.machine() in ("aarch64", "arm64")
    if arm and torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return True, "Arm CPU with BF16 instructions"
    return False, "CPU without native bf16 (no AVX512-BF16/AMX)"

def amp_choice(args, device):
    """(bf16 autocast on?, why): --amp / --no-amp decide; else the hardware (`native_bf16`)."""
    if args.amp is None:
        return native_bf16(device)
    return args.amp, "--amp" if args.amp else "--no-amp"

def pick_device(name):
    if name == "cuda" and not torch.cuda.is_available():
        raise NayerError("--device cuda but no CUDA device is visible: use --device cpu or auto")
    return torch.device("cuda" if name != "cpu" and torch.cuda.is_available() else "cpu")

# ------------------------------------------------------------------------------------------ options
ARCHS = ["resnet18", "resnet34", "wrn16_1", "wrn16_2", "wrn40_1", "wrn40_2", "vgg11"]
# Per data set: normalisation and what the authors' scripts (scripts/nayer_100.sh) set otherwise,
# for options left unset. CIFAR-10's std is the archive teachers' value, not the split's (0.247,
# 0.243, 0.262): a teacher must see its training normalisation. Tiny-ImageNet: their ResNet-34 ->
# ResNet-18 line, mean = std = 0.5, batch 200 = K 1 x 200 classes, flips in synthesis too.
CIFAR = dict(image_size=32, teacher="resnet34", student="resnet18", synthesis_batch_size=400,
             warmup_g_loops=10, g_loops=2, kd_steps=400, batch_size=512, lr=0.2, flip="on")
DATASETS = {
    "cifar10": dict(CIFAR, classes=10, mean=(0.4914, 0.4822, 0.4465),
                    std=(0.2023, 0.1994, 0.2010), g_steps=30),
    "cifar100": dict(CIFAR, classes=100, mean=(0.5071, 0.4865, 0.4409),
                     std=(0.2673, 0.2564, 0.2762), g_steps=40),
    "tiny_imagenet": dict(classes=200, mean=(0.5,) * 3, std=(0.5,) * 3, image_size=64,
                          teacher="resnet34", student="resnet18", synthesis_batch_size=200,
                          warmup_g_loops=20, g_loops=4, g_steps=60, kd_steps=1000,
                          batch_size=256, lr=0.1, flip="on"),
}
PER_DATASET = [k for k in DATASETS["tiny_imagenet"] if k not in ("classes", "mean", "std")]
TEACHER_CKPT = "checkpoints/pretrained/{dataset}_{teacher}.pth"  # the DFKD papers' archive
TEACHER_LR, TEACHER_WD, TEACHER_BATCH = 0.1, 5e-4, 128  # fallback teacher: SGD 0.9, cosine

class OneLineParser(argparse.ArgumentParser):
    def error(self, message):  # argparse would print a 15-line usage block and end the process
        raise NayerError(f"{message} (see --help)")

def parser():
    """Every option, its paper symbol and its default's source (the authors' scripts): --help."""
    p = OneLineParser(description="NAYER (CVPR 2024); defaults: the authors' CIFAR-10 run")
    a = p.add_argument
    def per(k):  # from DATASETS
        return "per data set: " + ", ".join(f"{d} {v[k]}" for d, v in DATASETS.items())
    # -- data, teacher (the authors' CIFAR-10 pair), text encoder
    a("--dataset", default="cifar10", choices=list(DATASETS), help="C, normalisation, defaults")
    a("--data-root", default="./data", help="where the data set's folder is, or is downloaded to")
    a("--image-size", type=int, help=f"N: resized at load, G makes N x N ({per('image_size')})")
    a("--teacher", choices=ARCHS, help=f"teacher T ({per('teacher')})")
    a("--student", choices=ARCHS, help=f"student S ({per('student')})")
    a("--teacher-ckpt", help="default checkpoints/pretrained/{dataset}_{teacher}.pth (DFKD)")
    a("--train-teacher-epochs", type=int, default=200, help="no teacher file: train T first")
    a("--text-encoder", default="clip-ViT-B-32", help="sentence-transformers name/folder for e_y")
    a("--prompt", default="a photo of {}", help="e_y's sentence (the authors' code: a image of {})")
    a("--lte-file", help="saved (C, D) label-text table instead of the text encoder")
    # -- the method: an option for every `NayerConfig` field, its type, default and help (the
    # field's comment) read from there; a per-data-set field's default from DATASETS
    fields = inspect.getsource(NayerConfig)
    notes = dict(re.findall(r"^    (\w+): \w+ = .+?  # (.+)", fields, re.M))  # name: comment
    special = dict(generator_input=dict(choices=["lte", "onehot", "noise"]),
                   flip=dict(choices=["on", "kd", "off"]),
                   noisy_layer=dict(type=str, choices=["on", "off"], default="on"),
                   amp=dict(type=None, action=argparse.BooleanOptionalAction, default=None))
    for f in dataclasses.fields(NayerConfig):
        kind = dict(type=f.type, default=f.default, help=f"{notes[f.name]} (default %(default)s)")
        if f.name in PER_DATASET:
            kind.update(default=None, help=f"{notes[f.name]} ({per(f.name)})")
        a("--" + f.name.replace("_", "-"), **dict(kind, **special.get(f.name, {})))
    # -- running it (ours, not the method's)
    a("--seed", type=int, default=0, help="the one seed of every random draw (all are torch's)")
    a("--resume", action="store_true", help="continue --out's run from its last epoch, exactly")
    a("--out", help="run folder; default runs/{dataset}_{teacher}_{student}")
    a("--device", default="auto", choices=["auto", "cpu", "cuda"], help="auto: CUDA if visible")
    a("--compile", action="store_true", help="torch.compile the student and the KD-time teacher")
    return p

def parse_args(argv=None):
    """Options -> namespace, per-data-set values filled in; every number checked here, before
    any long work."""
    args = parser().parse_args(argv)
    for name in PER_DATASET:  # options left unset take the data set's value (the config block)
        if getattr(args, name) is None:
            setattr(args, name, DATASETS[args.dataset][name])
    args.teacher_ckpt = args.teacher_ckpt or TEACHER_CKPT.format(**vars(args))
    args.out = args.out or f"runs/{args.dataset}_{args.teacher}_{args.student}"
    for name in ["train_teacher_epochs", "image_size"]:  # the method's: NayerConfig.check
        if not getattr(args, name) > 0:
            raise NayerError(f"--{name.replace('_', '-')} must be positive, got "
                             f"{getattr(args, name)}")
    if args.image_size % 4:  # the generator upsamples an (H/4, W/4) map twice
        raise NayerError(f"--image-size {args.image_size}: the generator upsamples twice, so "
                         f"sides must be multiples of 4, try {args.image_size // 4 * 4 or 4}")
    shape = (3, args.image_size, args.image_size)
    try:
        config_of(args, amp=False).check(DATASETS[args.dataset]["classes"], shape)
    except NayerError as e:
        raise NayerError(as_flags(str(e))) from None
    return args

def as_flags(message):
    """The method names a parameter as `name`; on the command line it is the flag --name."""
    return re.sub(r"`(\w+)`", lambda m: "--" + m[1].replace("_", "-"), message)

def config_of(args, amp):
    """The method's `NayerConfig` from the options; amp: the precision `amp_choice` picked."""
    knobs = {f.name: getattr(args, f.name) for f in dataclasses.fields(NayerConfig)}
    return NayerConfig(**dict(knobs, noisy_layer=args.noisy_layer == "on", amp=amp))

# --------------------------------------------------------------------------------------------- main
# `command` is the CLI's job around `distill`: the data, e_y, the teacher (trained first if none
# is given), then distillation into a `RunFolder`; it writes student.pth and summary.json there.
def command(args):
    """The CLI job: data, LTE, teacher, then `distill`; returns the summary dict."""
    torch.manual_seed(args.seed)  # every random draw below is torch's (CUDA too)
    device = pick_device(args.device)
    torch.backends.cudnn.benchmark = device.type == "cuda"  # autotuned convolutions, fixed shapes
    spec, (amp, why) = DATASETS[args.dataset], amp_choice(args, device)
    print("config: " + " ".join(f"{k}={v}" for k, v in vars(args).items())
          + f" | precision: {'bf16 autocast' if amp else 'fp32'} ({why})", flush=True)
    cfg, image_shape = config_of(args, amp), (3, args.image_size, args.image_size)
    # the run folder checks --out now; config.json: every option, amp as chosen
    folder = RunFolder(args.out, dict(vars(args), amp=amp), args.resume, args.compile)
    # the test split (Tiny-ImageNet: val) for evaluation only, and the class names for e_y
    x_test, y_test, classes = load_split(args, train=False)
    # e_y for every class, (C, D), before the teacher: an unreachable encoder fails in seconds
    lte = lte_table(args, classes, args.out)
    source = args.lte_file or f"{args.text_encoder}, prompt {args.prompt!r}"  # a file: as given
    print(f"label-text embedding: {tuple(lte.shape)} ({source})")
    mean, std = (torch.tensor(v).view(1, -1, 1, 1) for v in (spec["mean"], spec["std"]))
    x_test = (x_test.float() / 255 - mean) / std  # (N, 3, H, W)
    eval_loader = [(x_test[i:i + 1000], y_test[i:i + 1000]) for i in range(0, len(y_test), 1000)]
    torch.manual_seed(args.seed)  # the teacher's draws whether or not e_y was encoded
    teacher = build_model(args.teacher, spec["classes"]).to(device)
    default_ckpt = args.teacher_ckpt == TEACHER_CKPT.format(**vars(args))
    if os.path.exists(args.teacher_ckpt):  # the usual case: a given, trained teacher
        obj = load_checkpoint_into(teacher, args.teacher_ckpt, args.teacher, spec["classes"])
        trained, size = obj.get("train_teacher_epochs"), obj.get("image_size")  # if ours
        if size not in (None, args.image_size):
            raise NayerError(f"{args.teacher_ckpt} holds a teacher trained at {size} px: pass "
                             f"--image-size {size}")
        if trained not in (None, args.train_teacher_epochs) and default_ckpt:
            raise NayerError(f"{args.teacher_ckpt} holds a teacher this script trained for "
                             f"{trained} epochs, not the {args.train_teacher_epochs} asked: "
                             f"delete it to retrain, or name it in --teacher-ckpt")
    else:
        x_train, y_train, _ = load_split(args, train=True)
        train_teacher(teacher, x_train, y_train, args, mean, std, device, eval_loader, amp)
    t_acc = evaluate(teacher, eval_loader, device, amp)
    print(f"teacher {args.teacher}: test accuracy {t_acc:.2f}%", flush=True)
    torch.manual_seed(args.seed)  # same start whether the teacher was trained or loaded
    # cuDNN's fast layout; on a CPU as fast or faster (RESULTS section 7): one tested path
    teacher = teacher.to(memory_format=torch.channels_last)
    student = build_model(args.student, spec["classes"])
    student = student.to(device, memory_format=torch.channels_last)
    student, history = distill(teacher, student, lte, cfg, image_shape=image_shape,
                               mean=spec["mean"], std=spec["std"], eval_loader=eval_loader,
                               report=folder.report, callbacks=folder)
    accs = [h["acc"] for h in history if h["acc"] is not None]  # the last epoch is evaluated
    summary = dict(teacher_acc=t_acc, final_acc=accs[-1], best_acc_on_test=max(accs),
                   epochs=args.epochs, out=args.out)
    atomic_save(dict(state_dict=student.state_dict(), arch=args.student,
                     acc=summary["final_acc"]), Path(args.out) / "student.pth")
    atomic_write(Path(args.out) / "summary.json", json.dumps(summary, indent=1))
    print(f"final student test accuracy {summary['final_acc']:.2f}% (teacher {t_acc:.2f}%; best "
          f"over epochs {summary['best_acc_on_test']:.2f}%, chosen on test data, not a fair "
          f"number)", flush=True)
    return summary

def main(argv=None):
    """Entry point; errors the user can fix become one line on stderr and an exit code."""
    args = None
    try:
        args = parse_args(argv)
        return command(args)
    except NayerError as e:
        print(f"nayer.py: error: {as_flags(str(e))}", file=sys.stderr)
        raise SystemExit(e.code)
    except KeyboardInterrupt:  # Ctrl-C: no handler needed, the last epoch's checkpoint is intact
        what = "nothing was saved"
        if args and (Path(args.out) / "checkpoint.pt").exists():
            what = f"{args.out}/checkpoint.pt holds the last finished epoch: rerun with --resume"
        elif args and Path(f"{args.teacher_ckpt}.part").exists():
            what = f"{args.teacher_ckpt}.part holds the teacher's last epoch: rerun the command"
        print(f"nayer.py: interrupted; {what} to continue", file=sys.stderr)
        raise SystemExit(130)

if __name__ == "__main__":
    main()
