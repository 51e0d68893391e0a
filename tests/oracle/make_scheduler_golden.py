#!/usr/bin/python3
"""Golden learning-rate sequences of torch 1.13's own schedulers (torch.optim.lr_scheduler), and the loss-scale
sequence of torch's dynamic GradScaler update rule, for tests/CudaAdam.Tests/Api/SchedulerGoldenTests.cs.

Run with Debian's python (PyTorch 1.13, CPU):  /usr/bin/python3 tests/oracle/make_scheduler_golden.py [--out DIR]
Writes DIR/schedulers.json (default DIR: tests/oracle/golden_schedulers next to this script). Deterministic: a
re-run writes a byte-identical file (a test checks it). Numbers are JSON doubles in Python's round-trip repr.

Each scheduler case:
  name          unique
  optimizer     "sgd" (momentum 0.9) or "adam": the torch.optim class the groups belong to (OneCycleLR cycles
                its momentum: SGD's momentum, Adam's betas[0])
  lrs           each parameter group's lr before any scheduler is built
  scheduler     the scheduler, as {"type": torch class name, <its keyword arguments>}; SequentialLR and
                ChainedScheduler nest {"schedulers": [...]}; LambdaLR's "lr_lambdas" name functions both sides
                define (LAMBDAS below)
  metrics       ReduceLROnPlateau only: the metric given to each step(metric)
  steps         how many scheduler.step() calls follow construction
  lr[t][g]      group g's lr after construction (t = 0) and after the t-th step()
  momentum[t][g] OneCycleLR with cycle_momentum: SGD's momentum or Adam's beta1, likewise
  state         the scheduler's state_dict() after `state_at` steps, its scalar entries (and base_lrs,
                _last_lr) under torch's keys: what CudaAdam's StateDict() must hold at that point
  state_at      that step; the file also proves a round trip: a fresh optimizer and scheduler that
                load_state_dict(...) there continue with exactly lr[state_at + 1 ..] (asserted below)

The grad_scaler cases: torch.cuda.amp.GradScaler needs CUDA (its update is the CUDA kernel `_amp_update_scale_`,
aten/src/ATen/native/cuda/AmpKernels.cu, which torch 1.13 has no CPU implementation of: "Could not run
'aten::_amp_update_scale_' with arguments from the 'CPU' backend"), so `update_scale` below TRANSCRIBES that kernel:
the scale is a float32 tensor; on an inf/NaN step scale = float32(scale * backoff_factor) and the growth tracker
resets; otherwise the tracker counts successful steps and at growth_interval the scale becomes
float32(scale * growth_factor) if that is finite, and the tracker resets. inv_scale is GradScaler.unscale_'s
`self._scale.double().reciprocal().float()`. Each case stores its constructor arguments, the found_inf sequence
(a string, '1' for a step with an inf/NaN gradient), and after the updates listed in `at` (0-based): scale, growth
tracker, and the inv_scale the next step uses.
"""
import argparse
import json
import math
import os

os.environ['ATEN_CPU_CAPABILITY'] = 'default'
import torch  # noqa: E402
from torch.optim import lr_scheduler as S  # noqa: E402

FORMAT_VERSION = 1

# The LambdaLR functions, by name (CudaAdam's test defines the same ones).
LAMBDAS = {
    'inverse': lambda e: 1.0 / (1.0 + e),
    'pow0.95': lambda e: 0.95 ** e,
    'warmup3': lambda e: (e + 1) / 3.0 if e < 3 else 1.0,
}


def build_optimizer(kind, lrs):
    params = [torch.nn.Parameter(torch.zeros(2)) for _ in lrs]
    groups = [{'params': [p], 'lr': lr} for p, lr in zip(params, lrs)]
    if kind == 'sgd':
        return torch.optim.SGD(groups, lr=lrs[0], momentum=0.9)
    return torch.optim.Adam(groups, lr=lrs[0])


