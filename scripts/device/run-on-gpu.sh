#!/usr/bin/env bash
# Runs ON THE GPU MACHINE (the `device` tool), in the repository root, after scripts/device/pack.sh made .device/ here
# and the run carried it:  run(command="scripts/device/run-on-gpu.sh", carry=[".device"])
#   1. unpacks the .NET runtime into /tmp/dotnet
#   2. cudaadam check --backend cuda        (the conformance registry, bitwise against the CPU reference)
#   3. compute-sanitizer --tool memcheck    over the same run (CHECK_FILTER narrows both; SANITIZE_FILTER only 3/4)
#   4. compute-sanitizer --tool racecheck   over the same run
#   5. cudaadam check --bench: the fused AdamW step alone vs a device-to-device copy, same run (BENCH_PARAMS, default 2^27)
#   6. cudaadam check --graph: captured CUDA graph replays vs uncaptured steps vs the host-clocked backend, bitwise
#   7. the side-by-side benchmark: scripts/device/bench_torch.py (torch.optim.AdamW fused=True / foreach=True) then
#      cudaadam bench gpu --torch, same shapes, same timing method: bench/report.md and bench/report.json with ratios
#      (BENCH_GPU=0 skips it). ONLY=bench runs 7 alone (no conformance, no sanitizers).
# Reports go to $OUT (the device tool's folder that comes back; ./.device/out when unset): summary.txt, check.txt,
# memcheck.txt, racecheck.txt, bench.txt, graph.txt, gpu.txt, bench/. Exit status: 0 when the check passed and both
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
[ "${BENCH_GPU:-1}" = 0 ] || gpu_bench
if [ "$check_rc" = 0 ] && [ "$mem_rc" = 0 ] && [ "$race_rc" = 0 ] && [ "$graph_rc" = 0 ] && [ "$bench_rc" = 0 ]; then
  say "RESULT: pass"; exit 0
fi
say "RESULT: FAIL (check $check_rc, memcheck $mem_rc, racecheck $race_rc, graph $graph_rc, bench gpu $bench_rc)"
exit 1
