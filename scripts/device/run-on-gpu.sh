#!/usr/bin/env bash
# Runs ON THE GPU MACHINE (the `device` tool), in the repository root, after scripts/device/pack.sh made .device/ here
# and the run carried it:  run(command="scripts/device/run-on-gpu.sh", carry=[".device"])
#   1. unpacks the .NET runtime into /tmp/dotnet
#   2. cudaadam check --backend cuda        (the conformance registry, bitwise against the CPU reference)
#   3. compute-sanitizer --tool memcheck    over the same run (CHECK_FILTER narrows both; SANITIZE_FILTER only 3/4)
#   4. compute-sanitizer --tool racecheck   over the same run
#   5. cudaadam check --bench: the fused AdamW step alone vs a device-to-device copy, same run (BENCH_PARAMS, default 2^27)
#   6. cudaadam check --graph: captured CUDA graph replays vs uncaptured steps vs the host-clocked backend, bitwise;
#      cudaadam check --train: kernels/train.cu and cuBLAS against the CPU layers (also under memcheck): train-check.txt
#   7. the side-by-side benchmark: scripts/device/bench_torch.py (torch.optim.AdamW fused=True / foreach=True) then
#      cudaadam bench gpu --torch, same shapes, same timing method: bench/report.md and bench/report.json with ratios
#      (BENCH_GPU=0 skips it). ONLY=bench runs 7 alone (no conformance, no sanitizers).
#   8. the default train job (src/CudaAdam.Training/Jobs/default-train.json, 1 epoch) with --backend cuda and then
#      --backend cpu, same config and data (.device/fmnist from pack.sh, else the embedded subset): epoch times and
#      accuracies side by side in train.txt (TRAIN=0 skips it; TRAIN_EPOCHS overrides the 1). ONLY=train runs 8 alone.
# Reports go to $OUT (the device tool's folder that comes back; ./.device/out when unset): summary.txt, check.txt,
# memcheck.txt, racecheck.txt, bench.txt, graph.txt, gpu.txt, bench/, train.txt, train/. Exit status: 0 when the check passed and both
# sanitizers found nothing (and the graph check and the benchmark ran).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out=${OUT:-$root/.device/out}
mkdir -p "$out"
summary="$out/summary.txt"
: > "$summary"
say() { printf '%s\n' "$*" | tee -a "$summary"; }

[ -f .device/dotnet-runtime.tar.xz ] && [ -f .device/app/CudaAdam.Cli.dll ] || {
  say "no .device/app or .device/dotnet-runtime.tar.xz: run scripts/device/pack.sh on the development machine and carry .device"
  exit 2
}
mkdir -p /tmp/dotnet
tar -xJf .device/dotnet-runtime.tar.xz -C /tmp/dotnet || { say "could not unpack the .NET runtime"; exit 2; }
export DOTNET_ROOT=/tmp/dotnet DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# NVRTC and libcuda: the resolver probes the usual sonames; help it with the toolkit's lib64 when present.
for d in "${CUDA_HOME:-}" "${CUDA_PATH:-}" /usr/local/cuda; do
  [ -n "$d" ] && [ -d "$d/lib64" ] && export LD_LIBRARY_PATH="$d/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" && break
done
cli=(/tmp/dotnet/dotnet .device/app/CudaAdam.Cli.dll)
filter=()
[ -n "${CHECK_FILTER:-}" ] && filter=(--filter "$CHECK_FILTER")
sfilter=("${filter[@]}")
[ -n "${SANITIZE_FILTER:-}" ] && sfilter=(--filter "$SANITIZE_FILTER")

{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1; nvcc --version 2>&1 | tail -2
  "${cli[@]}" info --check 2>&1; } > "$out/gpu.txt"
say "gpu: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null || echo 'nvidia-smi not found')"

