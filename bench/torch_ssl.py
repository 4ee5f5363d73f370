#!/usr/bin/python3
"""PyTorch reference of one SimCLR / VICReg step with noise injection, as nidim computes it
(ssl/contrastive.h, ssl/simclr.cpp, ssl/vicreg.cpp), for two uses:

  * tests/ssl/check_ssl_step.py builds these models from a case that nidim's test wrote, loads
    nidim's weights with strict key matching and compares loss, gradients and the update;
  * `torch_ssl.py --method simclr --batch 256 --steps 5` times the step (bench/compare_ssl_step
    runs it beside nidim's bench/ssl_step);
  * `torch_ssl.py train --method simclr --data-dir DIR --out DIR ...` trains the same recipe on
    an MNIST-family IDX folder with torchvision's transforms and writes features_{train,test}.npy,
    embeddings_{train,test}.npy and labels_{train,test}.npy that `eval_dm --probe` evaluates as it
    evaluates a train_dim run (docs/RESULTS.md's side-by-side Table 1 row).

Model names follow nidim's state dict: backbone.* (torchvision's ResNet-18 names, or the MLP's
fc1, fc2, ...), projector.0, projector.1, ... (an nn.Sequential), normalization.bn (affine-free
BatchNorm1d; gaussian prior only here), classifier (the online probe).
The optimizer is solo-learn's LARS (clip_lars_lr, exclude_bias_n_norm_lars), written here from
its published update rule; the probe has plain SGD with momentum 0.9.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class MlpBackbone(nn.Module):
    """nidim's mlp_encoder: flat, then fc1..fcK with LeakyReLU(0.01) between them."""

    def __init__(self, in_features, hidden, out):
        super().__init__()
        widths = [in_features] + list(hidden) + [out]
        self.names = []
        for k in range(len(widths) - 1):
            setattr(self, f"fc{k + 1}", nn.Linear(widths[k], widths[k + 1]))
            self.names.append(f"fc{k + 1}")

    def forward(self, x):
        h = x.flatten(1)
        for i, name in enumerate(self.names):
            h = getattr(self, name)(h)
            if i + 1 < len(self.names):
                h = F.leaky_relu(h, 0.01)
        return h


