#!/usr/bin/python3
"""bench/torch_dim.py: the PyTorch reference of nidim's noise-injected Deep InfoMax (METHOD.md §1-§4).

It mirrors one training step of ssl/dim.cpp with PyTorch's stock layers, so that the two can be
compared for speed (bench/compare_dim_step) and for what they learn (same config, same outputs).

  step   times the training step on random MNIST-shaped batches, the counterpart of
         build/bench/dim_step; with --json one line with the same keys:
           /usr/bin/python3 bench/torch_dim.py step --batch 256 --critic mlp --steps 5 --warmup 1 --json
  train  the full training on MNIST (data/mnist/*.gz, see scripts/get_data); writes config.json,
         log.jsonl (one line per epoch, each epoch timed), embeddings_{train,test}.npy (float32
         N x d, eval mode, noise-free) and labels_{train,test}.npy (int32) into --out:
           /usr/bin/python3 bench/torch_dim.py train --prior gaussian --epochs 5 --out runs/torch_g
  sgemm  times a 1024 x 1024 float32 matmul through torch: which BLAS, how many GFLOP/s
           /usr/bin/python3 bench/torch_dim.py sgemm --json

Run it with Debian's /usr/bin/python3 (python3-torch 1.13, numpy); standard library + torch + numpy
only. Debian's torch calls the system BLAS (libblas.so.3); the "blas" field of the step output says
which library sgemm_ binds to and the environment that matters. For PyTorch at its best on this
machine (bench/compare_dim_step sets these and explains each; bench/README.md has the numbers):
  OPENBLAS_CORETYPE=SkylakeX GOMP_SPINCOUNT=1000 \
  GLIBC_TUNABLES=glibc.malloc.mmap_threshold=4294967296:glibc.malloc.trim_threshold=17179869184 \
  /usr/bin/python3 bench/torch_dim.py ...

The step (both modes):
  x' = x + N(0, 0.2^2) per pixel, no clamping
  y = n(g(x)), y' = n(g(x'))       two separate encoder calls: batch-norm statistics per view
  y~ = channel(y), y~' = channel(y')   fresh noise every step, training only
    gaussian: n = BatchNorm1d(d, affine=False); y~ = sqrt(1 - p^2) y + p eps, eps ~ N(0, I)
    uniform:  n = Phi(BatchNorm1d(d, affine=False)); y~ = (1 - p) y + p u, u ~ U[0, 1]^d
  S[i, j] = T(y~_i, y~'_j) for all B x B pairs; I_hat = log B - cross_entropy(S, arange(B))
  loss = -I_hat; Adam (lr 1e-3, PyTorch defaults otherwise) for encoder and critic.
Capacity C = d * (-log p) for both priors; the certificate is KL <= C - I_hat.
Left out (nidim has them): other bounds (DV, NWJ), cosine/gaussian critics, the follow-up layer
order, checkpoints and the evaluation metrics.
"""
import argparse
import ctypes
import gzip
import json
import math
import os
import resource
import sys
import time
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

AUGMENT_SIGMA = 0.2  # x' = x + N(0, 0.2^2)
TEMPERATURE = 0.1    # dot critic
LRELU = 0.01


# ---------------------------------------------------------------------------------------------
# Model. Module names follow nidim's state dict ("encoder.conv1", "normalization.bn", "critic.fc1"),
# so a train_dim run's model.safetensors loads into DimModel with strict key matching.

def make_encoder(dim):
    """The "paper" order ConvNet g: [N, 1, 28, 28] -> [N, d] (28 -> 26 -> 13 -> 11 -> 5 -> 3 -> 1)."""
    layers = []
    c = 1
    for k, w in enumerate((32, 64, 128), start=1):
        layers += [(f"conv{k}", nn.Conv2d(c, w, 3)), (f"pool{k}", nn.AvgPool2d(2)),
                   (f"act{k}", nn.LeakyReLU(LRELU)), (f"bn{k}", nn.BatchNorm2d(w))]
        c = w
    layers += [("flat", nn.Flatten()), ("fc1", nn.Linear(128, 128)), ("act4", nn.LeakyReLU(LRELU)),
               ("fc2", nn.Linear(128, dim))]
    return nn.Sequential(OrderedDict(layers))


