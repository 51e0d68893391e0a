#!/usr/bin/python3
"""torch.optim's CPU step timed for `cudaadam bench cpu`, as a server so that its rounds interleave with ours.

Started once by the benchmark (`/usr/bin/python3 tests/oracle/bench_cpu_torch.py --threads N`); reads one JSON command
per line on stdin and answers one JSON line on stdout:

    {"alg": "adam", "shape": [10000000], "mode": "foreach", "steps": 3}
 -> {"ok": true, "ms_per_step": 41.2}

alg: adam | adamw | sgd-momentum (torch 1.13 has no Lion: {"ok": false, "error": ...}); shape: the tensor lengths;
mode: single (foreach=False, torch's per-tensor loop) | foreach (foreach=True, the multi-tensor kernels).
Parameters, gradients and optimizers are built on first use of a (alg, shape, mode) and kept, warmed with one step,
so later rounds time the steady state. Hyperparameters are torch's defaults (SGD: lr 0.01, momentum 0.9), as ours.
{"quit": true} ends it.
"""
import argparse
import json
import sys
import time

import torch


def make(alg, shape, mode):
    g = torch.Generator().manual_seed(1)
    params = []
    for n in shape:
        p = torch.nn.Parameter(torch.randn(n, generator=g))
        p.grad = torch.randn(n, generator=g) * 0.01
        params.append(p)
    foreach = mode == "foreach"
    if alg == "adam":
        opt = torch.optim.Adam(params, foreach=foreach)
    elif alg == "adamw":
        opt = torch.optim.AdamW(params, foreach=foreach)
    elif alg == "sgd-momentum":
        opt = torch.optim.SGD(params, lr=0.01, momentum=0.9, foreach=foreach)
    else:
        raise ValueError(f"torch 1.13 has no '{alg}'")
    opt.step()  # state created, warm
    return opt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, required=True)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)
    cache = {}
    print(json.dumps({"ok": True, "torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd.get("quit"):
            break
        try:
            key = (cmd["alg"], tuple(cmd["shape"]), cmd["mode"])
            if key not in cache:
                cache.clear()  # one configuration's memory at a time
                cache[key] = make(*key)
            opt = cache[key]
            steps = int(cmd.get("steps", 3))
            t0 = time.perf_counter()
            for _ in range(steps):
                opt.step()
            ms = (time.perf_counter() - t0) * 1e3 / steps
            print(json.dumps({"ok": True, "ms_per_step": ms}), flush=True)
        except Exception as e:  # noqa: BLE001 - reported to the caller, which records it
            print(json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}"}), flush=True)


if __name__ == "__main__":
    main()
