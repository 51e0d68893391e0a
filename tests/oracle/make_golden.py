#!/usr/bin/python3
"""Golden trajectories of torch.optim for CudaAdam's CPU reference (tests/CudaAdam.Tests/Oracle/GoldenTests.cs).

Run with Debian's python (PyTorch 1.13, CPU):  /usr/bin/python3 tests/oracle/make_golden.py [--out DIR]
Writes DIR/<algorithm>.json (default DIR: tests/oracle/golden next to this script), one file per algorithm, each a
list of cases with unique names. Deterministic: a re-run writes byte-identical files (a test checks it).

The hyperparameter sets are the conformance registry's (cases.json, exported by ./build.sh gen). Every case runs one torch.optim optimizer (float32, CPU with the baseline kernels: ATEN_CPU_CAPABILITY=default,
foreach=False: the single-tensor path) over 1 to 4 small tensors (at most 16 elements) for 1 to 120 steps.
Everything C# needs to replay it is STORED in the file, so C# needs no RNG parity with numpy:
  params[k].init          the initial values of tensor k
  grads[s][k]             the gradient of tensor k at step s+1, or null (p.grad = None: no step for that tensor)
  snapshots               params after some intermediate steps
  final.params            params after the last step
  final.state[k]          torch's state of tensor k by torch's names (exp_avg, exp_avg_sq, max_exp_avg_sq, exp_inf,
                          momentum_buffer, sum, square_avg, grad_avg, acc_delta, mu_product, step), or null when
                          torch has no state for it (it never had a gradient)
  max_abs                 the largest |value| each coordinate of each param and state buffer had over the steps
                          (2 significant digits): the scale of the rounding error a value that later cancels carries
  hyperparameters         the constructor's keyword arguments (all of them, defaults included) under CudaAdam's
                          Hyperparameters property names (lr -> Lr, betas -> Beta1/Beta2, ...); torch_kwargs keeps the
                          torch spelling of the values the case sets.
float32 values are strings: numpy's shortest decimal that round-trips to the same float32 (float.Parse in C# gives the
same bits back). Scalar state (NAdam's float32 mu_product) and hyperparameters are JSON numbers, exact as doubles.

Inputs come from numpy.random.RandomState seeded by the crc32 of the case name, rounded to 4 significant digits so
that the files stay small (the rounded values are what torch sees and what is stored).

Deviation from foreach=False: NAdam runs with foreach=True. torch 1.13's single-tensor NAdam computes
mu_product_next = mu_product * mu * mu_next AFTER mu_product *= mu, so mu_t enters twice; its multi-tensor path
computes mu_product * mu_next, the formula of the paper and of torch >= 2.0, where the single-tensor path was fixed
(pytorch/pytorch#92699, "[optim][NAdam] Fix discrepancy between mt vs st impl").
"""
import argparse
import inspect
import json
import os
import sys
import zlib

import numpy as np

# torch picks its CPU kernels by the machine's vector extensions (AVX2, AVX-512, ...), and those kernels fuse
# x + alpha*y into an FMA (measured on torch 1.13/AVX2: add_(alpha=) equals the fused result bit for bit). Pin the
# baseline x86-64 kernels, which round each operation as written, as CudaAdam's reference does: the files then do not
# depend on the machine that writes them, and stay byte-identical everywhere. Must be set before torch is imported.
os.environ['ATEN_CPU_CAPABILITY'] = 'default'
import torch  # noqa: E402

FORMAT_VERSION = 1

# torch keyword -> CudaAdam.Hyperparameters property. Implementation switches (foreach, capturable, differentiable,
# fused) select a code path, not the math, and are not mapped.
KWARG_TO_PROPERTY = {
    'lr': 'Lr', 'eps': 'Eps', 'weight_decay': 'WeightDecay', 'amsgrad': 'Amsgrad', 'maximize': 'Maximize',
    'momentum': 'Momentum', 'dampening': 'Dampening', 'nesterov': 'Nesterov', 'alpha': 'Alpha',
    'centered': 'Centered', 'rho': 'Rho', 'lr_decay': 'LrDecay', 'initial_accumulator_value': 'InitialAccumulatorValue',
    'momentum_decay': 'MomentumDecay', 'decoupled_weight_decay': 'DecoupledWeightDecay',  # the last: torch >= 2.1
    'lambd': 'Lambd', 't0': 'T0',  # ASGD
}
# torch's tuple keywords -> the CudaAdam properties of their components, in order (betas; Rprop's etas and step_sizes).
TUPLE_TO_PROPERTIES = {
    'betas': ('Beta1', 'Beta2'), 'etas': ('Etaminus', 'Etaplus'), 'step_sizes': ('StepSizeMin', 'StepSizeMax'),
}
IMPLEMENTATION_KWARGS = {'foreach', 'capturable', 'differentiable', 'fused'}