gpu_bench() {
  mkdir -p "$out/bench"
  local driver start torch_arg=()
  driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -1)
  start=$(date +%s)
  python3 scripts/device/bench_torch.py --out "$out/bench/torch.json" > "$out/bench/torch.log" 2>&1
  say "bench_torch.py: exit $? in $(( $(date +%s) - start )) s"
  [ -f "$out/bench/torch.json" ] && torch_arg=(--torch "$out/bench/torch.json")
  start=$(date +%s)
  "${cli[@]}" bench gpu --out "$out/bench" --driver "$driver" "${torch_arg[@]}" > "$out/bench/bench.log" 2>&1
  bench_rc=$?
  say "bench gpu: exit $bench_rc in $(( $(date +%s) - start )) s; report in bench/report.md"
}
# Step 8: the same train job on the GPU and on the CPU; wall_s of epochs.csv is the time in training steps only.
train_side_by_side() {
  local cfg="$out/train/config.json" data=embedded rc rc_cuda=1 rc_cpu=1 start
  mkdir -p "$out/train"
  [ -f .device/fmnist/train-images-idx3-ubyte.gz ] && data="$root/.device/fmnist"
  python3 - "$root/src/CudaAdam.Training/Jobs/default-train.json" "$cfg" "$data" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["data"]["source"] = sys.argv[3]
c["output"] = "/tmp/cudaadam-train-runs"
c["training"]["checkpoints"] = False
json.dump(c, open(sys.argv[2], "w"), indent=2)
PY
  for b in cuda cpu; do
    start=$(date +%s)
    "${cli[@]}" train "$cfg" --backend "$b" --epochs "${TRAIN_EPOCHS:-1}" > "$out/train/$b.log" 2>&1
    rc=$?
    if [ "$b" = cuda ]; then rc_cuda=$rc; else rc_cpu=$rc; fi
    say "train --backend $b: exit $rc in $(( $(date +%s) - start )) s"
    local folder
    folder=$(sed -n 's/^run folder: //p' "$out/train/$b.log" | tail -1)
    [ -n "$folder" ] && cp "$folder/epochs.csv" "$out/train/$b-epochs.csv" && cp "$folder/summary.md" "$out/train/$b-summary.md"
  done
  python3 - "$out/train" "$data" > "$out/train.txt" <<'PY'
import csv, os, sys
d, data = sys.argv[1], sys.argv[2]
def load(b):
    p = os.path.join(d, f"{b}-epochs.csv")
    if not os.path.exists(p): return {}
    rows = [r for r in csv.DictReader(open(p)) if r["epoch"] != "0"]
    out = {}
    for r in rows:
        o = out.setdefault(r["optimizer"], [0.0, 0.0, ""])
        o[0] = float(r["wall_s"]); o[1] += 1; o[2] = r["test_accuracy"]
    return out
g, c = load("cuda"), load("cpu")
def head(b):
    for line in open(os.path.join(d, f"{b}.log")):
        if line.strip().startswith("backend") or line.strip().startswith("model"): yield f"  {b}: {line.strip()}"
print(f"default train job, same config on both backends; data: {data}")
for b in ("cuda", "cpu"):
    log = os.path.join(d, f"{b}.log")
    if not os.path.exists(log): continue
    print("\n".join(head(b)))
    if not os.path.exists(os.path.join(d, f"{b}-epochs.csv")):
        print(f"  {b}: FAILED: " + " / ".join(l.strip() for l in open(log).read().strip().splitlines()[-4:]))
print()
print(f"{'optimizer':<14} {'epochs':>6} {'cuda s/epoch':>13} {'cpu s/epoch':>12} {'cpu/cuda':>9} {'cuda test acc':>14} {'cpu test acc':>13}")
for name in list(g) + [n for n in c if n not in g]:
    gs, cs = g.get(name), c.get(name)
    gt = gs[0] / gs[1] if gs else float("nan"); ct = cs[0] / cs[1] if cs else float("nan")
    print(f"{name:<14} {int((gs or cs)[1]):>6} {gt:>13.3f} {ct:>12.3f} {ct / gt if gs and cs else float('nan'):>9.1f} "
          f"{(gs or ['', '', '-'])[2]:>14} {(cs or ['', '', '-'])[2]:>13}")
print("\ns/epoch: time in training steps only (epochs.csv wall_s / epochs); the first optimizer of each run also pays warm-up.")
PY
  train_rc=$(( rc_cuda != 0 || rc_cpu != 0 ))
  say "train: $(sed -n '/^optimizer/,/^$/p' "$out/train.txt" | head -8 | tr '\n' ';')"
}
train_rc=0
if [ "${ONLY:-}" = train ]; then
  train_side_by_side
  [ "$train_rc" = 0 ] && { say "RESULT: pass (train only)"; exit 0; }
  say "RESULT: FAIL (train)"; exit 1