class Normalization(nn.Module):
    """n: h [B, d] -> y [B, d]; BN without affine (gaussian) or Phi(BN(h)) into [0, 1] (uniform)."""

    def __init__(self, dim, prior):
        super().__init__()
        self.prior = prior
        self.bn = nn.BatchNorm1d(dim, affine=False)

    def forward(self, h):
        y = self.bn(h)
        if self.prior == "uniform":
            y = 0.5 * (1.0 + torch.erf(y * (1.0 / math.sqrt(2.0))))  # Phi
        return y


def apply_channel(y, prior, p):
    """The training-time noise channel, fresh noise from torch's global generator."""
    if prior == "uniform":  # rescaled: (1 - p) y + p u, u ~ U[0, 1]^d
        return (1.0 - p) * y + p * torch.rand_like(y)
    # variance-preserving: sqrt(1 - p^2) y + p eps, eps ~ N(0, I)
    return math.sqrt(1.0 - p * p) * y + p * torch.randn_like(y)


class JointCritic(nn.Module):
    """The paper's joint MLP critic T(a, b) = MLP([a; b]) on all B x B pairs.

    This is the straightforward PyTorch formulation: materialize the pairs as a [B, B, 2d] tensor
    and run the MLP over it, so the hidden activations are [B, B, 256] (held for backward).
    nidim splits the first layer (W [a; b] = W_a a + W_b b) and tiles the rows instead.
    """

    def __init__(self, dim, hidden=256):
        super().__init__()
        # nidim's names (critic.fc1, fc2, fc3), so that its model.safetensors loads strictly.
        self.fc1 = nn.Linear(2 * dim, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.fc3 = nn.Linear(hidden, 1)

    def forward(self, a, b):  # a, b [B, d] -> S [B, B], S[i, j] = T(a_i, b_j)
        n, d = a.shape
        pairs = torch.cat([a.unsqueeze(1).expand(n, n, d), b.unsqueeze(0).expand(n, n, d)], dim=2)
        h = F.leaky_relu(self.fc1(pairs), LRELU)
        h = F.leaky_relu(self.fc2(h), LRELU)
        return self.fc3(h).squeeze(-1)


class DotCritic(nn.Module):
    """Separable critic S = a b^T / tau (no parameters)."""

    def __init__(self, tau=TEMPERATURE):
        super().__init__()
        self.tau = tau

    def forward(self, a, b):
        return a @ b.t() / self.tau


class DimModel(nn.Module):
    def __init__(self, dim, prior, critic):
        super().__init__()
        self.encoder = make_encoder(dim)
        self.normalization = Normalization(dim, prior)
        self.critic = JointCritic(dim) if critic == "mlp" else DotCritic()

    def embed(self, x):  # y = n(g(x))
        return self.normalization(self.encoder(x))


def make_optimizers(model, lr=1e-3):
    opts = [torch.optim.Adam(list(model.encoder.parameters()) + list(model.normalization.parameters()), lr=lr)]
    critic_params = list(model.critic.parameters())
    if critic_params:
        opts.append(torch.optim.Adam(critic_params, lr=lr))
    return opts


def train_step(model, opts, x, x2, prior, p):
    """One step; returns (loss, mi_estimate) as floats."""
    lv = queue_step(model, opts, x, x2, prior, p).item()
    return lv, -lv


def queue_step(model, opts, x, x2, prior, p):
    """One step, not waited for; returns the loss tensor."""
    model.train()
    a = apply_channel(model.embed(x), prior, p)   # two encoder calls: BN statistics per view
    b = apply_channel(model.embed(x2), prior, p)
    scores = model.critic(a, b)                   # [B, B]
    n = scores.shape[0]
    ce = F.cross_entropy(scores, torch.arange(n, device=scores.device))
    loss = ce - math.log(n)                       # -I_hat, I_hat = log B - CE
    for o in opts:
        o.zero_grad(set_to_none=True)
    loss.backward()
    for o in opts:
        o.step()
    return loss


def count_subnormals(model, opts):
    """Subnormal float32 values in the parameters, their gradients and Adam's moments."""
    tiny = torch.finfo(torch.float32).tiny
    tensors = [p for p in model.parameters()] + [p.grad for p in model.parameters() if p.grad is not None]
    tensors += [v for o in opts for st in o.state.values() for v in st.values() if torch.is_tensor(v) and v.dim() > 0]
    return int(sum(int(((t != 0) & (t.abs() < tiny)).sum()) for t in tensors))


def capacity(dim, p):
    return dim * (-math.log(p))


# ---------------------------------------------------------------------------------------------
# Environment: threads, denormals, which BLAS torch's sgemm_ binds to.

def setup_runtime(threads, flush_denormal):
    # FTZ/DAZ is per thread (MXCSR); threads inherit it when they are created, so set it before
    # torch starts its OpenMP pool. OpenBLAS's own pthread workers are created when the library
    # loads (at "import torch") and do not get it.
    if flush_denormal:
        if not torch.set_flush_denormal(True):
            print("warning: torch.set_flush_denormal(True) is not supported on this CPU", file=sys.stderr)
    n = threads if threads > 0 else (os.cpu_count() or 1)
    torch.set_num_threads(n)
    # OpenBLAS keeps its own thread count (all cores): give it the same, or a run with fewer
    # threads than cores would let PyTorch's matrix products use more than nidim's.
    try:
        ctypes.CDLL("libopenblas.so.0").openblas_set_num_threads(n)
    except (OSError, AttributeError):
        pass  # not OpenBLAS: torch.set_num_threads covers it


class _DlInfo(ctypes.Structure):
    _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]


