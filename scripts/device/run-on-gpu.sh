#!/usr/bin/env bash
# run-on-gpu.sh — the device run, in stages sized to the GPU machine's budget (15 minutes of device time per session,
# 10 minutes per command, 8 files back from $OUT). Runs ON THE GPU MACHINE in the repository root, after
# scripts/device/pack.sh made .device/ here and the run carried it:
#
#   run(command="scripts/device/run-on-gpu.sh all", carry=[".device"], timeout_s=590)
#       -> contact, check, sanitize (the most valuable first; as many stages as fit one command)
#   run(command="scripts/device/run-on-gpu.sh all --from bench", carry=[".device"], timeout_s=590)
#       -> bench, train (the first command prints exactly this line)
#
#   usage: scripts/device/run-on-gpu.sh [--plan] [all [--from STAGE] | STAGE...]
#   stages (budget = the stage's time guard, the sum of its steps' `timeout`s; --plan prints them):
#     contact   nvidia-smi, toolkit/driver/torch versions, the library paths the resolver found, every symbol the
#               binding imports (looked up in those libraries), `cudaadam info --check`, and the kernels' registers
#               as NVRTC compiles them for this GPU (`cudaadam kernels --resources`)
#     check     `cudaadam check --backend cuda` (the conformance registry, bitwise), `check --graph`, `check --train`
#     sanitize  compute-sanitizer memcheck and racecheck over a representative subset (SANITIZE_FILTER,
#               RACECHECK_FILTER), memcheck over `check --train`. Options: --report-api-errors no, so the exit status
#               counts the KERNELS' memory errors and races, not failing CUDA API calls (cuBLAS and the CUDA runtime
#               make benign failing calls internally; a failing call of ours already fails the CLI itself);
#               --error-exitcode 99, --print-limit 20; memcheck --leak-check full
#     bench     `cudaadam check --bench` (fused AdamW vs a device-to-device copy, same run), bench_torch.py, then
#               `cudaadam bench gpu --torch` (ours and torch.optim.AdamW side by side): ratios printed
#     train     the default train job (its first TRAIN_OPTIMIZERS=2 optimizers), 1 epoch, --backend cuda then
#               --backend cpu on .device/fmnist: s/epoch side by side (train.txt says which GEMM the CPU side ran)
#   all         the stages in that order, as many as fit COMMAND_BUDGET (540 s: one 600 s command less start-up and
#               margin); prints the command that runs the rest. STAGE...: exactly those (refused if over budget).
#
# Everything a command writes goes into ONE $OUT/results.tar.gz plus $OUT/summary.txt (2 of the 8 files that come
# back; $OUT defaults to .device/out). The lines that matter (each stage's PASS / FAIL / TIMEOUT / NO-GPU, failing
# case names, sanitizer error summaries, benchmark ratios) also go to stdout, so the answer arrives even if no file
# does. Library paths: LD_LIBRARY_PATH (the toolkit's lib64) is set for our CLI invocations only, never for python3
# (PyTorch must load its own cuBLAS). Environment: CHECK_FILTER (check stage), SANITIZE_FILTER, RACECHECK_FILTER
# (comma-separated case-name parts), BENCH_PARAMS (default 2^27), TRAIN_EPOCHS (default 1), TRAIN_OPTIMIZERS
# (default 2), CUDAADAM_CLI (a command that runs the CLI, e.g. "dotnet path/CudaAdam.Cli.dll", instead of .device/app
# on the unpacked runtime; the tests use it).
# Exit status: 0 every stage passed; 1 a stage failed or timed out; 2 bad usage or nothing to run with; 3 no GPU
# here (every stage ran to a clean NO-GPU result, the bundle and summary written).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

STAGES=(contact check sanitize bench train)
declare -A BUDGET=([contact]=60 [check]=200 [sanitize]=200 [bench]=120 [train]=120)
declare -A WHAT=(
  [contact]="nvidia-smi, versions (20 s), info --check (10 s), binding symbols (10 s), kernel registers by NVRTC (20 s)"
  [check]="conformance registry bitwise (120 s), --graph (40 s), --train (40 s)"
  [sanitize]="memcheck subset (90 s), racecheck subset (70 s), memcheck check --train (40 s)"
  [bench]="check --bench x2 (40 s), bench_torch.py (35 s), bench gpu --torch (45 s)"
  [train]="default train job, 1 epoch, first 2 optimizers: --backend cuda (40 s), --backend cpu (80 s)"
)
COMMAND_BUDGET=540   # one device command may run 600 s: 60 s left for the runtime unpack, bundling and kill grace
DEVICE_BUDGET=720    # the 12 minutes of device time the plan must fit (the session has 15, machine start-ups included)
SANITIZE_FILTER=${SANITIZE_FILTER:-default/misaligned,default/clip,default/diagnostics,default/bf16}
RACECHECK_FILTER=${RACECHECK_FILTER:-default/clip,default/diagnostics}