# The hyperparameter sets come from the conformance registry, exported by ./build.sh gen to cases.json next to this
# script (Conformance.ExportTorchCases: the descriptors' sets, every Hyperparameters property given): one case list for
# the kernels' conformance and for these goldens. Each set runs on Gaussian gradients for 10 steps; the defaults and
# the LAST set of an algorithm also run for 1 step, on every edge case and on the long trajectory. A set that needs an
# option torch lacks (bias_correction = false; decoupled_weight_decay or maximize where torch 1.13 has none) is left out.
CASES_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'cases.json')


def load_algorithms():
    """[(algo, torch class name, {set name: torch kwargs}, [edge set names])] from cases.json."""
    with open(CASES_FILE, encoding='utf-8') as f:
        doc = json.load(f)
    out = []
    for a in doc['algorithms']:
        cls = getattr(torch.optim, a['torch_class'])
        sets = [(('defaults' if s['name'] == 'default' else s['name']), s['hyperparameters']) for s in a['sets']]
        defaults = sets[0][1]
        hp_sets = {}
        for name, hp in sets:
            kwargs = torch_kwargs(cls, hp, defaults)
            if kwargs is None:
                print(f"  {a['algorithm']}: leaving out hyperparameter set {name}: torch {torch.__version__} "
                      f"{cls.__name__} has no option for it", file=sys.stderr)
                continue
            hp_sets[name] = kwargs
        usable = [name for name, _ in sets if name in hp_sets]
        out.append((a['algorithm'], a['torch_class'], hp_sets, [usable[0], usable[-1]]))
    return out


def torch_kwargs(cls, hp, defaults):
    """The constructor keywords of torch class cls for CudaAdam hyperparameters hp, or None when hp changes a property
    that cls has no keyword for (relative to the algorithm's defaults, which torch's defaults are)."""
    sig = torch_signature(cls)
    kwargs, covered = {}, set()
    for name in sig:
        if name in ('self', 'params') or name in IMPLEMENTATION_KWARGS:
            continue
        if name in TUPLE_TO_PROPERTIES:
            kwargs[name] = tuple(hp[k] for k in TUPLE_TO_PROPERTIES[name])
            covered |= set(TUPLE_TO_PROPERTIES[name])
        elif name in KWARG_TO_PROPERTY:
            kwargs[name] = hp[KWARG_TO_PROPERTY[name]]
            covered.add(KWARG_TO_PROPERTY[name])
    if any(hp[k] != defaults[k] for k in hp if k not in covered):
        return None
    return kwargs


# NAdam: see the module doc (torch 1.13's single-tensor NAdam has the mu_product_next bug).
FOREACH = {'nadam': True}

STEPS_SHORT = [10]             # Gaussian gradients, every hyperparameter set
STEPS_ONE = [1]                # Gaussian gradients, the edge sets (defaults and the rich set): a single step
STEPS_RADAM_EXTRA = [5, 6]     # RAdam, beta2 = 0.999: rho_t <= 5 (un-rectified) for t <= 5, rectified from t = 6
STEPS_EDGE = 6
STEPS_LONG = 120
SIZES = [7, 3, 1]              # tensor sizes of the ordinary cases
SIG_DIGITS = 4


def f32(x):
    """Rounds float64 values to 4 significant digits, then to float32 (short, exact decimal strings)."""
    x = np.asarray(x, dtype=np.float64)
    return np.array([float('%.*g' % (SIG_DIGITS, v)) for v in x.ravel()], dtype=np.float32).reshape(x.shape)


def s32(a):
    """float32 array -> list of exact decimal strings (numpy's shortest round-trip representation)."""
    return [str(np.float32(v)) for v in np.asarray(a, dtype=np.float32).ravel()]


def scale_json(a):
    """Magnitudes for tolerances, not data: 2 significant digits are plenty."""
    return [float('%.2g' % v) for v in np.asarray(a, dtype=np.float64).ravel()]


def rng_for(name):
    return np.random.RandomState(zlib.crc32(name.encode()))


# ---- edge cases: each returns (initial params, grad function(step, k, current param) -> array or None) ----

def gaussian(r, sizes=SIZES):
    init = [f32(r.randn(n)) for n in sizes]
    grads = {}
    def g(step, k, x):
        return grads.setdefault((step, k), f32(r.randn(len(x))))
    return init, g


