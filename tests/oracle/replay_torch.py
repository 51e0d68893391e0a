#!/usr/bin/python3
"""The `cudaadam replay` command in PyTorch: the external oracle for the algorithms torch.optim has.

Same flags as `cudaadam replay` (torch.optim keyword names in kebab case), same files:
  init.npy float32 [n], grads.npy float32 [T, n]  ->  --out float32 [n], --trajectory float32 [T+1, n].

Run with Debian's interpreter, which has torch 1.13 from apt (python3-torch):
  /usr/bin/python3 tests/oracle/replay_torch.py --optimizer adam --lr 1e-3 --params init.npy --grads grads.npy --out final.npy

Only the options the user gives are passed to torch, so torch's own defaults apply otherwise (they are the defaults of
CudaAdam's Hyperparameters.Defaults, except SGD, whose lr torch 1.13 requires: we use 1e-3 as torch 2.x does).
An option that this torch's optimizer does not accept is an error (exit 2), never silently dropped.
Runs single-tensor (foreach=False) in float32 on the CPU, one parameter tensor of shape [n]; except NAdam on
torch < 2.0, whose single-tensor path multiplies mu_t into the product twice (pytorch/pytorch#92699): there the
foreach path, which has the paper's Pi_{t+1} = Pi_t * mu_{t+1}, is the oracle.

  --batch FILE   runs many replays in one process (torch imports once): each line of FILE is a JSON list of the
                 arguments of one replay; one summary line per replay; the first failure exits 2.
"""
import argparse
import inspect
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from replay_io import failer, load_inputs, run, save_outputs  # noqa: E402

TORCH_CLASSES = {
    "adam": "Adam", "adamw": "AdamW", "adamax": "Adamax", "nadam": "NAdam", "radam": "RAdam",
    "sgd": "SGD", "adagrad": "Adagrad", "rmsprop": "RMSprop", "adadelta": "Adadelta",
    "rprop": "Rprop", "asgd": "ASGD",
}
# torch's tuple keywords and the flags of their components (cudaadam replay's flags are the components).
TUPLES = {"betas": ("beta1", "beta2"), "etas": ("etaminus", "etaplus"), "step_sizes": ("step_size_min", "step_size_max")}
FLOAT_KEYS = ["lr", "beta1", "beta2", "eps", "weight_decay", "momentum", "dampening", "alpha", "rho", "lr_decay",
              "initial_accumulator_value", "momentum_decay", "etaminus", "etaplus", "step_size_min", "step_size_max",
              "lambd", "t0"]
BOOL_KEYS = ["amsgrad", "maximize", "nesterov", "centered", "decoupled_weight_decay"]


fail = failer("replay_torch.py")


def parse_bool(text):
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    raise argparse.ArgumentTypeError(f"'{text}' is not a boolean (use true or false)")


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--optimizer", required=True)
    p.add_argument("--params", required=True)
    p.add_argument("--grads", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--trajectory")
    for k in FLOAT_KEYS:
        p.add_argument("--" + k.replace("_", "-"), dest=k, type=float)
    for k in BOOL_KEYS:
        # --flag, or --flag=true/false, as in cudaadam replay
        p.add_argument("--" + k.replace("_", "-"), dest=k, nargs="?", const=True, type=parse_bool)
    a = p.parse_args(argv)

    name = a.optimizer.lower()
    if name not in TORCH_CLASSES:
        fail(f"torch.optim has no '{a.optimizer}'; torch algorithms: {', '.join(TORCH_CLASSES)}")
    cls = getattr(torch.optim, TORCH_CLASSES[name])
    accepted = inspect.signature(cls.__init__).parameters

    kwargs = {}
    in_tuples = {k for parts in TUPLES.values() for k in parts}
    for tuple_key, parts in TUPLES.items():
        given = [getattr(a, k) for k in parts]
        if all(v is None for v in given):
            continue
        if tuple_key not in accepted:
            fail(f"torch.optim.{cls.__name__} has no {tuple_key}")
        defaults = accepted[tuple_key].default
        kwargs[tuple_key] = tuple(d if v is None else v for d, v in zip(defaults, given))
    for k in FLOAT_KEYS + BOOL_KEYS:
        if k in in_tuples:
            continue
        v = getattr(a, k)
        if v is None:
            continue
        if k not in accepted:
            fail(f"torch {torch.__version__} torch.optim.{cls.__name__} does not accept {k}")
        kwargs[k] = v
    if name == "sgd" and "lr" not in kwargs:
        kwargs["lr"] = 1e-3  # torch 1.13 requires it; torch 2.x's default
    if "foreach" in accepted:
        torch_major = int(torch.__version__.split(".")[0])
        kwargs["foreach"] = name == "nadam" and torch_major < 2  # see the module doc: pytorch/pytorch#92699

    x0, grads = load_inputs(a.params, a.grads, fail)

    torch.set_num_threads(1)
    x = torch.nn.Parameter(torch.from_numpy(x0.copy()))
    opt = cls([x], **kwargs)
    traj = [x0.copy()]
    for t in range(grads.shape[0]):
        x.grad = torch.from_numpy(grads[t].copy())
        opt.step()
        traj.append(x.detach().numpy().copy())

    save_outputs(a.out, a.trajectory, traj)
    print(f"replay_torch: {cls.__name__}({kwargs}), T = {grads.shape[0]}, n = {x0.shape[0]}, torch {torch.__version__} -> {a.out}")


if __name__ == "__main__":
    run(main)
