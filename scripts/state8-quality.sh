#!/usr/bin/env bash
# The quality check of the 8-bit optimizer state (state_bits = 8; Dettmers et al. 2022, "8-bit Optimizers via Block-wise
# Quantization"): the Fashion-MNIST MLP of configs/state8-fmnist.json (784-256-256-10, dropout, 30,000 training images,
# the full 10,000 test images, 3 epochs, cosine schedule) with Adam and AdamW, each with float32 and with 8-bit state, on
# the same initial weights, minibatches and dropout masks (one `cudaadam train` run per seed), seeds 1 … N.
#
# CRITERION (stated before the run): for Adam and for AdamW, the mean over the seeds of the paired difference in final
# test accuracy, 8-bit minus float32, lies within ±0.3 percentage points.
#
#   scripts/state8-quality.sh [SEEDS (5)] [OUT (bench/state8-quality-DATE.md)]
# Writes the report (per-seed table, mean difference and its standard error, verdict, wall time, command) to OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
cli=${CLI:-scripts/cudaadam}   # CLI="dotnet path/CudaAdam.Cli.dll": a fixed build, while sources change
seeds=${1:-5}
out=${2:-bench/state8-quality-$(date -u +%Y-%m-%d).md}
runs=$(mktemp -d "${TMPDIR:-/tmp}/state8-quality.XXXXXX")
start=$(date +%s)
for s in $(seq 1 "$seeds"); do
    echo "== seed $s"
    $cli train configs/state8-fmnist.json --seed "$s" --output "$runs/seed$s" | grep -E "epoch [0-9]+/[0-9]+  step .* test acc" | tail -4
done
wall=$(( $(date +%s) - start ))
load=$(cut -d' ' -f1-3 /proc/loadavg)
cputime=$(times | tail -1)   # the children's user and system CPU time: what the runs cost, whatever the load
/usr/bin/python3 - "$runs" "$seeds" "$out" "$wall" "$load" "$*" "$cputime" <<'PY'
import csv, glob, math, os, sys
runs, seeds, out, wall, load, args, cputime = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6], sys.argv[7]
acc = {}   # (seed, optimizer) -> final test accuracy (%)
for s in range(1, seeds + 1):
    [folder] = glob.glob(os.path.join(runs, f'seed{s}', '*'))
    rows = list(csv.DictReader(open(os.path.join(folder, 'epochs.csv'))))
    last = max(int(r['epoch']) for r in rows)
    for r in rows:
        if int(r['epoch']) == last: acc[(s, r['optimizer'])] = 100 * float(r['test_accuracy'])
lines = ['# 8-bit optimizer state: test accuracy against float32 state (Fashion-MNIST MLP)', '',
         '**Criterion (stated before the run):** for Adam and for AdamW, the mean over the seeds of the paired difference in final',
         'test accuracy (8-bit state minus float32 state, same seed: same initial weights, minibatches and dropout masks) lies',
         'within ±0.3 percentage points.', '',
         ('Command: `nice -n 5 scripts/state8-quality.sh ' + args).rstrip() + '`',
         '',
         f'Config: `configs/state8-fmnist.json` (MLP 784-256-256-10, dropout 0.2/0.5, 30,000 training and 10,000 test images,',
         f'3 epochs, minibatch 128, cosine schedule, lr 1e-3; AdamW weight decay 0.01), backend cpu, seeds 1 … {seeds}.',
         f'Wall time {wall} s for all {seeds} seeds × 4 optimizers (CPU time, user and system: {cputime}); load average at',
         f'the end {load} on 2 cores (shared with other jobs: the wall time says more about them than about the runs).', '',
         '| seed | adam | adam-8bit | Δ | adamw | adamw-8bit | Δ |', '|---:|---:|---:|---:|---:|---:|---:|']
diffs = {'adam': [], 'adamw': []}
for s in range(1, seeds + 1):
    row = [str(s)]
    for base in ('adam', 'adamw'):
        a, b = acc[(s, base)], acc[(s, base + '-8bit')]
        diffs[base].append(b - a)
        row += [f'{a:.2f}%', f'{b:.2f}%', f'{b - a:+.2f}']
    lines.append('| ' + ' | '.join(row) + ' |')
lines.append('')
verdicts = []
for base in ('adam', 'adamw'):
    d = diffs[base]
    mean = sum(d) / len(d)
    se = math.sqrt(sum((x - mean) ** 2 for x in d) / (len(d) - 1) / len(d)) if len(d) > 1 else float('nan')
    ok = abs(mean) <= 0.3
    verdicts.append(ok)
    lines.append(f'- **{base}**: mean Δ = {mean:+.3f} pp (standard error {se:.3f} pp, min {min(d):+.2f}, max {max(d):+.2f}): '
                 f'{"**met**" if ok else "**NOT met**"} (|Δ| ≤ 0.3 pp)')
lines += ['', f'Verdict: {"**met**" if all(verdicts) else "**NOT met**"} for {"both" if all(verdicts) else "not both"} of Adam and AdamW.', '']
os.makedirs(os.path.dirname(out) or '.', exist_ok=True)
open(out, 'w').write('\n'.join(lines))
print('\n'.join(lines))
PY
rm -rf "$runs"
