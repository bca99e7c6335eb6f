"""Break NAYER one line at a time and see which fast test notices (RESULTS section 12).

Each entry of BREAKS is one mechanism of the method and a one-line change of `nayer.py` that breaks
it (an exact text, found exactly once, and its replacement). For each, a copy of `nayer.py` and
`test_nayer.py` is made in a temporary folder, the break applied there (the work tree is never
touched), and the fast mechanism tests (FAST, about 20 s) run; the tests that fail are recorded.

    python experiments/break_tests.py --out docs/results/break_tests.json   # all breaks, ~10 min on 2 cores
    python experiments/break_tests.py --only 3 11                           # some of them, printed only

A break whose text is no longer in `nayer.py` (the code moved on) is reported as such, not skipped
silently; update its text. Exit status 1 if any break went unnoticed or could not be applied.
"""
import argparse, json, os, re, shutil, subprocess, sys, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# (mechanism, what the break does, text in nayer.py, replacement)
BREAKS = [
    ("Z re-initialised each round", "synthesize_round keeps last round's Z",
     "    G.new_round()\n", "    pass\n"),
    ("Z re-initialised each round", "Z's bias not zeroed", "            self.noisy_b.zero_()\n",
     ""),
    ("K-to-1", "chunks of C samples go to the wrong noisy layers", "torch.bmm(h.view(K, B // K, -1), self.noisy_w)",
     "torch.bmm(h.view(B // K, K, -1).transpose(0, 1), self.noisy_w)"),
    ("L_BN", "variance term dropped", "self.terms.append(term + torch.linalg.vector_norm(var - module.running_var))",
     "self.terms.append(term)"),
    ("L_BN momentum", "bn_loss.end_round() removed: the EMA never updates", "    bn_loss.end_round()  # the authors'",
     "    pass  # "),
    ("L_BN momentum", "blend weights swapped", "(1 - m) * mean + m * ema_mean", "m * mean + (1 - m) * ema_mean"),
    ("L_BN momentum", "EMA update weights swapped", "m * ema_mean + (1 - m) * mean", "(1 - m) * ema_mean + m * mean"),
    ("L_BN momentum", "distill ignores --bn-momentum", "BNStatLoss(teacher, cfg.bn_momentum)", "BNStatLoss(teacher, 0.0)"),
    ("L_OH", "cross-entropy against the wrong labels", "F.cross_entropy(t_logits.float(), y)",
     "F.cross_entropy(t_logits.float(), y.flip(0))"),
    ("L_ADV mask", "mask dropped", "return -(kl * mask).mean()", "return -kl.mean()"),
    ("weights and signs in L_G", "L_ADV's sign flipped", "loss = alpha * l_bn + beta * l_oh + gamma * l_adv",
     "loss = alpha * l_bn + beta * l_oh - gamma * l_adv"),
    ("weights and signs in L_G", "beta replaced by alpha", "loss = alpha * l_bn + beta * l_oh + gamma * l_adv",
     "loss = alpha * l_bn + alpha * l_oh + gamma * l_adv"),
    ("weights and signs in L_G", "synthesize_round reads the weights in the wrong order",
     "alpha, beta, gamma = cfg.bn, cfg.oh, cfg.adv", "alpha, beta, gamma = cfg.oh, cfg.bn, cfg.adv"),
    ("keep-the-best", "keeps the last step's batch",
     "best_x = x.detach() if best_x is None else torch.where(better, x.detach(), best_x)", "best_x = x.detach()"),
    ("keep-the-best", "keeps the first step's batch",
     "best_x = x.detach() if best_x is None else torch.where(better, x.detach(), best_x)",
     "best_x = x.detach() if best_x is None else best_x"),
    ("keep-the-best", "the lowest loss is never updated",
     "            best_loss = torch.where(better, loss.detach(), best_loss)\n", ""),
    ("keep-the-best", "keeps the highest-L_G batch", "better = loss.detach() < best_loss",
     "better = loss.detach() > best_loss"),
    ("synthesis augmentation", "G's images reach the teacher unaugmented", "xa = augment(x, mean, std, cfg.flip == \"on\")",
     "xa = (x - mean) / std"),
    ("rebuild rule", "G rebuilt on one clock only (epoch mod g_life)",
     "(epoch % cfg.g_life == 0 or (epoch - cfg.warmup) % cfg.g_life == 0)", "(epoch % cfg.g_life == 0)"),
    ("warm-up without L_ADV and KD", "L_ADV on in warm-up", "use_adv=not warm", "use_adv=True"),
    ("warm-up without L_ADV and KD", "KD steps in warm-up", "        if not warm:\n            batches = kd_batches",
     "        if True:\n            batches = kd_batches"),
    ("warm-up without L_ADV and KD", "student in train mode while serving L_ADV",
     "student.eval().requires_grad_(False)  # S only", "student.train().requires_grad_(False)  # S only"),
    ("KD temperature", "kd_step uses T = 1 instead of the config's", "teacher(x), cfg.T)", "teacher(x), 1.0)"),
    ("KD temperature", "L_KD without the T^2 factor", 'return kl * T * T', 'return kl * T'),
    ("KD batches", "batches drawn from the newest round only", "kd_batches(n, cfg.kd_steps", "kd_batches(B, cfg.kd_steps"),
    ("KD batches", "batch size not --batch-size", "cfg.kd_steps, cfg.batch_size, device",
     "cfg.kd_steps, 2 * cfg.batch_size, device"),
    ("KD batches", "KD reads the newest rows instead of the drawn ones", "kd_step(kd_student, kd_teacher, opt, M[idx]",
     "kd_step(kd_student, kd_teacher, opt, M[n - B:n][idx % B]"),
    ("KD flips", "flips in synthesis under flip kd", 'xa = augment(x, mean, std, cfg.flip == "on")',
     'xa = augment(x, mean, std, cfg.flip != "off")'),
    ("KD flips", "no flips in KD under flip kd", 'mean, std, cfg.flip != "off")', 'mean, std, cfg.flip == "on")'),
    ("cosine schedule", "cosine over the whole run, warm-up included", "CosineAnnealingLR(opt, cfg.epochs - cfg.warmup,",
     "CosineAnnealingLR(opt, cfg.epochs,"),
    ("cosine schedule", "no cosine step", "            sched.step()  # one cosine step per post-warm-up epoch\n", ""),
    ("the bank M", "each round overwrites the first rows", "M[n:n + B] = (x * 255)", "M[0:B] = (x * 255)"),
    ("contracts", "evaluation draws from the training's random stream",
     "    with torch.random.fork_rng(devices=[]):\n", "    with contextlib.nullcontext():\n"),
    ("contracts", "synthesize_round takes a teacher in train mode",
     "    if any(m.training or any(p.requires_grad for p in m.parameters()) for m in models):",
     "    if False:"),
]
FAST = ("two_synthesis or gradient_reaches or schedule_bank or rebuilt or k_to_1 or new_round or bn_loss or "
        "adv_loss or kd_loss or crop_flip or kd_batches or usage_example or channels_last or flip_kd or ablation or "
        "same_run or contract")