def build_scheduler(opt, spec):
    spec = dict(spec)
    kind = spec.pop('type')
    if kind in ('SequentialLR', 'ChainedScheduler'):
        inner = [build_scheduler(opt, s) for s in spec.pop('schedulers')]
        return S.SequentialLR(opt, inner, **spec) if kind == 'SequentialLR' else S.ChainedScheduler(inner)
    if kind == 'LambdaLR':
        spec['lr_lambda'] = [LAMBDAS[n] for n in spec.pop('lr_lambdas')]
    if kind == 'ReduceLROnPlateau' and isinstance(spec.get('min_lr'), list):
        spec['min_lr'] = list(spec['min_lr'])
    return getattr(S, kind)(opt, **spec)


def momenta(opt):
    return [g['betas'][0] if 'betas' in g else g['momentum'] for g in opt.param_groups]


def scalar_state(sched):
    """The entries of state_dict() that are numbers or lists of numbers (nested schedulers by index)."""
    out = {}
    sd = sched.state_dict()
    for k in sorted(sd):
        v = sd[k]
        if k == '_schedulers':
            for i, child in enumerate(v):
                for ck, cv in sorted(child.items()):
                    if isinstance(cv, (int, float)) and not isinstance(cv, bool):
                        out[f'{i}.{ck}'] = float(cv)
            continue
        if isinstance(v, bool) or v is None or k == 'mode_worse':   # mode_worse is derived from mode (+-inf)
            continue
        if isinstance(v, (int, float)):
            out[k] = float(v)
        elif isinstance(v, list) and k in ('base_lrs', '_last_lr', 'min_lrs'):
            out[k] = [float(x) for x in v]
    return out


def run(case):
    def fresh():
        opt = build_optimizer(case['optimizer'], case['lrs'])
        return opt, build_scheduler(opt, case['scheduler'])

    def step(sched, t):
        if 'metrics' in case:
            sched.step(case['metrics'][t])
        else:
            sched.step()

    opt, sched = fresh()
    lr = [[g['lr'] for g in opt.param_groups]]
    mom = [momenta(opt)]
    state = None
    for t in range(case['steps']):
        opt.step()
        step(sched, t)
        lr.append([g['lr'] for g in opt.param_groups])
        mom.append(momenta(opt))
        if t + 1 == case['state_at']:
            state = scalar_state(sched)
            saved = (opt.state_dict(), sched.state_dict())
    # The round trip: a fresh optimizer and scheduler that load the saved dicts continue identically.
    opt2, sched2 = fresh()
    opt2.load_state_dict(saved[0])
    sched2.load_state_dict(saved[1])
    for t in range(case['state_at'], case['steps']):
        opt2.step()
        step(sched2, t)
        assert [g['lr'] for g in opt2.param_groups] == lr[t + 1], (case['name'], t)
    out = dict(case)
    out['lr'] = lr
    if case['scheduler']['type'] == 'OneCycleLR' and case['scheduler'].get('cycle_momentum', True):
        out['momentum'] = mom
    out['state'] = state
    return out


