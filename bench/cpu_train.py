#!/usr/bin/python3
"""Training step, ours vs torch 1.13, side by side (issue 16): the DeepOBS fmnist_2c2d CNN and the MLP
784-1000-1000-10, batch 128, forward + backward + Adam step (lr 1e-3), same number of threads on both sides.

    /usr/bin/python3 bench/cpu_train.py [--rounds 7] [--steps 5] [--threads 2] [--out bench/cpu-train-<date>.md]

Ours runs as a persistent `dotnet fsi bench/cpu-train-ours.fsx` server (build first: ./build.sh build), torch in this
process, so the rounds interleave: each round times `--steps` steps of ours cnn, torch cnn, ours mlp, torch mlp
(the order alternates between rounds) and keeps each side's median step; the report gives the median over rounds.
torch: torch.set_num_threads(N), set_num_interop_threads(1), OMP_WAIT_POLICY=PASSIVE (set before torch loads, so
its idle OpenMP threads sleep instead of spinning). Ours: CUDAADAM_CPU_THREADS=N (the fast CPU step's threads),
OpenBLAS with N threads and OPENBLAS_THREAD_TIMEOUT=4 (set by OpenBlasGemm itself).
"""
import argparse, datetime, os, statistics, subprocess, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("--rounds", type=int, default=7)
ap.add_argument("--steps", type=int, default=5)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--out", default=None)
args = ap.parse_args()
os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
os.environ["OMP_NUM_THREADS"] = str(args.threads)
import torch, torch.nn as nn, torch.nn.functional as F
torch.set_num_threads(args.threads)
torch.set_num_interop_threads(1)

here = os.path.dirname(os.path.abspath(__file__))
env = dict(os.environ, CUDAADAM_CPU_THREADS=str(args.threads))
env.pop("OMP_WAIT_POLICY"); env.pop("OMP_NUM_THREADS")
ours = subprocess.Popen(["dotnet", "fsi", os.path.join(here, "cpu-train-ours.fsx")], stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE, text=True, env=env, cwd=os.path.dirname(here))
while True:
    hello = ours.stdout.readline()
    if not hello: sys.exit("ours: the fsi server ended before it was ready")
    if hello.startswith("ready"): break
ours_config = hello.strip()[len("ready "):]


class Cnn(nn.Module):  # DeepOBS fmnist_2c2d: 'same' 5x5 convs, 2x2/2 max pools, 3136 -> 1024 -> 10
    def __init__(s):
        super().__init__()
        s.c1 = nn.Conv2d(1, 32, 5, padding=2); s.c2 = nn.Conv2d(32, 64, 5, padding=2)
        s.f1 = nn.Linear(3136, 1024); s.f2 = nn.Linear(1024, 10)

    def forward(s, x):
        x = F.max_pool2d(F.relu(s.c1(x.view(-1, 1, 28, 28))), 2)
        x = F.max_pool2d(F.relu(s.c2(x)), 2)
        return s.f2(F.relu(s.f1(x.flatten(1))))


def torch_step(net):
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = torch.rand(128, 784, generator=torch.Generator().manual_seed(3)); y = torch.arange(128) % 10
    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(net(x), y).backward()
        opt.step()
    step(); step()
    return step


torch.manual_seed(1)
theirs = {"cnn": torch_step(Cnn()),
          "mlp": torch_step(nn.Sequential(nn.Linear(784, 1000), nn.ReLU(), nn.Linear(1000, 1000), nn.ReLU(), nn.Linear(1000, 10)))}


def time_ours(model):
    ours.stdin.write(f"{model} {args.steps}\n"); ours.stdin.flush()
    return statistics.median(float(v) for v in ours.stdout.readline().split())


def time_torch(model):
    ts = []
    for _ in range(args.steps):
        t = time.perf_counter(); theirs[model](); ts.append((time.perf_counter() - t) * 1e3)
    return statistics.median(ts)


load0 = os.getloadavg()
start = datetime.datetime.now(datetime.timezone.utc)
rounds = []
for r in range(args.rounds):
    row = {}
    for model in ("cnn", "mlp"):
        order = [("ours", time_ours), ("torch", time_torch)]
        if r % 2: order.reverse()
        for side, f in order: row[(model, side)] = f(model)
    rounds.append(row)
    print(f"round {r + 1}: " + ", ".join(f"{m} {s} {v:.1f} ms" for (m, s), v in row.items()), flush=True)
load1 = os.getloadavg()
ours.stdin.write("quit\n"); ours.stdin.flush(); ours.wait()

med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
cmd = "/usr/bin/python3 bench/cpu_train.py " + " ".join(sys.argv[1:])
lines = [f"# CPU training step, ours vs torch {torch.__version__} ({start:%Y-%m-%d %H:%M} UTC)", "",
         f"Command: `{cmd.strip()}` (after `./build.sh build`).", "",
         f"Machine: {os.cpu_count()} logical CPUs; load average (1, 5, 15 min) {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f} "
         f"at the start, {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f} at the end.", "",
         "One training step = forward + backward + Adam step (lr 1e-3), batch 128, constant random input. Each round times "
         f"{args.steps} steps per side and model and keeps the median; below, medians over {args.rounds} interleaved rounds "
         "(the order ours/torch alternates between rounds).", "",
         f"- ours: {ours_config}; CUDAADAM_CPU_THREADS={args.threads}, OPENBLAS_THREAD_TIMEOUT=4 (set by OpenBlasGemm before OpenBLAS loads).",
         f"- torch {torch.__version__}: torch.set_num_threads({args.threads}), set_num_interop_threads(1), OMP_WAIT_POLICY=PASSIVE, "
         "torch.optim.Adam (single-tensor, its CPU default).", "",
         "| model | ours (ms) | torch (ms) | torch / ours | target | verdict |", "|---|---|---|---|---|---|"]
for model, name, target in (("cnn", "DeepOBS fmnist_2c2d CNN", "ours ≤ 1.0× torch's time"), ("mlp", "MLP 784-1000-1000-10", "ours ≥ 1.0× torch's speed")):
    o, t = med[(model, "ours")], med[(model, "torch")]
    lines.append(f"| {name} | {o:.1f} | {t:.1f} | {t / o:.2f} | {target} | {'met' if o <= t else f'missed by {100 * (o / t - 1):.0f}%'} |")
lines += ["", "Per round (ms):", "", "| round | cnn ours | cnn torch | mlp ours | mlp torch |", "|---|---|---|---|---|"]
for i, r in enumerate(rounds):
    lines.append(f"| {i + 1} | {r[('cnn', 'ours')]:.1f} | {r[('cnn', 'torch')]:.1f} | {r[('mlp', 'ours')]:.1f} | {r[('mlp', 'torch')]:.1f} |")
out = args.out or os.path.join(here, f"cpu-train-{start:%Y-%m-%d}.md")
open(out, "w").write("\n".join(lines) + "\n")
print("\n".join(lines[-(args.rounds + 8):]))
print(f"cpu train: cnn torch/ours = {med[('cnn', 'torch')] / med[('cnn', 'ours')]:.2f}; mlp torch/ours = {med[('mlp', 'torch')] / med[('mlp', 'ours')]:.2f}; wrote {out}")