fi

bench_rc=0
if [ "${ONLY:-}" = bench ]; then
  gpu_bench
  [ "$bench_rc" = 0 ] && { say "RESULT: pass (bench only)"; exit 0; }
  say "RESULT: FAIL (bench gpu $bench_rc)"; exit 1
fi

start=$(date +%s)
"${cli[@]}" check --backend cuda "${filter[@]}" > "$out/check.txt" 2>&1
check_rc=$?
say "check --backend cuda: exit $check_rc in $(( $(date +%s) - start )) s; $(grep -E 'cases passed' "$out/check.txt" || tail -1 "$out/check.txt")"

sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)
mem_rc=-1; race_rc=-1
if [ -z "$sanitizer" ]; then
  say "compute-sanitizer not found: memcheck and racecheck not run"
else
  # --error-exitcode makes a finding visible in the exit status; the .NET runtime's own CUDA-free threads are ignored.
  start=$(date +%s)
  "$sanitizer" --tool memcheck --leak-check full --error-exitcode 99 --print-limit 50 \
    "${cli[@]}" check --backend cuda --failures-only "${sfilter[@]}" > "$out/memcheck.txt" 2>&1
  mem_rc=$?
  say "memcheck: exit $mem_rc in $(( $(date +%s) - start )) s; $(grep -E 'ERROR SUMMARY' "$out/memcheck.txt" | tail -1)"
  start=$(date +%s)
  "$sanitizer" --tool racecheck --racecheck-report all --error-exitcode 99 --print-limit 50 \
    "${cli[@]}" check --backend cuda --failures-only "${sfilter[@]}" > "$out/racecheck.txt" 2>&1
  race_rc=$?
  say "racecheck: exit $race_rc in $(( $(date +%s) - start )) s; $(grep -E 'RACECHECK SUMMARY|ERROR SUMMARY' "$out/racecheck.txt" | tail -1)"
fi
bench_params=${BENCH_PARAMS:-134217728}
{ "${cli[@]}" check --backend cuda --bench "$bench_params"
  "${cli[@]}" check --backend cuda --bench "$bench_params" --bench-tensors 1000; } > "$out/bench.txt" 2>&1
say "bench: $(cat "$out/bench.txt")"
"${cli[@]}" check --backend cuda --graph > "$out/graph.txt" 2>&1
graph_rc=$?
say "check --graph: exit $graph_rc; $(tail -1 "$out/graph.txt")"
# kernels/train.cu and cuBLAS against the CPU layers (a tiny CNN and MLP forward and backward, train_sgemm, dropout),
# then the same under compute-sanitizer memcheck.
"${cli[@]}" check --backend cuda --train > "$out/train-check.txt" 2>&1
layers_rc=$?
say "check --train: exit $layers_rc; $(tail -1 "$out/train-check.txt")"
if [ -n "${sanitizer:-}" ]; then
  "$sanitizer" --tool memcheck --error-exitcode 99 --print-limit 50 "${cli[@]}" check --backend cuda --train \
    > "$out/train-memcheck.txt" 2>&1
  layers_mem_rc=$?
  say "check --train under memcheck: exit $layers_mem_rc; $(grep -E 'ERROR SUMMARY' "$out/train-memcheck.txt" | tail -1)"
  [ "$layers_mem_rc" = 0 ] || layers_rc=$layers_mem_rc
fi
[ "${BENCH_GPU:-1}" = 0 ] || gpu_bench
[ "${TRAIN:-1}" = 0 ] || train_side_by_side
if [ "$check_rc" = 0 ] && [ "$mem_rc" = 0 ] && [ "$race_rc" = 0 ] && [ "$graph_rc" = 0 ] && [ "$layers_rc" = 0 ] && [ "$bench_rc" = 0 ] && [ "$train_rc" = 0 ]; then
  say "RESULT: pass"; exit 0
fi
say "RESULT: FAIL (check $check_rc, memcheck $mem_rc, racecheck $race_rc, graph $graph_rc, layers $layers_rc, bench gpu $bench_rc, train $train_rc)"
exit 1