def blas_info():
    """Which library torch's sgemm_ resolves to, and OpenBLAS's build/core if it is OpenBLAS."""
    core_env = os.environ.get("OPENBLAS_CORETYPE", "(unset)")
    where = "?"
    try:
        torch_lib = os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so")
        lib = ctypes.CDLL(torch_lib)  # already loaded: same handle, dlsym searches its dependencies
        addr = ctypes.cast(lib.sgemm_, ctypes.c_void_p).value
        info = _DlInfo()
        libc = ctypes.CDLL(None)
        if libc.dladdr(ctypes.c_void_p(addr), ctypes.byref(info)):
            where = os.path.realpath(info.dli_fname.decode())
    except (OSError, AttributeError) as e:
        where = f"? ({e})"
    text = f"sgemm_ from {where}"
    if "openblas" in where:
        try:
            ob = ctypes.CDLL("libopenblas.so.0")  # the one already loaded (wrapper's dependency)
            ob.openblas_get_config.restype = ctypes.c_char_p
            ob.openblas_get_corename.restype = ctypes.c_char_p
            text = (f"{ob.openblas_get_config().decode()} (core {ob.openblas_get_corename().decode()}, "
                    f"{ob.openblas_get_num_threads()} threads, {text})")
        except (OSError, AttributeError):
            pass
    elif "/blas/" in where:
        text = f"reference BLAS (netlib), {text}"
    extra = "".join(f"; {k}={os.environ[k]}" for k in ("LD_LIBRARY_PATH", "GOMP_SPINCOUNT", "GLIBC_TUNABLES")
                    if os.environ.get(k))
    return f"{text}; OPENBLAS_CORETYPE={core_env}{extra}"


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


# ---------------------------------------------------------------------------------------------
# step mode