def try_break(i):
    mechanism, what, old, new = BREAKS[i]
    text = (ROOT / "nayer.py").read_text()
    if text.count(old) != 1:
        return dict(mechanism=mechanism, do=what, error=f"text found {text.count(old)} times in nayer.py")
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "nayer.py").write_text(text.replace(old, new))
        shutil.copy(ROOT / "test_nayer.py", d)
        p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_nayer.py", "-k",
                            FAST], cwd=d, capture_output=True, text=True, env=dict(os.environ, HF_HUB_OFFLINE="1"))
    failed = sorted(set(re.findall(r"FAILED test_nayer.py::(\w+)", p.stdout)))
    return dict(mechanism=mechanism, do=what, caught_by=failed, summary=p.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", type=int, nargs="*", help="indices into BREAKS (default: all)")
    ap.add_argument("--out", help="write the record here as JSON")
    args = ap.parse_args()
    rows = []
    for i in args.only if args.only else range(len(BREAKS)):
        rows.append(try_break(i))
        r = rows[-1]
        verdict = r.get("error") or (", ".join(r["caught_by"]) if r["caught_by"] else "NOT CAUGHT")
        print(f"{i:2d} {r['mechanism']}: {r['do']}: {verdict}", flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(dict(fast_tests=FAST, breaks=rows), indent=1) + "\n")
    return 1 if any(r.get("error") or not r["caught_by"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