def resnet18_backbone(channels, stem="cifar"):
    """torchvision's ResNet-18 with the CIFAR stem of SSL libraries (or its own), no fc."""
    import torchvision
    net = torchvision.models.resnet18(num_classes=10)
    if stem == "cifar":
        net.conv1 = nn.Conv2d(channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
        net.maxpool = nn.Identity()
    elif channels != 3:
        net.conv1 = nn.Conv2d(channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
    net.fc = nn.Identity()
    return net


def projector(widths):
    layers = []
    for i in range(len(widths) - 1):
        layers.append(nn.Linear(widths[i], widths[i + 1]))
        if i + 2 < len(widths):
            layers += [nn.BatchNorm1d(widths[i + 1]), nn.ReLU()]
    return nn.Sequential(*layers)


class Normalization(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.bn = nn.BatchNorm1d(dim, affine=False)

    def forward(self, z):
        return self.bn(z)


class SslModel(nn.Module):
    def __init__(self, backbone, features, method, dim, hidden, noise, classes):
        super().__init__()
        self.backbone = backbone
        widths = [features] + [hidden] * (1 if method == "simclr" else 2) + [dim]
        self.projector = projector(widths)
        if noise:
            self.normalization = Normalization(dim)
        self.classifier = nn.Linear(features, classes)


def nt_xent(a, b, tau):
    """SimCLR's loss over [a; b] by torch's own ops: cosine similarities / tau, the diagonal
    masked out, cross-entropy against each row's other view."""
    n = a.shape[0]
    z = F.normalize(torch.cat([a, b]), dim=1)
    s = z @ z.t() / tau
    s = s.masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    return F.cross_entropy(s, target)


def vicreg_terms(a, b):
    """VICReg's three terms (Bardes et al., 2022, Algorithm 1; variance halved over the views)."""
    n, d = a.shape
    invariance = F.mse_loss(a, b)
    variance, covariance = 0.0, 0.0
    for x in (a, b):
        x = x - x.mean(dim=0)
        std = torch.sqrt(x.var(dim=0) + 1e-4)
        variance = variance + torch.mean(F.relu(1 - std)) / 2
        cov = (x.t() @ x) / (n - 1)
        off = cov - torch.diag(torch.diag(cov))
        covariance = covariance + off.pow(2).sum() / d
    return invariance, variance, covariance


def forward_step(model, x1, x2, labels, method, tau, weights, noise=None, vp_p=None):
    """The step's loss (method + probe) and the method's scalars."""
    h1, h2 = model.backbone(x1), model.backbone(x2)
    a, b = model.projector(h1), model.projector(h2)
    if noise is not None:
        c = torch.tensor(math.sqrt(1 - vp_p * vp_p), dtype=torch.float32)
        a = model.normalization(a) * c + noise[0]
        b = model.normalization(b) * c + noise[1]
    scalars = {}
    if method == "simclr":
        loss = nt_xent(a, b, tau)
        scalars["mi"] = math.log(2 * x1.shape[0] - 1) - loss.item()
    else:
        inv, var, cov = vicreg_terms(a, b)
        loss = weights[0] * inv + weights[1] * var + weights[2] * cov
        scalars.update(invariance=inv.item(), variance=var.item(), covariance=cov.item())
    feats = torch.cat([h1.detach(), h2.detach()])
    logits = model.classifier(feats)
    probe_loss = F.cross_entropy(logits, torch.cat([labels, labels]).long())
    scalars["loss"] = loss.item()
    scalars["probe_loss"] = probe_loss.item()
    scalars["probe_top1"] = (logits.argmax(1) == torch.cat([labels, labels]).long()).float().mean().item()
    return loss + probe_loss, scalars


@torch.no_grad()
def lars_step(params, lr, weight_decay, eta, momentum=0.9, buffers=None):
    """solo-learn's LARS with clip_lars_lr and exclude_bias_n_norm_lars: a 1-D tensor (bias,
    batch-norm) takes plain SGD with momentum; others scale (grad + wd p) by
    min(eta |p| / (|g| + wd |p| + 1e-8) / lr, 1) when both norms are positive."""
    buffers = {} if buffers is None else buffers
    for p in params:
        if p.grad is None:
            continue
        d_p = p.grad
        if p.ndim != 1:
            p_norm, g_norm = torch.norm(p), torch.norm(p.grad)
            if p_norm != 0 and g_norm != 0:
                q = eta * p_norm / (g_norm + p_norm * weight_decay + 1e-8)
                q = min(q / lr, 1)
                d_p = (d_p + weight_decay * p) * q
        if id(p) not in buffers:
            buffers[id(p)] = d_p.clone()
        else:
            buffers[id(p)].mul_(momentum).add_(d_p)
        p.add_(buffers[id(p)], alpha=-lr)
    return buffers


def read_idx(path):
    import gzip
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def train(argv):
    """Trains SimCLR / VICReg with noise injection as train_dim does (recipe, schedule, probe) on
    the first --limit-train images of an MNIST-family folder, then writes the eval-mode features
    and embeddings of --limit-test test images (and of the training images)."""
    import torchvision.transforms as T
    ap = argparse.ArgumentParser(prog="torch_ssl.py train")
    ap.add_argument("--method", default="simclr", choices=["simclr", "vicreg"])
    ap.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--mean", type=float, default=0.2860)
    ap.add_argument("--std", type=float, default=0.3530)
    ap.add_argument("--limit-train", type=int, default=0)
    ap.add_argument("--limit-test", type=int, default=0)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--warmup-epochs", type=int, default=10)
    ap.add_argument("--lr", type=float, default=None, help="base rate per 256 (0.4 / 0.3)")
    ap.add_argument("--p", type=float, default=0.1, help="variance-preserving noise; 0: none")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    method = args.method
    base_lr = args.lr if args.lr is not None else (0.4 if method == "simclr" else 0.3)
    lr = base_lr * args.batch / 256
    dim = 256 if method == "simclr" else 2048
    split = {}
    for name, prefix, limit in (("train", "train", args.limit_train),
                                ("test", "t10k", args.limit_test)):
        x = read_idx(os.path.join(args.data_dir, f"{prefix}-images-idx3-ubyte.gz"))
        y = read_idx(os.path.join(args.data_dir, f"{prefix}-labels-idx1-ubyte.gz"))
        if limit:
            x, y = x[:limit], y[:limit]
        split[name] = (torch.from_numpy(x.copy()).float().div(255).unsqueeze(1),
                       torch.from_numpy(y.astype(np.int64)))
    x_train, y_train = split["train"]
    size = x_train.shape[-1]
    view = T.Compose([
        T.RandomResizedCrop(size, scale=(0.08 if method == "simclr" else 0.2, 1.0)),
        T.RandomApply([T.ColorJitter(0.4, 0.4, 0.2, 0.1)], p=0.8),
        T.RandomGrayscale(p=0.2),
        T.RandomSolarize(0.5, p=0.0 if method == "simclr" else 0.1),
        T.RandomHorizontalFlip(p=0.5),
        T.Normalize([args.mean], [args.std])])
    noise = args.p > 0
    model = SslModel(resnet18_backbone(1), 512, method, dim, 2048, noise, 10)
    trained = list(model.backbone.parameters()) + list(model.projector.parameters())
    steps_per_epoch = x_train.shape[0] // args.batch
    total, warmup = args.epochs * steps_per_epoch, args.warmup_epochs * steps_per_epoch
    buffers, probe_buffers, step = {}, {}, 0
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(x_train.shape[0])
        t0, sums = time.perf_counter(), {}
        for k in range(steps_per_epoch):
            step += 1
            f = step / warmup if step <= warmup else 0.5 * (1 + math.cos(
                math.pi * min((step - warmup - 1) / max(total - warmup, 1), 1.0)))
            idx = order[k * args.batch:(k + 1) * args.batch]
            x = x_train[idx]
            x1 = torch.stack([view(img) for img in x])
            x2 = torch.stack([view(img) for img in x])
            eps = None
            if noise:
                eps = (torch.randn(args.batch, dim) * args.p, torch.randn(args.batch, dim) * args.p)
            for q in model.parameters():
                q.grad = None
            loss, scalars = forward_step(model, x1, x2, y_train[idx], method, 0.2, (25, 25, 1),
                                         eps, args.p)
            loss.backward()
            buffers = lars_step(trained, lr * f, 1e-4, 0.02, buffers=buffers)
            with torch.no_grad():  # the probe's SGD, momentum 0.9
                for q in model.classifier.parameters():
                    b = probe_buffers.get(id(q))
                    probe_buffers[id(q)] = q.grad.clone() if b is None else b.mul_(0.9).add_(q.grad)
                    q.add_(probe_buffers[id(q)], alpha=-0.1 * f)
            for key, v in scalars.items():
                sums[key] = sums.get(key, 0.0) + v
        line = {key: v / steps_per_epoch for key, v in sums.items()}
        line.update(epoch=epoch + 1, seconds=time.perf_counter() - t0)
        print("torch_ssl train: " + json.dumps(line), flush=True)
    model.eval()
    os.makedirs(args.out, exist_ok=True)
    with torch.no_grad():
        for name, (x, y) in split.items():
            feats, embs = [], []
            for start in range(0, x.shape[0], 512):
                xb = (x[start:start + 512] - args.mean) / args.std
                h = model.backbone(xb)
                z = model.projector(h)
                if noise:
                    z = model.normalization(z)
                feats.append(h)
                embs.append(z)
            np.save(os.path.join(args.out, f"features_{name}.npy"), torch.cat(feats).numpy())
            np.save(os.path.join(args.out, f"embeddings_{name}.npy"), torch.cat(embs).numpy())
            np.save(os.path.join(args.out, f"labels_{name}.npy"), y.numpy().astype(np.int32))
    print(f"torch_ssl train: wrote {args.out}/features_*.npy, embeddings_*.npy, labels_*.npy")
    return 0


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "train":
        return train(sys.argv[2:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--method", default="simclr", choices=["simclr", "vicreg"])
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--channels", type=int, default=3)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="0: all cores")
    ap.add_argument("--no-noise", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from torch_dim import blas_info, peak_rss_mib, setup_runtime
    setup_runtime(args.threads, False)
    torch.manual_seed(0)
    dim = 256 if args.method == "simclr" else 2048
    model = SslModel(resnet18_backbone(args.channels), 512, args.method, dim, 2048,
                     not args.no_noise, 10)
    model.train()
    x1 = torch.randn(args.batch, args.channels, args.size, args.size)
    x2 = torch.randn(args.batch, args.channels, args.size, args.size)
    labels = torch.randint(0, 10, (args.batch,))
    trained = list(model.backbone.parameters()) + list(model.projector.parameters())
    probe = torch.optim.SGD(model.classifier.parameters(), lr=0.1, momentum=0.9)
    buffers, ms, p = {}, [], 0.1
    for _ in range(args.steps + 1):
        t0 = time.perf_counter()
        noise = None if args.no_noise else (torch.randn(args.batch, dim) * p,
                                             torch.randn(args.batch, dim) * p)
        for q in model.parameters():
            q.grad = None
        loss, _ = forward_step(model, x1, x2, labels, args.method, 0.2, (25, 25, 1), noise, p)
        loss.backward()
        buffers = lars_step(trained, 0.4, 1e-4, 0.02, buffers=buffers)
        probe.step()
        ms.append(1000.0 * (time.perf_counter() - t0))
    step = statistics.median(ms[1:])
    allocator = "jemalloc" if "jemalloc" in os.environ.get("LD_PRELOAD", "") else (
        "glibc malloc (GLIBC_TUNABLES)" if os.environ.get("GLIBC_TUNABLES") else "glibc malloc")
    out = {"impl": "pytorch", "model": f"{args.method} resnet18 cifar stem", "batch": args.batch,
           "input": [args.batch, args.channels, args.size, args.size],
           "threads": torch.get_num_threads(), "step_ms": ms, "first_step_ms": ms[0],
           "ms_per_step": step, "images_per_second": 1000.0 * args.batch / step,
           "peak_rss_mib": peak_rss_mib(), "allocator": allocator,
           "mkldnn": torch.backends.mkldnn.is_available(), "blas": blas_info(),
           "torch": torch.__version__}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"torch_ssl: {args.method}, {' '.join(f'{t:.0f}' for t in ms)} ms per step; median "
              f"{step:.0f} ms, peak RSS {out['peak_rss_mib']:.0f} MiB, {allocator}")


if __name__ == "__main__":
    sys.exit(main())