def edge_inputs(kind, r):
    if kind == 'gaussian':
        return gaussian(r)
    if kind == 'zeros':  # zero gradients: only weight decay (if any) moves the params; 0/0 must not appear
        init = [f32(r.randn(n)) for n in SIZES]
        return init, lambda step, k, x: np.zeros(len(x), np.float32)
    if kind == 'sparse':  # mostly zero: about 1 coordinate in 5 is non-zero, the rest exactly 0
        init = [f32(r.randn(n)) for n in SIZES]
        return init, lambda step, k, x: f32(r.randn(len(x)) * (r.rand(len(x)) < 0.2))
    if kind == 'tiny':  # |g| ~ 1e-20: g*g underflows float32 (1e-40 is subnormal), eps dominates
        init = [f32(r.randn(n)) for n in SIZES]
        return init, lambda step, k, x: f32(r.randn(len(x)) * 1e-20)
    if kind == 'cauchy':  # heavy-tailed: occasional gradients of 1e2..1e4
        init = [f32(r.randn(n)) for n in SIZES]
        return init, lambda step, k, x: f32(r.standard_cauchy(len(x)))
    if kind == 'scales':  # coordinate i of tensor 0 (and its gradients) on the scale 10^(i-6), i = 0..12
        scale = 10.0 ** np.arange(-6, 7)
        init = [f32(r.randn(13) * scale), f32(r.randn(4))]
        def g(step, k, x):
            return f32(r.randn(len(x)) * (scale if k == 0 else 1.0))
        return init, g
    if kind == 'empty':  # a zero-size tensor next to an ordinary one
        init = [np.zeros(0, np.float32), f32(r.randn(5))]
        return init, lambda step, k, x: f32(r.randn(len(x)))
    if kind == 'nograd':  # p.grad = None: tensor 1 at steps 2 and 4, tensor 2 until step 3, tensor 3 always
        init = [f32(r.randn(n)) for n in [6, 4, 3, 2]]
        def g(step, k, x):
            if (k == 1 and step in (2, 4)) or (k == 2 and step < 3) or k == 3:
                return None
            return f32(r.randn(len(x)))
        return init, g
    if kind == 'quadratic':  # long run on f(x) = sum c_i (x_i - x*_i)^2 / 2 with noisy gradients
        init = [f32(r.randn(n)) for n in [4, 2]]
        target = [r.randn(len(x)) for x in init]
        curv = [0.5 + 1.5 * r.rand(len(x)) for x in init]
        def g(step, k, x):
            return f32(curv[k] * (x.astype(np.float64) - target[k]) + 0.1 * r.randn(len(x)))
        return init, g
    raise ValueError(kind)


EDGE_KINDS = ['zeros', 'sparse', 'tiny', 'cauchy', 'scales', 'empty', 'nograd']


def torch_signature(cls):
    return inspect.signature(cls.__init__).parameters


def full_hyperparameters(cls, kwargs):
    """Every math keyword of the constructor (defaults filled in) under CudaAdam's property names."""
    out = {}
    for name, p in torch_signature(cls).items():
        if name in ('self', 'params') or name in IMPLEMENTATION_KWARGS:
            continue
        value = kwargs.get(name, p.default)
        if value is inspect.Parameter.empty:
            raise ValueError(f'{cls.__name__}: no value for required argument {name}')
        if name in TUPLE_TO_PROPERTIES:
            for prop, v in zip(TUPLE_TO_PROPERTIES[name], value):
                out[prop] = float(v)
        elif name in KWARG_TO_PROPERTY:
            out[KWARG_TO_PROPERTY[name]] = value if isinstance(value, bool) else float(value)
        else:
            raise ValueError(f'{cls.__name__}: keyword {name} has no CudaAdam Hyperparameters property; map it')
    return out


def state_to_json(state):
    if not state:
        return None
    out = {}
    for key in sorted(state):
        v = state[key]
        if key == 'step':
            out['step'] = int(v.item()) if torch.is_tensor(v) else int(v)
        elif v is None:
            out[key] = None
        elif torch.is_tensor(v) and v.dim() == 0:
            out[key] = float(v.item())  # e.g. NAdam's mu_product (a float32 scalar tensor in torch 1.13)
        elif torch.is_tensor(v):
            out[key] = s32(v.detach().numpy())
        else:
            out[key] = float(v)
    return out