def run_back_to_back(model, opts, args, device):
    """ms per step of args.steps steps queued back to back on a CUDA device."""
    batches = []
    for _ in range(args.steps):
        x = torch.rand(args.batch, 1, 28, 28)
        batches.append((x, x + AUGMENT_SIGMA * torch.randn_like(x)))
    t0 = time.perf_counter()
    previous = None
    for x, x2 in batches:
        loss = queue_step(model, opts, x.to(device), x2.to(device), args.prior, args.p)
        host = loss.detach().to("cpu", non_blocking=True)
        done = torch.cuda.Event()
        done.record()
        if previous is not None:
            previous[1].synchronize()
            float(previous[0])
        previous = (host, done)
    torch.cuda.synchronize(device)
    float(previous[0])
    return (time.perf_counter() - t0) * 1000.0 / args.steps


def run_step(args):
    setup_runtime(args.threads, args.flush_denormal)
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    if cuda and not torch.cuda.is_available():
        sys.exit("torch_dim.py: --device cuda, but torch.cuda.is_available() is False")
    # float32 throughout unless --tf32 (nidim's default and its --tf32). PyTorch's own default
    # differs: TF32 off for matmul, on for cuDNN convolutions.
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    torch.backends.cudnn.allow_tf32 = args.tf32
    model = DimModel(args.dim, args.prior, args.critic).to(device)
    opts = make_optimizers(model)
    step_ms = []
    mi = float("nan")
    for s in range(args.warmup + args.steps):
        x = torch.rand(args.batch, 1, 28, 28)
        x2 = x + AUGMENT_SIGMA * torch.randn_like(x)
        if cuda and s == args.warmup:
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
        t0 = time.perf_counter()
        _, mi = train_step(model, opts, x.to(device), x2.to(device), args.prior, args.p)
        if cuda:
            torch.cuda.synchronize(device)  # (loss.item() has synchronized already; explicit anyway)
        t = (time.perf_counter() - t0) * 1000.0
        if s >= args.warmup:
            step_ms.append(t)
    mean = sum(step_ms) / len(step_ms)
    peak_device = torch.cuda.max_memory_allocated(device) / 2**20 if cuda else 0.0
    # On a GPU, the same number of steps back to back, as dim_step's ms_per_step_pipelined: each
    # step's loss is copied to pinned memory without blocking and read after the next step is
    # queued, and the device is waited for once, at the end. On the CPU, the step time itself.
    pipelined = mean if not cuda else run_back_to_back(model, opts, args, device)

    out = {"impl": "pytorch", "device": str(device), "peak_device_mib": peak_device,
           "batch": args.batch, "critic": args.critic, "prior": args.prior, "tf32": args.tf32,
           "threads": torch.get_num_threads(), "ms_per_step": mean, "step_ms": step_ms,
           "ms_per_step_pipelined": pipelined,
           "images_per_second": 1000.0 * args.batch / mean, "peak_rss_mib": peak_rss_mib(),
           "mi_estimate_last": mi, "blas": blas_info(), "torch": torch.__version__}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"pytorch DIM step: batch {args.batch}, critic {args.critic}, {out['threads']} threads: "
              f"{mean:.1f} ms/step ({pipelined:.1f} back to back), {out['images_per_second']:.0f} images/s, peak RSS {out['peak_rss_mib']:.0f} MiB"
              f"\n  {out['blas']}")


# ---------------------------------------------------------------------------------------------
# sgemm mode: is torch's BLAS the fast one? (bench/compare_dim_step runs it per BLAS setup)

