#!/usr/bin/python3
"""Golden values of SciPy's statistics for CudaAdam.Experiments.Statistics (tests/CudaAdam.Tests/Experiments/).

Run with Debian's python (SciPy 1.10, numpy 1.24):  /usr/bin/python3 tests/oracle/make_scipy_golden.py [--out DIR]
Writes DIR/scipy_stats.json (default DIR: tests/oracle/golden_scipy next to this script). Deterministic on one machine: a re-run
writes byte-identical bytes; across CPUs libm may move the last bits (GoldenFileIsUpToDate allows rtol 1e-12).

Sections (every float is a JSON number, Python's shortest round-trip repr, so C# reads the same double):
  kstwo        scipy.stats.kstwo.sf(d, n) on a grid of (n, d), with the method SciPy 1.10's _kolmogn uses there
  kstwobign    scipy.stats.kstwobign.sf(z)
  smirnov      scipy.special.smirnov(n, d)
  ks_1samp     scipy.stats.ks_1samp(x, norm(loc, scale).cdf, method=...) for method 'exact' and 'asymp'
  ks_2samp     scipy.stats.ks_2samp(a, b, method=...) for method 'exact' and 'asymp'
  linregress   scipy.stats.linregress(x, y) plus t.ppf((1 + c)/2, n - 2) for the slope interval
  percentile   numpy.percentile(x, 100 p) (linear interpolation, the bootstrap's percentile rule)
Data come from numpy.random.RandomState(seed) with the seed stored, rounded to 6 significant digits.
"""
import argparse
import json
import os

import numpy as np
import scipy
import scipy.special
import scipy.stats as st

FORMAT_VERSION = 1


def r6(a):
    return [float(f'{v:.6g}') for v in np.asarray(a, dtype=np.float64)]


def kolmogn_method(n, d):
    """The branch of SciPy 1.10's scipy.stats._ksstats._kolmogn that computes kstwo.sf(d, n)."""
    t = n * d
    if d >= 1 or t <= 0.5:
        return 'trivial'
    if t <= 1:
        return 'ruben-gambino'
    if t >= n - 1:
        return 'ruben-gambino'
    if d >= 0.5:
        return 'smirnov'
    nx2 = t * d
    if n <= 140:
        return 'exact' if nx2 <= 4 else 'smirnov'
    if nx2 >= 370:
        return 'trivial'
    if nx2 >= 2.2:
        return 'smirnov'
    if n <= 100000 and n * d ** 1.5 <= 1.4:
        return 'exact'
    return 'pelz-good'


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default=os.path.join(here, 'golden_scipy'), help='output folder (default: %(default)s)')
    args = ap.parse_args()
    out = {'format': FORMAT_VERSION, 'scipy': scipy.__version__, 'numpy': np.__version__}

    grid = []
    for n in [1, 2, 3, 5, 10, 20, 50, 100, 140, 141, 300, 1000, 5000]:
        for d in [0.001, 0.01, 0.03, 0.05, 0.08, 0.1, 0.15, 0.2, 0.3, 0.45, 0.5, 0.6, 0.75, 0.9, 0.99]:
            if n * d <= 0.5 and d not in (0.3, 0.6):
                continue
            grid.append({'n': n, 'd': d, 'sf': float(st.kstwo.sf(d, n)), 'method': kolmogn_method(n, d)})
    out['kstwo'] = grid
    out['kstwobign'] = [{'z': z, 'sf': float(st.kstwobign.sf(z))}
                        for z in [0.05, 0.2, 0.4, 0.6, 0.8, 0.99, 1.0, 1.2, 1.5, 2.0, 3.0, 4.0, 5.0]]
    out['smirnov'] = [{'n': n, 'd': d, 'sf': float(scipy.special.smirnov(n, d))}
                      for n in [1, 5, 40, 400, 4000] for d in [0.01, 0.05, 0.2, 0.5, 0.8]]

    one = []
    for seed, n, shift, scale in [(1, 5, 0.0, 1.0), (2, 20, 0.3, 1.0), (3, 60, 0.0, 1.5), (4, 140, 0.1, 1.0),
                                  (5, 300, 0.0, 1.0), (6, 1000, 0.05, 1.0), (7, 3, 3.0, 1.0), (8, 100, 1.0, 1.0)]:
        x = r6(np.random.RandomState(seed).standard_normal(n) * scale + shift)
        for method in ['exact', 'asymp']:
            res = st.ks_1samp(x, st.norm(0, 1).cdf, method=method)
            one.append({'seed': seed, 'method': method, 'loc': 0.0, 'scale': 1.0, 'x': x,
                        'statistic': float(res.statistic), 'pvalue': float(res.pvalue),
                        'location': float(res.statistic_location), 'sign': int(res.statistic_sign)})
    out['ks_1samp'] = one

    two = []
    for seed, n1, n2, shift, ties in [(11, 8, 8, 0.0, False), (12, 30, 30, 0.5, False), (13, 17, 40, 0.2, False),
                                      (14, 100, 150, 0.0, False), (15, 60, 45, 1.0, False), (16, 25, 35, 0.3, True),
                                      (17, 400, 300, 0.15, False)]:
        rs = np.random.RandomState(seed)
        a, b = rs.standard_normal(n1), rs.standard_normal(n2) + shift
        if ties:
            a, b = np.round(a, 1), np.round(b, 1)
        a, b = r6(a), r6(b)
        for method in ['exact', 'asymp']:
            res = st.ks_2samp(a, b, method=method)
            two.append({'seed': seed, 'method': method, 'a': a, 'b': b,
                        'statistic': float(res.statistic), 'pvalue': float(res.pvalue)})
    out['ks_2samp'] = two

    lin = []
    for seed, n, slope, noise in [(21, 5, -0.25, 0.05), (22, 12, -0.5, 0.2), (23, 40, 1.3, 1.0), (24, 8, 0.0, 0.3)]:
        rs = np.random.RandomState(seed)
        x = r6(np.log(np.logspace(1, 4, n)))
        y = r6(2.0 + slope * np.asarray(x) + noise * rs.standard_normal(n))
        res = st.linregress(x, y)
        lin.append({'seed': seed, 'x': x, 'y': y, 'slope': float(res.slope), 'intercept': float(res.intercept),
                    'rvalue': float(res.rvalue), 'pvalue': float(res.pvalue), 'stderr': float(res.stderr),
                    'intercept_stderr': float(res.intercept_stderr), 'confidence': 0.95,
                    't_ppf': float(st.t.ppf(0.975, n - 2))})
    out['linregress'] = lin

    x = r6(np.random.RandomState(31).standard_normal(23))
    ps = [0.0, 0.025, 0.1, 0.5, 0.9, 0.975, 1.0]
    out['percentile'] = {'x': x, 'p': ps, 'q': [float(np.percentile(x, 100 * p)) for p in ps]}

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, 'scipy_stats.json'), 'w', encoding='utf-8', newline='\n') as f:
        f.write('{\n')
        keys = list(out)
        for i, key in enumerate(keys):
            f.write(f'  {json.dumps(key)}: {json.dumps(out[key], separators=(",", ":"))}{"," if i < len(keys) - 1 else ""}\n')
        f.write('}\n')


if __name__ == '__main__':
    main()