die() { printf 'run-on-gpu.sh: %s\n' "$*" >&2; exit 2; }
usage() { echo "usage: scripts/device/run-on-gpu.sh [--plan] [all [--from STAGE] | STAGE...]   stages: ${STAGES[*]}"; }

# ---- arguments
plan_only=0; from=""; want=()
while [ $# -gt 0 ]; do
  case $1 in
    --plan) plan_only=1 ;;
    --from) [ $# -ge 2 ] || die "--from needs a stage (${STAGES[*]})"; from=$2; shift ;;
    --from=*) from=${1#--from=} ;;
    -h|--help) usage; exit 0 ;;
    all) want+=(all) ;;
    -*) die "unknown option '$1' (usage: run-on-gpu.sh [--plan] [all [--from STAGE] | STAGE...])" ;;
    *) [ -n "${BUDGET[$1]:-}" ] || die "unknown stage '$1' (stages: ${STAGES[*]}, or all)"; want+=("$1") ;;
  esac
  shift
done
[ ${#want[@]} -eq 0 ] && want=(all)
if [ -n "$from" ]; then
  [ -n "${BUDGET[$from]:-}" ] || die "--from: unknown stage '$from' (stages: ${STAGES[*]})"
  [ "${want[*]}" = all ] || die "--from goes with 'all' only"
fi
case " ${want[*]} " in *" all "*) [ "${want[*]}" = all ] || die "'all' cannot be combined with other stages" ;; esac

# `all` from a stage: the stages that fit one command, and the rest.
split_all() {   # $1 = first stage; sets run_stages, rest_stages
  local started=0 used=0 s
  run_stages=(); rest_stages=()
  for s in "${STAGES[@]}"; do
    [ "$s" = "$1" ] && started=1
    [ $started = 1 ] || continue
    if [ ${#rest_stages[@]} -eq 0 ] && [ $((used + ${BUDGET[$s]})) -le $COMMAND_BUDGET ]; then
      run_stages+=("$s"); used=$((used + ${BUDGET[$s]}))
    else
      rest_stages+=("$s")
    fi
  done
}

plan() {
  local s total=0 n=1 first=contact
  printf 'device plan: %s stages, %s s per command at most (600 s limit), %s s of device time in all\n' \
    "${#STAGES[@]}" "$COMMAND_BUDGET" "$DEVICE_BUDGET"
  printf '  %-9s %7s  %s\n' stage budget what
  for s in "${STAGES[@]}"; do
    printf '  %-9s %5s s  %s\n' "$s" "${BUDGET[$s]}" "${WHAT[$s]}"; total=$((total + ${BUDGET[$s]}))
  done
  printf '  %-9s %5s s  (%s)\n' total "$total" "$([ $total -le $DEVICE_BUDGET ] && echo "fits $DEVICE_BUDGET s" || echo "OVER $DEVICE_BUDGET s")"
  echo "commands of the default 'all' (most valuable first):"
  while :; do
    split_all "$first"
    local sum=0
    for s in "${run_stages[@]}"; do sum=$((sum + ${BUDGET[$s]})); done
    printf '  %s. scripts/device/run-on-gpu.sh all%s   -> %s (%s s)\n' "$n" "$([ "$first" = contact ] || echo " --from $first")" "${run_stages[*]}" "$sum"
    [ ${#rest_stages[@]} -eq 0 ] && break
    first=${rest_stages[0]}; n=$((n + 1))
  done
  [ $total -le $DEVICE_BUDGET ] && [ $n -le 2 ]
}
if [ $plan_only = 1 ]; then plan; exit $?; fi

if [ "${want[*]}" = all ]; then
  split_all "${from:-contact}"
  stages=("${run_stages[@]}"); rest=("${rest_stages[@]}")
else
  stages=("${want[@]}"); rest=()
  sum=0; for s in "${stages[@]}"; do sum=$((sum + ${BUDGET[$s]})); done
  [ $sum -le $COMMAND_BUDGET ] || die "stages ${stages[*]} need ${sum} s, over one command's ${COMMAND_BUDGET} s: split them (see --plan)"
fi

# ---- output: one work folder, bundled at exit
out=${OUT:-$root/.device/out}
mkdir -p "$out" || die "cannot create \$OUT ($out)"
work=$(mktemp -d "${TMPDIR:-/tmp}/cudaadam-device.XXXXXX") || die "cannot create a work folder under ${TMPDIR:-/tmp}"
summary="$work/summary.txt"
: > "$summary"
say() { printf '%s\n' "$*" | tee -a "$summary"; }
bundle() {
  rm -rf "$work/kernel-cache" "$work/dotnet"
  # every file capped at 4 MiB (head and tail kept) so the archive stays far below the 16 MiB a file may have
  find "$work" -type f -size +4M -print0 | while IFS= read -r -d '' f; do
    { head -c 2M "$f"; printf '\n... [%s bytes cut by run-on-gpu.sh] ...\n' "$(stat -c %s "$f")"; tail -c 1M "$f"; } > "$f.cut" && mv "$f.cut" "$f"
  done
  cp "$summary" "$out/summary.txt"
  tar -czf "$out/results.tar.gz" -C "$work" . 2>/dev/null
  printf 'bundle: %s/results.tar.gz (%s bytes, %s files) and summary.txt\n' "$out" "$(stat -c %s "$out/results.tar.gz" 2>/dev/null || echo 0)" \
    "$(find "$work" -type f | wc -l)"
  rm -rf "$work"
}
trap bundle EXIT

say "run-on-gpu.sh ${want[*]}${from:+ --from $from}: stages ${stages[*]} ($(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(git rev-parse --short HEAD 2>/dev/null || echo 'no git'))"

# ---- the CLI: .device/app on the carried .NET runtime, or CUDAADAM_CLI
if [ -n "${CUDAADAM_CLI:-}" ]; then
  read -r -a cli <<< "$CUDAADAM_CLI"
else
  if [ ! -f .device/dotnet-runtime.tar.xz ] || [ ! -f .device/app/CudaAdam.Cli.dll ]; then
    say "no .device/app or .device/dotnet-runtime.tar.xz: run scripts/device/pack.sh on the development machine and carry .device"
    exit 2
  fi
  mkdir -p "$work/dotnet"   # unpacked afresh for each command (a few seconds), removed before bundling
  timeout 60 tar -xJf .device/dotnet-runtime.tar.xz -C "$work/dotnet" || { say "could not unpack the .NET runtime"; exit 2; }
  export DOTNET_ROOT="$work/dotnet"
  cli=("$work/dotnet/dotnet" "$root/.device/app/CudaAdam.Cli.dll")
fi
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# The toolkit's library folders, for our CLI only (the resolver probes them too; LD_LIBRARY_PATH also serves NVRTC's
# own dlopen of its builtins). python3 keeps the environment it was given.
cuda_ld=""
for d in "${CUDA_HOME:-}" "${CUDA_PATH:-}" /usr/local/cuda; do
  [ -n "$d" ] && [ -d "$d/lib64" ] || continue
  cuda_ld="$d/lib64"; [ -d "$d/targets/x86_64-linux/lib" ] && cuda_ld="$cuda_ld:$d/targets/x86_64-linux/lib"
  break
done
cli_env=(env CUDAADAM_CACHE_DIR="$work/kernel-cache")   # compiled once per command, reused by every later step
[ -n "$cuda_ld" ] && cli_env+=(LD_LIBRARY_PATH="$cuda_ld${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)

# step NAME SECONDS FILE CMD...: runs CMD under `timeout` into $work/FILE; sets rc and secs; prints one line.
step() {
  local name=$1 limit=$2 file=$3 start; shift 3
  start=$(date +%s)
  timeout -k 5 "$limit" "$@" > "$work/$file" 2>&1
  rc=$?
  secs=$(( $(date +%s) - start ))
  local note=""
  case $rc in 124|137) note=" TIMEOUT (guard ${limit} s)" ;; esac
  say "  $name: exit $rc in ${secs} s$note; $(grep -v '^[[:space:]]*$' "$work/$file" | tail -1 | cut -c1-200)"
}
cli_step() { local n=$1 l=$2 f=$3; shift 3; step "$n" "$l" "$f" "${cli_env[@]}" "${cli[@]}" "$@"; }
# sanitize_step NAME SECONDS FILE SANITIZER-OPTIONS... -- CHECK-OPTIONS...
sanitize_step() {
  local n=$1 l=$2 f=$3 opts=(); shift 3
  while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  step "$n" "$l" "$f" "${cli_env[@]}" "$sanitizer" "${opts[@]}" "${cli[@]}" check --backend cuda "$@"
}
timed_out() { [ "$rc" = 124 ] || [ "$rc" = 137 ]; }

declare -A RESULT=()
stage_result() {   # STAGE STATUS DETAIL
  RESULT[$1]=$2
  say "STAGE $1: $2${3:+ — $3}"
}

# ---- is there a GPU? (one probe per command; every stage reads it)
{ timeout 10 nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv 2>&1 || echo "nvidia-smi: not available"; } > "$work/gpu-probe.txt"
timeout 20 "${cli_env[@]}" "${cli[@]}" info --check >> "$work/gpu-probe.txt" 2>&1
gpu_rc=$?
gpu_name=$(timeout 10 nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1)
gpu_cc=$(timeout 10 nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d '.[:space:]')
if [ $gpu_rc = 0 ]; then
  say "gpu: ${gpu_name:-unknown (nvidia-smi gave nothing)}; cudaadam info --check: usable"
  no_gpu=""
else
  no_gpu="cudaadam info --check exit $gpu_rc: $(grep -m1 -E 'no usable GPU|none \(' "$work/gpu-probe.txt" | sed 's/^ *//'); nvidia-smi: ${gpu_name:-not available}"
  say "gpu: NONE ($no_gpu)"
fi

# ---- stages
stage_contact() {
  {
    echo "== nvidia-smi"; timeout 5 nvidia-smi 2>&1 || echo "nvidia-smi: not available"
    echo "== versions"
    timeout 3 nvcc --version 2>&1 | tail -2
    if [ -n "$sanitizer" ]; then timeout 3 "$sanitizer" --version 2>&1 | head -3; else echo "compute-sanitizer: not found"; fi
    timeout 9 python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())' 2>&1 | tail -1
    echo "== libraries (ldconfig) and CUDA_HOME=${CUDA_HOME:-} CUDA_PATH=${CUDA_PATH:-}; CLI LD_LIBRARY_PATH=${cuda_ld:-unset}"
    ldconfig -p 2>/dev/null | grep -E 'libcuda\.so|libnvrtc|libcublas|libopenblas' || echo "(ldconfig: none of libcuda, libnvrtc, libcublas, libopenblas)"
  } > "$work/contact.txt" 2>&1
  cli_step "info --check" 10 info.txt info --check
  local info_rc=$rc
  if [ -n "$no_gpu" ]; then stage_result contact NO-GPU "$no_gpu (contact.txt and info.txt say what is there)"; return; fi
  # Every symbol the binding imports, looked up (dlsym) in the library the resolver loaded.
  local lib_cuda lib_nvrtc lib_cublas
  lib_cuda=$(sed -n 's/^  libcuda (driver) *\(\/[^ ]*\).*/\1/p' "$work/info.txt" | head -1)
  lib_nvrtc=$(sed -n 's/^  NVRTC  *\(\/[^ ]*\).*/\1/p' "$work/info.txt" | head -1)
  lib_cublas=$(sed -n 's/^  cuBLAS  *\(\/[^ ]*\).*/\1/p' "$work/info.txt" | head -1)
  timeout 10 python3 - "$lib_cuda" src/CudaAdam.Cuda/Interop/DriverNative.cs "$lib_nvrtc" src/CudaAdam.Cuda/Interop/NvrtcNative.cs \
    "$lib_cublas" src/CudaAdam.Cuda/Interop/CublasNative.cs > "$work/symbols.txt" 2>&1 <<'PY'
import ctypes, re, sys
missing = 0
for lib, source in zip(sys.argv[1::2], sys.argv[2::2]):
    names = re.findall(r"partial \w+ (\w+)\(", open(source).read())
    if not lib:
        print(f"{source}: library not found by the resolver; {len(names)} symbols unchecked"); missing += len(names); continue
    handle = ctypes.CDLL(lib)
    absent = [n for n in names if not hasattr(handle, n)]
    missing += len(absent)
    print(f"{lib}: {len(names) - len(absent)} of {len(names)} symbols of {source} present" + (f"; MISSING {' '.join(absent)}" if absent else ""))
print(f"symbols: {missing} missing")
PY
  local sym_rc=$?
  cat "$work/symbols.txt"
  local arch=sm_${gpu_cc:-90}
  cli_step "kernels --resources --arch $arch" 20 resources.txt kernels --resources --arch "$arch"
  local res_rc=$rc
  grep -E ' NO$' "$work/resources.txt" | head -10
  if [ $info_rc = 0 ] && [ $sym_rc = 0 ] && grep -q 'symbols: 0 missing' "$work/symbols.txt" && [ $res_rc = 0 ]; then
    stage_result contact PASS "$gpu_name; $(grep -m1 '^resources:' "$work/resources.txt")"
  else
    stage_result contact FAIL "info --check $info_rc, symbols $(grep -o '[0-9]* missing' "$work/symbols.txt" | tail -1), resources $res_rc"
  fi
}

stage_check() {
  local filter=() status=PASS
  [ -n "${CHECK_FILTER:-}" ] && filter=(--filter "$CHECK_FILTER")
  cli_step "check --backend cuda" 120 check.txt check --backend cuda --failures-only "${filter[@]}"
  if [ -n "$no_gpu" ] && [ $rc = 2 ]; then stage_result check NO-GPU "the CLI refused the cuda backend cleanly (exit 2): check.txt"; return; fi
  local c=$rc
  grep '^FAILED ' "$work/check.txt" | head -20 | tee -a "$summary"
  timed_out && status=TIMEOUT
  cli_step "check --graph" 40 graph.txt check --backend cuda --graph
  local g=$rc; timed_out && status=TIMEOUT
  grep -iE 'FAIL|differ' "$work/graph.txt" | grep -v ' 0 failed$' | head -10 | tee -a "$summary"
  cli_step "check --train" 40 train-check.txt check --backend cuda --train
  local t=$rc; timed_out && status=TIMEOUT
  grep -iE 'FAIL' "$work/train-check.txt" | grep -v ' 0 failed$' | head -10 | tee -a "$summary"
  [ $status = PASS ] && { [ $c = 0 ] && [ $g = 0 ] && [ $t = 0 ] || status=FAIL; }
  stage_result check $status "conformance $c ($(grep -m1 -E 'cases passed' "$work/check.txt")), graph $g, train $t"
}

stage_sanitize() {
  if [ -z "$sanitizer" ]; then
    stage_result sanitize "$([ -n "$no_gpu" ] && echo NO-GPU || echo FAIL)" "compute-sanitizer not found${no_gpu:+; $no_gpu}"; return
  fi
  if [ -n "$no_gpu" ]; then stage_result sanitize NO-GPU "$no_gpu"; return; fi
  local status=PASS m r t
  sanitize_step "memcheck ($SANITIZE_FILTER)" 90 memcheck.txt --tool memcheck --leak-check full --report-api-errors no \
    --error-exitcode 99 --print-limit 20 -- --failures-only --filter "$SANITIZE_FILTER"
  m=$rc; timed_out && status=TIMEOUT
  grep -E 'ERROR SUMMARY|^FAILED |cases passed' "$work/memcheck.txt" | tail -5 | sed 's/^/    /' | tee -a "$summary"
  sanitize_step "racecheck ($RACECHECK_FILTER)" 70 racecheck.txt --tool racecheck --racecheck-report all --report-api-errors no \
    --error-exitcode 99 --print-limit 20 -- --failures-only --filter "$RACECHECK_FILTER"
  r=$rc; timed_out && status=TIMEOUT
  grep -E 'RACECHECK SUMMARY|ERROR SUMMARY|^FAILED |cases passed' "$work/racecheck.txt" | tail -5 | sed 's/^/    /' | tee -a "$summary"
  sanitize_step "memcheck check --train" 40 train-memcheck.txt --tool memcheck --report-api-errors no --error-exitcode 99 \
    --print-limit 20 -- --train
  t=$rc; timed_out && status=TIMEOUT
  grep -E 'ERROR SUMMARY' "$work/train-memcheck.txt" | tail -1 | sed 's/^/    /' | tee -a "$summary"
  [ $status = PASS ] && { [ $m = 0 ] && [ $r = 0 ] && [ $t = 0 ] || status=FAIL; }
  stage_result sanitize $status "memcheck $m, racecheck $r, train memcheck $t (99 = the sanitizer found errors)"
}

stage_bench() {
  local params=${BENCH_PARAMS:-134217728} status=PASS a b tc g driver
  cli_step "check --bench $params" 20 bench.txt check --backend cuda --bench "$params"
  if [ -n "$no_gpu" ] && [ $rc = 2 ]; then stage_result bench NO-GPU "the CLI refused the cuda backend cleanly (exit 2): bench.txt"; return; fi
  a=$rc; timed_out && status=TIMEOUT
  cli_step "check --bench $params --bench-tensors 1000" 20 bench-1000.txt check --backend cuda --bench "$params" --bench-tensors 1000
  b=$rc; timed_out && status=TIMEOUT
  mkdir -p "$work/bench"
  # python3 with the environment it was given: PyTorch loads its own CUDA libraries.
  step "bench_torch.py" 35 bench/torch.log python3 scripts/device/bench_torch.py --out "$work/bench/torch.json"
  tc=$rc; timed_out && status=TIMEOUT
  local torch_arg=(); [ -f "$work/bench/torch.json" ] && torch_arg=(--torch "$work/bench/torch.json")
  driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -1)
  cli_step "bench gpu" 45 bench/bench.log bench gpu --out "$work/bench" --driver "${driver:-unknown}" "${torch_arg[@]}"
  g=$rc; timed_out && status=TIMEOUT
  sed 's/^/    /' "$work/bench.txt" "$work/bench-1000.txt" | tee -a "$summary"
  if [ -f "$work/bench/report.md" ]; then
    grep -E 'device-to-device copy|^Worst' "$work/bench/report.md" | sed 's/^/    /' | tee -a "$summary"
    grep -E '^\| shape |^\| (one-256M|gpt2-small) \|.*\| fp32 \| (checked|graph) \|' "$work/bench/report.md" | head -6 | sed 's/^/    /' | tee -a "$summary"
  fi
  [ $status = PASS ] && { [ $a = 0 ] && [ $b = 0 ] && [ $g = 0 ] || status=FAIL; }
  stage_result bench $status "check --bench $a/$b, bench_torch.py $tc (ratios need it), bench gpu $g: bench/report.md"
}

stage_train() {
  local cfg="$work/train/config.json" data=embedded status=PASS rc_cuda rc_cpu
  mkdir -p "$work/train"
  [ -f .device/fmnist/train-images-idx3-ubyte.gz ] && data="$root/.device/fmnist"
  # The default job's first TRAIN_OPTIMIZERS optimizers (2: adam, adamw; s/epoch per optimizer is the figure, and
  # six CPU epochs on the packed 10,000 images would not fit the guard), no checkpoints, output under $work.
  python3 - "$root/src/CudaAdam.Training/Jobs/default-train.json" "$cfg" "$data" "$work/train-runs" "${TRAIN_OPTIMIZERS:-2}" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["data"]["source"] = sys.argv[3]
c["output"] = sys.argv[4]
c["training"]["checkpoints"] = False
c["optimizers"] = c["optimizers"][:max(1, int(sys.argv[5]))]
json.dump(c, open(sys.argv[2], "w"), indent=2)
PY
  cli_step "train --backend cuda" 40 train/cuda.log train "$cfg" --backend cuda --epochs "${TRAIN_EPOCHS:-1}"
  rc_cuda=$rc
  if [ -n "$no_gpu" ] && [ $rc_cuda != 0 ]; then rm -rf "$work/train-runs"; stage_result train NO-GPU "the CLI refused --backend cuda cleanly (exit $rc_cuda): train/cuda.log"; return; fi
  timed_out && status=TIMEOUT
  cli_step "train --backend cpu" 80 train/cpu.log train "$cfg" --backend cpu --epochs "${TRAIN_EPOCHS:-1}"
  rc_cpu=$rc; timed_out && status=TIMEOUT
  local b folder
  for b in cuda cpu; do
    folder=$(sed -n 's/^run folder: //p' "$work/train/$b.log" | tail -1)
    [ -n "$folder" ] && [ -f "$folder/epochs.csv" ] && cp "$folder/epochs.csv" "$work/train/$b-epochs.csv" && cp "$folder/summary.md" "$work/train/$b-summary.md"
  done
  rm -rf "$work/train-runs"
  local openblas=no
  ldconfig -p 2>/dev/null | grep -q 'libopenblas\.so\.0' && openblas=yes
  python3 - "$work/train" "$data" "$openblas" > "$work/train.txt" <<'PY'
import csv, os, re, sys
d, data, openblas = sys.argv[1], sys.argv[2], sys.argv[3] == "yes"
def load(b):
    p = os.path.join(d, f"{b}-epochs.csv")
    if not os.path.exists(p): return {}
    out = {}
    for r in csv.DictReader(open(p)):
        if r["epoch"] == "0": continue
        o = out.setdefault(r["optimizer"], [0.0, 0, ""])
        o[0] = float(r["wall_s"]); o[1] += 1; o[2] = r["test_accuracy"]
    return out
g, c = load("cuda"), load("cpu")
print(f"default train job, same config on both backends; data: {data}")
for b in ("cuda", "cpu"):
    log = os.path.join(d, f"{b}.log")
    if not os.path.exists(log): continue
    text = open(log).read()
    for line in text.splitlines():
        if line.strip().startswith(("backend", "model")): print(f"  {b}: {line.strip()}")
    gemm = re.search(r"GEMM (\w[\w.]*)", text)
    if b == "cpu":
        name = gemm.group(1) if gemm else "unknown"
        note = {"openblas": "OpenBLAS (libopenblas.so.0)",
                "managed": "the managed C# loops (ManagedGemm): no libopenblas.so.0 on this machine, so cpu/cuda is NOT comparable with figures from a machine with OpenBLAS"}
        print(f"  cpu GEMM: {note.get(name, name)}; libopenblas.so.0 in ldconfig here: {'yes' if openblas else 'no'}")
    if not os.path.exists(os.path.join(d, f"{b}-epochs.csv")):
        print(f"  {b}: FAILED: " + " / ".join(l.strip() for l in text.strip().splitlines()[-4:]))
print()
print(f"{'optimizer':<14} {'epochs':>6} {'cuda s/epoch':>13} {'cpu s/epoch':>12} {'cpu/cuda':>9} {'cuda test acc':>14} {'cpu test acc':>13}")
for name in list(g) + [n for n in c if n not in g]:
    gs, cs = g.get(name), c.get(name)
    gt = gs[0] / gs[1] if gs else float("nan"); ct = cs[0] / cs[1] if cs else float("nan")
    print(f"{name:<14} {(gs or cs)[1]:>6} {gt:>13.3f} {ct:>12.3f} {ct / gt if gs and cs else float('nan'):>9.1f} "
          f"{(gs or ['', '', '-'])[2]:>14} {(cs or ['', '', '-'])[2]:>13}")
print("\ns/epoch: time in training steps only (epochs.csv wall_s / epochs); the first optimizer of each run also pays warm-up.")
PY
  sed -n '/GEMM\|^optimizer/,/^$/p' "$work/train.txt" | sed 's/^/    /' | head -12 | tee -a "$summary"
  [ $status = PASS ] && { [ $rc_cuda = 0 ] && [ $rc_cpu = 0 ] || status=FAIL; }
  stage_result train $status "cuda $rc_cuda, cpu $rc_cpu: train.txt"
}

for s in "${stages[@]}"; do
  say "== $s (budget ${BUDGET[$s]} s)"
  start=$(date +%s)
  "stage_$s"
  say "   $s took $(( $(date +%s) - start )) s of ${BUDGET[$s]} s"
done

# ---- result
fails=(); nogpu=0
for s in "${stages[@]}"; do
  case ${RESULT[$s]:-FAIL} in PASS) ;; NO-GPU) nogpu=$((nogpu + 1)) ;; *) fails+=("$s ${RESULT[$s]:-FAIL}") ;; esac
done
[ ${#rest[@]} -gt 0 ] && say "next command: scripts/device/run-on-gpu.sh all --from ${rest[0]}   (stages ${rest[*]})"
if [ ${#fails[@]} -gt 0 ]; then say "RESULT: FAIL (${fails[*]})"; exit 1; fi
if [ $nogpu -gt 0 ]; then say "RESULT: no GPU ($nogpu of ${#stages[@]} stages NO-GPU, nothing failed)"; exit 3; fi
say "RESULT: pass (${stages[*]})"
exit 0