SGD, ADAM = 'sgd', 'adam'
CASES = [
    dict(name='step', optimizer=SGD, lrs=[0.1, 0.03], scheduler=dict(type='StepLR', step_size=3, gamma=0.5), steps=12, state_at=5),
    dict(name='multistep', optimizer=SGD, lrs=[0.1, 0.01], scheduler=dict(type='MultiStepLR', milestones=[2, 5, 5, 9], gamma=0.3), steps=12, state_at=4),
    dict(name='exponential', optimizer=SGD, lrs=[0.1, 0.2], scheduler=dict(type='ExponentialLR', gamma=0.9), steps=15, state_at=7),
    dict(name='cosine', optimizer=SGD, lrs=[0.1, 0.05], scheduler=dict(type='CosineAnnealingLR', T_max=7, eta_min=1e-4), steps=30, state_at=10),
    dict(name='cosine-restarts', optimizer=SGD, lrs=[0.1, 0.05], scheduler=dict(type='CosineAnnealingWarmRestarts', T_0=4, T_mult=2, eta_min=1e-5), steps=30, state_at=9),
    dict(name='cosine-restarts-1', optimizer=SGD, lrs=[0.1], scheduler=dict(type='CosineAnnealingWarmRestarts', T_0=5), steps=12, state_at=6),
    dict(name='linear', optimizer=SGD, lrs=[0.1, 0.04], scheduler=dict(type='LinearLR', start_factor=0.25, end_factor=1.0, total_iters=6), steps=10, state_at=3),
    dict(name='linear-down', optimizer=SGD, lrs=[0.1], scheduler=dict(type='LinearLR', start_factor=1.0, end_factor=0.1, total_iters=5), steps=8, state_at=2),
    dict(name='constant', optimizer=SGD, lrs=[0.1, 0.3], scheduler=dict(type='ConstantLR', factor=0.5, total_iters=4), steps=7, state_at=2),
    dict(name='polynomial', optimizer=SGD, lrs=[0.1], scheduler=dict(type='PolynomialLR', total_iters=8, power=2.0), steps=10, state_at=4),
    dict(name='lambda', optimizer=SGD, lrs=[0.1, 0.2], scheduler=dict(type='LambdaLR', lr_lambdas=['inverse', 'pow0.95']), steps=10, state_at=4),
    dict(name='onecycle-cos-sgd', optimizer=SGD, lrs=[0.1, 0.1], scheduler=dict(type='OneCycleLR', max_lr=[0.1, 0.05], total_steps=25), steps=24, state_at=8),
    dict(name='onecycle-linear-adam', optimizer=ADAM, lrs=[0.001], scheduler=dict(type='OneCycleLR', max_lr=0.01, total_steps=20, pct_start=0.25, anneal_strategy='linear', div_factor=10.0, final_div_factor=100.0), steps=19, state_at=5),
    dict(name='onecycle-three-phase', optimizer=ADAM, lrs=[0.001], scheduler=dict(type='OneCycleLR', max_lr=0.01, total_steps=30, three_phase=True, cycle_momentum=False), steps=29, state_at=12),
    dict(name='sequential-warmup-cosine', optimizer=SGD, lrs=[0.1, 0.02],
         scheduler=dict(type='SequentialLR', milestones=[4], schedulers=[
             dict(type='LinearLR', start_factor=0.1, total_iters=4), dict(type='CosineAnnealingLR', T_max=10)]), steps=20, state_at=6),
    dict(name='sequential-three', optimizer=SGD, lrs=[0.1],
         scheduler=dict(type='SequentialLR', milestones=[3, 7], schedulers=[
             dict(type='ConstantLR', factor=0.5, total_iters=3), dict(type='ExponentialLR', gamma=0.8), dict(type='StepLR', step_size=2, gamma=0.5)]), steps=12, state_at=5),
    dict(name='chained-constant-exponential', optimizer=SGD, lrs=[0.1, 0.05],
         scheduler=dict(type='ChainedScheduler', schedulers=[
             dict(type='ConstantLR', factor=0.1, total_iters=2), dict(type='ExponentialLR', gamma=0.9)]), steps=8, state_at=3),
    dict(name='chained-linear-step', optimizer=SGD, lrs=[0.1],
         scheduler=dict(type='ChainedScheduler', schedulers=[
             dict(type='LinearLR', start_factor=0.5, total_iters=4), dict(type='StepLR', step_size=3, gamma=0.1)]), steps=10, state_at=4),
    dict(name='plateau-min-rel', optimizer=SGD, lrs=[0.1, 0.01],
         scheduler=dict(type='ReduceLROnPlateau', mode='min', factor=0.5, patience=2, cooldown=1, min_lr=[0.02, 0.0]),
         metrics=[1.0, 0.9, 0.9, 0.95, 0.91, 0.8, 0.8, 0.8, 0.8, 0.8, 0.79999, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6], steps=18, state_at=7),
    dict(name='plateau-max-abs', optimizer=SGD, lrs=[0.1],
         scheduler=dict(type='ReduceLROnPlateau', mode='max', factor=0.1, patience=1, threshold=0.05, threshold_mode='abs', eps=1e-3),
         metrics=[0.5, 0.52, 0.6, 0.61, 0.62, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7], steps=12, state_at=5),
]


