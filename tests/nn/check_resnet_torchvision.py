#!/usr/bin/python3
"""Loads the ResNet-18 weights test_resnet wrote into torchvision's resnet18 with strict key
matching, and checks that torchvision computes nidim's features on nidim's input, in eval mode
and in train mode, and that its train-mode pass moves the batch-norm running statistics (momentum
0.1, unbiased variance) and num_batches_tracked as nidim's did.

Usage: check_resnet_torchvision.py <dir with resnet_<case>.safetensors and resnet_<case>_io.safetensors>

The model: torchvision.models.resnet18(num_classes=10) with fc = Identity; for the cifar stem,
conv1 = Conv2d(C, 64, 3, 1, 1, bias=False) and maxpool = Identity; for the imagenet stem, conv1 =
Conv2d(C, 64, 7, 2, 3, bias=False) (torchvision's own when C = 3). The keys' "encoder." prefix (as
in the trainer's model.safetensors) is stripped.

Tolerance: |torch - nidim| <= 2e-4 * max|nidim| + 2e-4 |nidim|, per output. Both compute in
float32; the convolutions sum up to K = 4608 products in different orders (im2col + OpenBLAS
here, PyTorch's own kernels there), a relative error ~ sqrt(K) eps ~ 1e-5 per layer that 20
layers and the batch-norms (which divide by a batch standard deviation) carry to the features:
measured 3e-7 to 6e-6 of the scale. 2e-4 leaves room for other BLAS kernels; a wrong value
anywhere (a weight, a statistic, a stride) changes the features by O(1) of the scale. The running
statistics after the train-mode pass are compared the same way (they are averages of the same
float32 activations); num_batches_tracked exactly.
"""
import os
import sys

import torch
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "nn"))
import safetensors_py  # noqa: E402

CASES = ("cifar_c3_32", "cifar_c1_28", "imagenet_c3_64")
RTOL = ATOL = 2e-4


def make_model(channels, stem):
    net = torchvision.models.resnet18(num_classes=10)
    if stem == "cifar":
        net.conv1 = torch.nn.Conv2d(channels, 64, 3, 1, 1, bias=False)
        net.maxpool = torch.nn.Identity()
    else:
        net.conv1 = torch.nn.Conv2d(channels, 64, 7, 2, 3, bias=False)
    net.fc = torch.nn.Identity()
    return net


def close(what, got, want):
    err = (got - want).abs().max().item()
    scale = want.abs().max().item()
    ok = bool(((got - want).abs() <= ATOL * scale + RTOL * want.abs()).all())
    print(f"  {what}: max |difference| {err:.3g} (scale {scale:.3g}): {'ok' if ok else 'MISMATCH'}")
    return ok


def check(folder, case):
    state, meta = safetensors_py.load(os.path.join(folder, f"resnet_{case}.safetensors"))
    assert meta.get("made_by") == "test_resnet", meta
    prefix = "encoder."
    assert all(k.startswith(prefix) for k in state), "every key should carry the encoder. prefix"
    state = {k[len(prefix):]: v for k, v in state.items()}
    io, _ = safetensors_py.load(os.path.join(folder, f"resnet_{case}_io.safetensors"))
    x = io["x"]
    net = make_model(x.shape[1], meta["stem"])
    net.load_state_dict(state, strict=True)  # raises on a missing, unexpected or misshapen key
    print(f"{case}: torchvision loaded {len(state)} tensors with strict=True")
    ok = True
    with torch.no_grad():
        net.eval()
        ok &= close("eval-mode features", net(x), io["y_eval"])
        net.train()
        ok &= close("train-mode features", net(x), io["y_train"])
    after = {k[len("after."):]: v for k, v in io.items() if k.startswith("after.")}
    buffers = dict(net.named_buffers())
    assert set(after) == set(buffers), set(after) ^ set(buffers)
    stats_ok = True
    for name, want in after.items():
        got = buffers[name]
        if name.endswith("num_batches_tracked"):
            assert got.dtype == torch.int64 and want.dtype == torch.int64, (name, got.dtype, want.dtype)
            if got.item() != want.item():
                print(f"  {name}: torchvision {got.item()} nidim {want.item()}: MISMATCH")
                stats_ok = False
        else:
            scale = want.abs().max().item()
            if not bool(((got - want).abs() <= ATOL * scale + RTOL * want.abs()).all()):
                print(f"  {name}: max |difference| {(got - want).abs().max().item():.3g}: MISMATCH")
                stats_ok = False
    print(f"  running statistics after the train-mode pass ({len(after)} buffers): "
          f"{'ok' if stats_ok else 'MISMATCH'}")
    return ok and stats_ok


def main():
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    results = [check(sys.argv[1], case) for case in CASES]
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
