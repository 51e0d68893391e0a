"""What replay_torch.py and replay_numpy.py share: `cudaadam replay`'s files and the --batch driver.

  init.npy float32 [n], grads.npy float32 [T, n]  ->  --out float32 [n], --trajectory float32 [T+1, n]
"""
import json
import os
import sys

import numpy as np


def failer(script):
    """fail(message): one line on stderr naming the script, exit 2 (what cudaadam replay does with bad input)."""
    def fail(message):
        print(f"{script}: {message}", file=sys.stderr)
        sys.exit(2)
    return fail


def load_inputs(params, grads, fail):
    """The initial point [n] and the gradients [T, n], both float32, or one line and exit 2."""
    x0 = np.load(params)
    g = np.load(grads)
    if x0.dtype != np.float32 or g.dtype != np.float32 or x0.ndim != 1 or g.ndim != 2 or g.shape[1] != x0.shape[0]:
        fail(f"expected float32 params [n] and grads [T, n], got {x0.dtype} {x0.shape} and {g.dtype} {g.shape}")
    return x0, g


def save_outputs(out, trajectory, traj):
    """The last iterate to `out` and, when asked, every iterate to `trajectory`; each written atomically (a temporary
    file renamed into place), like cudaadam's outputs."""
    def save(path, arr):
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            np.save(f, arr.astype(np.float32))
        os.replace(tmp, path)

    if trajectory:
        save(trajectory, np.stack(traj))
    save(out, traj[-1])


def run(main):
    """`SCRIPT --batch FILE` runs main once per line of FILE (a JSON list of one replay's arguments) in one process;
    otherwise main(sys.argv[1:])."""
    if len(sys.argv) == 3 and sys.argv[1] == "--batch":
        with open(sys.argv[2]) as f:
            for line in f:
                if line.strip():
                    main(json.loads(line))
    else:
        main(sys.argv[1:])
