#!/usr/bin/python3
"""Loads the weights test_nn wrote (nidim_net.safetensors) into PyTorch's ExchangeNet with
strict key matching, and checks that PyTorch computes nidim's output on nidim's input.

Usage: check_nidim_safetensors.py <dir with nidim_net.safetensors and nidim_net.json>
Tolerance: float32 through conv, batch-norm, pooling and a linear layer, 1e-5 relative + 1e-5.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "nn"))
import safetensors_py  # noqa: E402
from torch_net import ExchangeNet  # noqa: E402

folder = sys.argv[1]
state, metadata = safetensors_py.load(os.path.join(folder, "nidim_net.safetensors"))
assert metadata.get("made_by") == "test_nn", metadata
net = ExchangeNet()
net.load_state_dict(state, strict=True)
net.eval()
check = json.load(open(os.path.join(folder, "nidim_net.json")))
x = torch.tensor(check["input"]["data"], dtype=torch.float32).reshape(check["input"]["shape"])
want = torch.tensor(check["output"]["data"], dtype=torch.float32).reshape(check["output"]["shape"])
with torch.no_grad():
    got = net(x)
err = (got - want).abs().max().item()
ok = torch.allclose(got, want, rtol=1e-5, atol=1e-5)
print(f"PyTorch loaded {len(state)} tensors from nidim; max |difference| {err:.3g}: {'ok' if ok else 'MISMATCH'}")
sys.exit(0 if ok else 1)
