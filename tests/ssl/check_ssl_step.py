#!/usr/bin/python3
"""Recomputes with PyTorch the SimCLR and VICReg steps that test_ssl_methods wrote, and checks
nidim's loss, scalars, every parameter's gradient and the parameters after the LARS / SGD update.

Usage: check_ssl_step.py <ssl_step_reference dir>; one sub-folder per case (case.json,
before.safetensors, x1.npy, x2.npy, labels.npy, noise{1,2}.npy with noise, grads.safetensors,
after.safetensors). The model is bench/torch_ssl.py's, loaded with strict key matching.
Tolerances: float32 through two small MLPs, batch-norm and a loss over 32 rows: the loss to 2e-5
relative; gradients to 1e-4 of each tensor's largest entry (sums of ~100 float32 terms in a
different order) plus 1e-5 of the model's largest gradient (a bias just before a batch-norm has a
gradient that is zero in exact arithmetic, so both sides hold rounding noise there); updated
parameters to 1e-5 of their size plus the gradient tolerance times the learning rate and the
trust ratio's bound of 1.
"""
import json
import os
import sys

import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "fixtures", "nn"))
sys.path.insert(0, os.path.join(here, "..", "..", "bench"))
import safetensors_py  # noqa: E402
import torch_ssl  # noqa: E402

failures = 0


def fail(msg):
    global failures
    failures += 1
    print("FAIL: " + msg)


def check_case(folder):
    case = json.load(open(os.path.join(folder, "case.json")))
    before, _ = safetensors_py.load(os.path.join(folder, "before.safetensors"))
    grads, _ = safetensors_py.load(os.path.join(folder, "grads.safetensors"))
    after, _ = safetensors_py.load(os.path.join(folder, "after.safetensors"))
    x1 = torch.from_numpy(np.load(os.path.join(folder, "x1.npy")))
    x2 = torch.from_numpy(np.load(os.path.join(folder, "x2.npy")))
    labels = torch.from_numpy(np.load(os.path.join(folder, "labels.npy"))).long()
    classes = before["classifier.weight"].shape[0]
    if case["encoder"] == "mlp":
        backbone = torch_ssl.MlpBackbone(x1[0].numel(), case["mlp_hidden"], case["feature_dim"])
        features = case["feature_dim"]
    else:
        backbone = torch_ssl.resnet18_backbone(x1.shape[1], case.get("resnet_stem", "cifar"))
        features = 512
    model = torch_ssl.SslModel(backbone, features, case["method"], case["dim"],
                               case["projector_hidden"], case["noise"], classes)
    model.load_state_dict(before, strict=True)
    model.train()
    noise = None
    if case["noise"]:
        noise = (torch.from_numpy(np.load(os.path.join(folder, "noise1.npy"))),
                 torch.from_numpy(np.load(os.path.join(folder, "noise2.npy"))))
    total, scalars = torch_ssl.forward_step(model, x1, x2, labels, case["method"],
                                            case["temperature"], case["vicreg_weights"], noise,
                                            case["p"])
    for name, want in scalars.items():
        got = case["scalars"][name]
        if not abs(got - want) <= 2e-5 * max(1.0, abs(want)):
            fail(f"{folder}: {name} nidim {got} torch {want}")
    total.backward()
    named = dict(model.named_parameters())
    if set(grads) != set(named):
        fail(f"{folder}: gradients for {sorted(set(grads) ^ set(named))} on one side only")
    worst = 0.0
    largest = max(p.grad.abs().max().item() for p in named.values() if p.grad is not None)
    for name, p in named.items():
        if name not in grads:
            continue
        scale = p.grad.abs().max().item()
        err = (grads[name] - p.grad).abs().max().item()
        if scale > 1e-3 * largest:  # leave out the gradients that are zero in exact arithmetic
            worst = max(worst, err / scale)
        if not err <= 1e-4 * scale + 1e-5 * largest:
            fail(f"{folder}: gradient of {name} off by {err:.3g} (largest entry {scale:.3g})")
    trained = list(model.backbone.parameters()) + list(model.projector.parameters())
    torch_ssl.lars_step(trained, case["lr"], case["weight_decay"], case["lars_eta"])
    with torch.no_grad():  # the probe: SGD, first step of momentum = the gradient itself
        for p in model.classifier.parameters():
            p.add_(p.grad, alpha=-case["probe_lr"])
    state = model.state_dict()
    for name, want in state.items():
        got = after[name]
        if want.dtype != torch.float32:
            if not torch.equal(got.to(want.dtype), want):
                fail(f"{folder}: {name} nidim {got} torch {want}")
            continue
        tol = 1e-5 * want.abs().max().item() + 2e-4 * largest * max(case["lr"], case["probe_lr"])
        err = (got - want).abs().max().item()
        if not err <= tol:
            fail(f"{folder}: {name} after the step off by {err:.3g} (tolerance {tol:.3g})")
    moved = sum(float((after[n] - before[n]).abs().max()) for n in named)
    if moved == 0:
        fail(f"{folder}: the step changed nothing")
    print(f"{os.path.basename(folder)}: loss {scalars['loss']:.6f}, {len(grads)} gradients "
          f"(worst error {worst:.2e} of the tensor's largest entry, over the non-vanishing ones), {len(state)} tensors after "
          f"the step checked")


root = sys.argv[1]
cases = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
if not cases:
    fail(f"no cases in {root}")
for c in cases:
    check_case(os.path.join(root, c))
print(f"{len(cases)} cases, {failures} failure(s)")
sys.exit(1 if failures else 0)