def run_case(algo, cls, hp_name, kwargs, kind, steps):
    name = f'{algo}-{hp_name}-{kind}-t{steps}'
    r = rng_for(name)
    init, grad_fn = edge_inputs(kind, r)
    params = [torch.nn.Parameter(torch.tensor(x, dtype=torch.float32)) for x in init]
    sig = torch_signature(cls)
    ctor = dict(kwargs)
    if 'foreach' in sig:
        ctor['foreach'] = FOREACH.get(algo, False)
    opt = cls(params, **ctor)
    snapshot_at = sorted({1, (steps + 1) // 2} - {steps}) if steps > 1 else []
    grads_json, snapshots = [], []
    param_max = [np.abs(x).astype(np.float64) for x in init]
    state_max = [{} for _ in params]
    for step in range(1, steps + 1):
        row = []
        for k, p in enumerate(params):
            g = grad_fn(step, k, p.detach().numpy().copy())
            if g is None:
                p.grad = None
                row.append(None)
            else:
                g = np.asarray(g, dtype=np.float32)
                p.grad = torch.tensor(g.copy())
                row.append(s32(g))
        grads_json.append(row)
        opt.step()
        for k, p in enumerate(params):
            param_max[k] = np.maximum(param_max[k], np.abs(p.detach().numpy()))
            for key, v in opt.state.get(p, {}).items():
                if torch.is_tensor(v) and v.dim() > 0:
                    a = np.abs(v.detach().numpy()).astype(np.float64)
                    state_max[k][key] = np.maximum(state_max[k][key], a) if key in state_max[k] else a
        if step in snapshot_at:
            snapshots.append({'after_step': step, 'params': [s32(p.detach().numpy()) for p in params]})
    return {
        'name': name,
        'hyperparameter_set': hp_name,
        'edge': kind,
        'steps': steps,
        'torch_kwargs': {k: (list(v) if isinstance(v, tuple) else v) for k, v in kwargs.items()},
        'hyperparameters': full_hyperparameters(cls, kwargs),
        'params': [{'name': f'p{k}', 'init': s32(x)} for k, x in enumerate(init)],
        'grads': grads_json,
        'snapshots': snapshots,
        'final': {
            'params': [s32(p.detach().numpy()) for p in params],
            'state': [state_to_json(opt.state.get(p)) for p in params],
        },
        'max_abs': {
            'params': [scale_json(m) for m in param_max],
            'state': [{key: scale_json(m[key]) for key in sorted(m)} if m else None for m in state_max],
        },
    }


def cases_for(algo, cls, hp_sets, edge_sets):
    sig = torch_signature(cls)
    out = []
    usable = {}
    for hp_name, kwargs in hp_sets.items():
        missing = [k for k in kwargs if k not in sig]
        if missing:  # e.g. maximize on torch 1.13's NAdam and RAdam
            print(f'  {algo}: skipping hyperparameter set {hp_name}: torch {torch.__version__} {cls.__name__} '
                  f'has no {", ".join(missing)}', file=sys.stderr)
            continue
        usable[hp_name] = kwargs
    for hp_name, kwargs in usable.items():
        steps_list = (STEPS_SHORT + (STEPS_ONE if hp_name in edge_sets else [])
                      + (STEPS_RADAM_EXTRA if algo == 'radam' and hp_name == 'defaults' else []))
        for steps in sorted(steps_list):
            out.append(run_case(algo, cls, hp_name, kwargs, 'gaussian', steps))
    for hp_name in edge_sets:
        for kind in EDGE_KINDS:
            out.append(run_case(algo, cls, hp_name, usable[hp_name], kind, STEPS_EDGE))
        out.append(run_case(algo, cls, hp_name, usable[hp_name], 'quadratic', STEPS_LONG))
    names = [c['name'] for c in out]
    assert len(names) == len(set(names)), 'case names must be unique'
    return out


def write_file(path, header, cases):
    """One case per line: small diffs, stable bytes."""
    with open(path, 'w', encoding='utf-8', newline='\n') as f:
        f.write('{\n')
        for key, value in header.items():
            f.write(f'  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)},\n')
        f.write('  "cases": [\n')
        for i, c in enumerate(cases):
            sep = ',' if i + 1 < len(cases) else ''
            f.write('    ' + json.dumps(c, separators=(',', ':'), ensure_ascii=False) + sep + '\n')
        f.write('  ]\n}\n')


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default=os.path.join(here, 'golden'), help='output folder (default: %(default)s)')
    args = ap.parse_args()
    torch.set_default_dtype(torch.float32)
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    for algo, class_name, hp_sets, edge_sets in load_algorithms():
        cls = getattr(torch.optim, class_name)
        cases = cases_for(algo, cls, hp_sets, edge_sets)
        header = {
            'format': FORMAT_VERSION,
            'algorithm': algo,
            'torch_class': f'torch.optim.{class_name}',
            'torch_version': torch.__version__,
            'numpy_version': np.__version__,
            'foreach': FOREACH.get(algo, False),
            'aten_cpu_capability': torch.backends.cpu.get_cpu_capability() if hasattr(torch.backends, 'cpu') else
            os.environ['ATEN_CPU_CAPABILITY'],
            'generator': 'tests/oracle/make_golden.py (run: /usr/bin/python3 tests/oracle/make_golden.py)',
            'float32_encoding': 'decimal strings: the shortest decimal that rounds to the same float32',
        }
        path = os.path.join(args.out, f'{algo}.json')
        write_file(path, header, cases)
        print(f'{path}: {len(cases)} cases', file=sys.stderr)


if __name__ == '__main__':
    main()
