#!/usr/bin/python3
"""The `cudaadam replay` command over the NumPy transcriptions of tests/oracle/numpy_optim/ (the optimizers torch 1.13
lacks): the external oracle of AdaBelief, AdEMAMix, Adan, LAMB and LARS. Same flags and files as replay_torch.py:
  init.npy float32 [n], grads.npy float32 [T, n]  ->  --out float32 [n], --trajectory float32 [T+1, n].
Only the keys an optimizer has are accepted (an unknown one exits 2). One parameter tensor of shape [n], float32.
  --batch FILE   many replays in one process: each line of FILE is a JSON list of one replay's arguments.
"""
import argparse
import importlib
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from replay_io import failer, load_inputs, run, save_outputs  # noqa: E402

OPTIMIZERS = ["adabelief", "ademamix", "adan", "lamb", "lars"]
BOOL_KEYS = {"amsgrad", "maximize", "nesterov", "decoupled_weight_decay"}


fail = failer("replay_numpy.py")


def main(argv):
    if "--optimizer" not in argv:
        fail("missing --optimizer")
    name = argv[argv.index("--optimizer") + 1].lower()
    if name not in OPTIMIZERS:
        fail(f"no NumPy transcription of '{name}'; have: {', '.join(OPTIMIZERS)}")
    mod = importlib.import_module(f"numpy_optim.{name}")
    p = argparse.ArgumentParser()
    for k in ["optimizer", "params", "grads", "out"]:
        p.add_argument("--" + k, required=True)
    p.add_argument("--trajectory")
    for k, v in mod.DEFAULTS.items():
        flag = "--" + k.replace("_", "-")
        if k in BOOL_KEYS:
            p.add_argument(flag, dest=k, nargs="?", const=True, default=v, type=lambda s: s.lower() == "true")
        else:
            p.add_argument(flag, dest=k, type=type(v), default=v)
    a = p.parse_args(argv)
    hp = {k: getattr(a, k) for k in mod.DEFAULTS}
    x, grads = load_inputs(a.params, a.grads, fail)
    st = mod.init(x, hp)
    traj = [x.copy()]
    with np.errstate(all="ignore"):
        for t in range(grads.shape[0]):
            x = mod.step(x, grads[t], st, hp, t + 1).astype(np.float32)
            traj.append(x.copy())
    save_outputs(a.out, a.trajectory, traj)
    print(f"replay_numpy: {name}({hp}), T = {grads.shape[0]}, n = {x.shape[0]} -> {a.out}")


if __name__ == "__main__":
    run(main)