def update_scale(scale, tracker, found_inf, growth_factor, backoff_factor, growth_interval):
    """aten/src/ATen/native/cuda/AmpKernels.cu, _amp_update_scale_cuda_kernel, transcribed (float32 scale)."""
    if found_inf:
        return torch.tensor(scale.item() * backoff_factor, dtype=torch.float32), 0
    successful = tracker + 1
    if successful == growth_interval:
        new_scale = torch.tensor(scale.item() * growth_factor, dtype=torch.float32)
        return (new_scale if math.isfinite(new_scale.item()) else scale), 0
    return scale, successful


def scaler_case(name, found_inf, init_scale=65536.0, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000, keep=None):
    scale = torch.full((), init_scale, dtype=torch.float32)
    tracker = 0
    rows = []
    for inf in found_inf:
        scale, tracker = update_scale(scale, tracker, inf, growth_factor, backoff_factor, growth_interval)
        inv = scale.double().reciprocal().float()
        rows.append([scale.item(), tracker, inv.item()])
    keep = keep if keep is not None else range(len(rows))
    return dict(name=name, init_scale=init_scale, growth_factor=growth_factor, backoff_factor=backoff_factor,
                growth_interval=growth_interval, found_inf=''.join('1' if f else '0' for f in found_inf), at=list(keep), after=[rows[i] for i in keep])


def scaler_cases():
    return [
        # torch's defaults: 2000 clean steps double the scale; keep the rows around each change and the last.
        scaler_case('defaults', [False] * 4001 + [True, False, True, True] + [False] * 2001,
                    keep=[0, 1, 1997, 1998, 1999, 2000, 3998, 3999, 4000, 4001, 4002, 4003, 4004, 4005, 6003, 6004, 6005]),
        scaler_case('interval-3', [False, False, False, True, False, False, False, False, True, True, True, False, False, False],
                    init_scale=1024.0, growth_interval=3),
        scaler_case('overflow-stays', [False, False, False, False], init_scale=2.0 ** 126, growth_interval=1),
        scaler_case('odd-factors', [False, True, False, False, True, False, False, False], init_scale=3.0,
                    growth_factor=1.7, backoff_factor=0.3, growth_interval=2),
        scaler_case('halving', [True] * 120, init_scale=1.0),
    ]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=os.path.join(os.path.dirname(os.path.abspath(__file__)), 'golden_schedulers'))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    doc = {
        'format': FORMAT_VERSION,
        'torch': torch.__version__,
        'schedulers': [run(c) for c in CASES],
        'grad_scaler': scaler_cases(),
    }
    path = os.path.join(args.out, 'schedulers.json')
    with open(path + '.tmp', 'w', encoding='utf-8') as f:
        f.write('{\n')
        f.write(f'  "format": {doc["format"]},\n  "torch": {json.dumps(doc["torch"])},\n')
        for key in ('schedulers', 'grad_scaler'):
            f.write(f'  "{key}": [\n')
            items = doc[key]
            for i, c in enumerate(items):
                f.write('    ' + json.dumps(c, separators=(',', ':')) + (',' if i + 1 < len(items) else '') + '\n')
            f.write('  ]' + (',' if key == 'schedulers' else '') + '\n')
        f.write('}\n')
    os.replace(path + '.tmp', path)
    print(f'wrote {path}: {len(doc["schedulers"])} scheduler cases, {len(doc["grad_scaler"])} grad-scaler cases')


if __name__ == '__main__':
    main()