def run_sgemm(args):
    setup_runtime(args.threads, False)
    n = args.size
    a, b = torch.rand(n, n), torch.rand(n, n)
    for _ in range(3):
        a @ b
    times = []
    for _ in range(args.reps):
        t0 = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t0)
    times.sort()
    flop = 2.0 * n ** 3
    out = {"size": n, "threads": torch.get_num_threads(), "gflops_median": flop / times[len(times) // 2] / 1e9,
           "gflops_best": flop / times[0] / 1e9, "blas": blas_info()}
    print(json.dumps(out) if args.json else
          f"sgemm {n}x{n}: {out['gflops_median']:.1f} GFLOP/s median, {out['gflops_best']:.1f} best, "
          f"{out['threads']} threads\n  {out['blas']}")


# ---------------------------------------------------------------------------------------------
# train mode

def read_idx(path):
    """An IDX file (gzip): uint8 array with the file's dimensions."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path}: not an IDX file of unsigned bytes")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * k: 8 + 4 * k], "big") for k in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: {data.size} bytes of data for shape {shape}")
    return data.reshape(shape)


def load_mnist(data_dir, split):
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz"))
    x = torch.from_numpy(images.astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
    return x, labels.astype(np.int32)


@torch.no_grad()
def embed_all(model, x, chunk=1024):
    model.eval()  # BN running statistics, no channel noise
    parts = [model.embed(x[i:i + chunk]) for i in range(0, x.shape[0], chunk)]
    return torch.cat(parts).numpy().astype(np.float32)


def write_json_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def run_train(args):
    setup_runtime(args.threads, args.flush_denormal)
    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    x_train, y_train = load_mnist(args.data, "train")
    x_test, y_test = load_mnist(args.data, "test")
    if args.limit_train > 0:
        x_train, y_train = x_train[:args.limit_train], y_train[:args.limit_train]
    n = x_train.shape[0]
    steps_per_epoch = n // args.batch  # drop_last
    if steps_per_epoch == 0:
        sys.exit(f"torch_dim.py: {n} training images are fewer than one batch of {args.batch}")
    cap = capacity(args.dim, args.p)
    noise = {"form": "rescaled" if args.prior == "uniform" else "variance-preserving", "p": args.p}
    if args.prior == "uniform":
        noise["epsilon"] = args.p / (1.0 - args.p)
    else:
        noise["sigma"] = args.p / math.sqrt(1.0 - args.p * args.p)
    config = {"impl": "pytorch", "torch": torch.__version__, "prior": args.prior, "embedding_dim": args.dim,
              "noise": noise, "capacity": cap, "capacity_per_dim": -math.log(args.p), "critic": args.critic,
              "temperature": TEMPERATURE if args.critic == "dot" else None, "bound": "infonce",
              "augment_sigma": AUGMENT_SIGMA, "batch": args.batch, "epochs": args.epochs, "seed": args.seed,
              "lr": 1e-3, "critic_lr": 1e-3, "limit_train": args.limit_train, "threads": torch.get_num_threads(),
              "flush_denormal": args.flush_denormal, "blas": blas_info()}
    write_json_atomic(os.path.join(args.out, "config.json"), json.dumps(config, indent=2) + "\n")
    if math.log(args.batch) <= cap:
        print(f"warning: log B = {math.log(args.batch):.3f} <= capacity {cap:.3f}: InfoNCE saturates below the "
              "capacity", file=sys.stderr)

    model = DimModel(args.dim, args.prior, args.critic)
    opts = make_optimizers(model)
    shuffle = torch.Generator().manual_seed(args.seed + 1)
    log_path = os.path.join(args.out, "log.jsonl")
    lines = []
    for epoch in range(1, args.epochs + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        order = torch.randperm(n, generator=shuffle)
        loss_sum = mi_sum = 0.0
        for k in range(steps_per_epoch):
            idx = order[k * args.batch:(k + 1) * args.batch]
            x = x_train[idx]
            x2 = x + AUGMENT_SIGMA * torch.randn_like(x)
            loss, mi = train_step(model, opts, x, x2, args.prior, args.p)
            if not math.isfinite(loss):
                sys.exit(f"torch_dim.py: non-finite loss at epoch {epoch}, step {k + 1}")
            loss_sum += loss
            mi_sum += mi
        seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
        mi_mean = mi_sum / steps_per_epoch
        # cpu_seconds (all threads) and the load average tell a slow epoch from a busy machine;
        # subnormals counts denormal values in the weights, gradients and Adam state.
        line = {"type": "epoch", "epoch": epoch, "steps": steps_per_epoch, "loss": loss_sum / steps_per_epoch,
                "mi_estimate": mi_mean, "capacity": cap, "kl_bound": cap - mi_mean, "log_batch": math.log(args.batch),
                "seconds": seconds, "images_per_second": steps_per_epoch * args.batch / seconds,
                "cpu_seconds": cpu_seconds, "load_average": round(os.getloadavg()[0], 2),
                "subnormals": count_subnormals(model, opts)}
        lines.append(json.dumps(line))
        write_json_atomic(log_path, "\n".join(lines) + "\n")
        print(f"epoch {epoch}/{args.epochs}: loss {line['loss']:.4f}, I_hat {mi_mean:.4f}, "
              f"KL bound {cap - mi_mean:.4f}, {seconds:.1f} s ({line['images_per_second']:.0f} images/s, "
              f"{cpu_seconds:.1f} CPU s, load {line['load_average']}, {line['subnormals']} subnormals)", flush=True)

    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        np.save(os.path.join(args.out, f"embeddings_{split}.npy"), embed_all(model, x))
        np.save(os.path.join(args.out, f"labels_{split}.npy"), y.astype(np.int32))
    torch.save(model.state_dict(), os.path.join(args.out, "model.pt"))


# ---------------------------------------------------------------------------------------------

def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)

    def common(p):
        p.add_argument("--prior", choices=("gaussian", "uniform"), default="gaussian")
        p.add_argument("--critic", choices=("mlp", "dot"), default="mlp")
        p.add_argument("--dim", type=int, default=2, help="embedding size d")
        p.add_argument("--p", type=float, default=0.0995, help="channel parameter p (gaussian: sigma = 0.1)")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--threads", type=int, default=0, help="torch threads (0: all cores)")
        p.add_argument("--flush-denormal", action="store_true", help="torch.set_flush_denormal(True)")

    st = sub.add_parser("step", help="time the training step on random MNIST-shaped batches")
    common(st)
    st.add_argument("--batch", type=int, default=256)
    st.add_argument("--steps", type=int, default=5)
    st.add_argument("--warmup", type=int, default=1)
    st.add_argument("--json", action="store_true", help="one JSON line (dim_step --json's keys)")
    st.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N (scripts/gpu_check)")
    st.add_argument("--tf32", action="store_true",
                    help="TF32 tensor cores for matmul and cuDNN (default: float32 for both)")

    tr = sub.add_parser("train", help="train on MNIST and export embeddings")
    common(tr)
    tr.add_argument("--batch", type=int, default=256)
    tr.add_argument("--epochs", type=int, default=5)
    tr.add_argument("--limit-train", type=int, default=0, help="use the first N training images (0: all)")
    tr.add_argument("--data", default=os.path.join(here, "..", "data", "mnist"), help="MNIST .gz directory")
    tr.add_argument("--out", required=True, help="run directory")

    sg = sub.add_parser("sgemm", help="time an n x n float32 matmul through torch (BLAS check)")
    sg.add_argument("--size", type=int, default=1024)
    sg.add_argument("--reps", type=int, default=20)
    sg.add_argument("--threads", type=int, default=0, help="torch threads (0: all cores)")
    sg.add_argument("--json", action="store_true")

    args = parser.parse_args()
    if args.mode == "sgemm":
        run_sgemm(args)
        return
    if not 0 < args.p < 1:
        parser.error(f"--p {args.p} must be in (0, 1)")
    if args.mode == "step":
        if args.steps < 1 or args.warmup < 0 or args.batch < 2:
            parser.error("need --steps >= 1, --warmup >= 0, --batch >= 2")
        run_step(args)
    else:
        run_train(args)


if __name__ == "__main__":
    main()
