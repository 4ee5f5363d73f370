#!/usr/bin/python3
"""bench/torch_resnet.py: the PyTorch reference of bench/resnet_step (nidim's ResNet-18 step).

  /usr/bin/python3 bench/torch_resnet.py --batch 256 --steps 3 [--threads N] [--json]

The step, as resnet_step's: torchvision.models.resnet18 with the cifar stem (conv1 =
Conv2d(C, 64, 3, 1, 1, bias=False), maxpool = Identity, fc = Identity), training mode, features
[N, 512], loss = mse_loss(features, target), backward, SGD (lr 0.01, momentum 0.9). Every step is
timed; the first is reported apart, the others by their median; peak RSS from getrusage.
bench/compare_resnet_step sets the environment up for PyTorch at its best (OpenBLAS SkylakeX,
a malloc that keeps memory, all cores) and runs both.
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_dim import blas_info, peak_rss_mib, setup_runtime  # noqa: E402


def make_model(channels):
    net = torchvision.models.resnet18(num_classes=10)
    net.conv1 = torch.nn.Conv2d(channels, 64, 3, 1, 1, bias=False)
    net.maxpool = torch.nn.Identity()
    net.fc = torch.nn.Identity()
    return net


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--steps", type=int, default=3, help="timed steps, the first reported apart")
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--channels", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="0: all cores")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    setup_runtime(args.threads, False)
    torch.manual_seed(0)
    net = make_model(args.channels).train()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    target = torch.randn(args.batch, 512)
    ms, loss_last = [], 0.0
    for _ in range(args.steps):
        x = torch.randn(args.batch, args.channels, args.size, args.size)
        t0 = time.perf_counter()
        loss = F.mse_loss(net(x), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        ms.append(1000.0 * (time.perf_counter() - t0))
        loss_last = loss.item()
    step = statistics.median(ms[1:])
    allocator = "jemalloc" if "jemalloc" in os.environ.get("LD_PRELOAD", "") else (
        "glibc malloc (GLIBC_TUNABLES)" if os.environ.get("GLIBC_TUNABLES") else "glibc malloc")
    out = {"impl": "pytorch", "model": "resnet18 cifar stem", "batch": args.batch,
           "input": [args.batch, args.channels, args.size, args.size],
           "threads": torch.get_num_threads(), "step_ms": ms, "first_step_ms": ms[0],
           "ms_per_step": step, "images_per_second": 1000.0 * args.batch / step,
           "peak_rss_mib": peak_rss_mib(), "loss_last": loss_last, "allocator": allocator,
           "mkldnn": torch.backends.mkldnn.is_available(), "blas": blas_info(),
           "torch": torch.__version__}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"PyTorch {torch.__version__} ResNet-18 step, batch {args.batch}, {out['threads']} threads: "
              f"{step:.0f} ms/step (median of {len(ms) - 1}; first {ms[0]:.0f} ms), "
              f"peak RSS {out['peak_rss_mib']:.0f} MiB, {allocator}\n  {out['blas']}")


if __name__ == "__main__":
    main()
