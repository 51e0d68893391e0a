#!/usr/bin/env python3
"""bench_torch.py - torch.optim.AdamW(fused=True) and (foreach=True) on the shapes of `cudaadam bench gpu`, with
the same timing method: each step timed alone with CUDA events after warm-up, the L2 cache flushed before it (a
zero_() of 4 x L2), median of --reps. Writes JSON that `cudaadam bench gpu --torch FILE` turns into ratio columns.

  python3 scripts/device/bench_torch.py --out bench/torch.json             # on the GPU machine
  /usr/bin/python3 scripts/device/bench_torch.py --smoke --device cpu --out /tmp/t.json   # code path, no GPU

Shapes (names shared with src/CudaAdam/Device/GpuBenchmark.cs): one-256M (one tensor of 2^28), gpt2-small (GPT-2
small's 148 tensors, 124,439,808 elements), 10000x4096; --smoke: one-64K, gpt2-tiny, 100x64. Precisions: fp32, and
bf16 parameters (torch.optim keeps bf16 gradients and creates bf16 state like the parameter: 14 B/param, not our 24).
"""
import argparse
import datetime
import json
import shlex
import statistics
import subprocess
import sys

import torch


def gpt2(name, vocab, context, width, layers):
    lengths = [vocab * width, context * width]
    for _ in range(layers):
        lengths += [width, width, width * 3 * width, 3 * width, width * width, width, width, width,
                    width * 4 * width, 4 * width, 4 * width * width, width]
    lengths += [width, width]
    return name, lengths


def shapes(smoke):
    if smoke:
        return [("one-64K", [1 << 16]), gpt2("gpt2-tiny", 100, 16, 8, 2), ("100x64", [64] * 100)]
    return [("one-256M", [1 << 28]), gpt2("gpt2-small", 50257, 1024, 768, 12), ("10000x4096", [4096] * 10000)]


class Timer:
    """Times one call: CUDA events on a GPU (L2 flushed first), time.perf_counter on the CPU."""

    def __init__(self, device):
        self.device = device
        if device.type == "cuda":
            l2 = torch.cuda.get_device_properties(device).L2_cache_size if hasattr(
                torch.cuda.get_device_properties(device), "L2_cache_size") else 50 << 20
            self.flush = torch.empty(max(4 * l2, 64 << 20), dtype=torch.uint8, device=device)
        else:
            self.flush = torch.empty(1 << 20, dtype=torch.uint8)

    def median(self, body, warmup, reps):
        for _ in range(warmup):
            body()
        times = []
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            for _ in range(reps):
                self.flush.zero_()
                start.record()
                body()
                end.record()
                end.synchronize()
                times.append(start.elapsed_time(end))
        else:
            import time
            for _ in range(reps):
                self.flush.zero_()
                t0 = time.perf_counter()
                body()
                times.append((time.perf_counter() - t0) * 1e3)
        return statistics.median(times), min(times)


def make_params(lengths, dtype, device):
    gen = torch.Generator().manual_seed(11)
    pattern = (torch.rand(4096, generator=gen) - 0.5).to(device)
    params = []
    for n in lengths:
        reps = (n + pattern.numel() - 1) // pattern.numel()
        data = pattern.repeat(reps)[:n].to(dtype)
        p = torch.nn.Parameter(data.clone())
        p.grad = data.clone()
        params.append(p)
    return params


def run(args):
    device = torch.device(args.device)
    timer = Timer(device)
    rows = []
    for name, lengths in shapes(args.smoke):
        for precision, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
            for impl in ("fused", "foreach"):
                row = {"shape": name, "precision": precision, "impl": impl, "elements": sum(lengths),
                       "tensors": len(lengths), "reps": args.reps, "median_ms": None, "min_ms": None}
                try:
                    params = make_params(lengths, dtype, device)
                    kw = {"fused": True} if impl == "fused" else {"foreach": True}
                    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=1e-2, **kw)
                    median, minimum = timer.median(opt.step, args.warmup, args.reps)
                    row["median_ms"], row["min_ms"] = median, minimum
                    del opt, params
                except (RuntimeError, TypeError, ValueError) as e:   # e.g. fused=True on the CPU or on torch 1.13
                    row["error"] = f"{type(e).__name__}: {e}".splitlines()[0][:300]
                if device.type == "cuda":
                    torch.cuda.empty_cache()
                rows.append(row)
                ms = "-" if row["median_ms"] is None else f"{row['median_ms']:.4f} ms"
                print(f"torch {name} {precision} {impl}: {ms} {row.get('error', '')}", file=sys.stderr)
    return rows


def describe(device):
    gpu, driver = "cpu", ""
    if device.type == "cuda":
        gpu = torch.cuda.get_device_name(device)
        try:
            driver = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                    capture_output=True, text=True, timeout=30).stdout.strip().splitlines()[0]
        except (OSError, IndexError, subprocess.SubprocessError):
            driver = ""
    return gpu, driver


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="JSON file to write")
    ap.add_argument("--smoke", action="store_true", help="tiny shapes")
    ap.add_argument("--device", default="cuda", help="cuda (default) or cpu (smoke runs without a GPU)")
    ap.add_argument("--reps", type=int, default=None)
    ap.add_argument("--warmup", type=int, default=None)
    args = ap.parse_args()
    args.reps = args.reps or (3 if args.smoke else 50)
    args.warmup = args.warmup if args.warmup is not None else (1 if args.smoke else 10)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("bench_torch.py: no CUDA device visible to torch (use --device cpu --smoke to test the code path)")
    gpu, driver = describe(device)
    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "gpu": gpu, "driver": driver, "cuda": torch.version.cuda or "", "torch": torch.__version__,
        "command": " ".join(shlex.quote(a) for a in [sys.executable] + sys.argv),
        "timing": "CUDA events, L2 flushed before each step" if device.type == "cuda" else "perf_counter (CPU)",
        "rows": run(args),
    }
    with open(args.out, "w") as f:
        json.dump(report, f, indent=2)
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
