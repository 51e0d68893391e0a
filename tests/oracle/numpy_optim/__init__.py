"""Independent NumPy transcriptions of the optimizers torch 1.13 lacks (issue 12), one file each, written from the
papers' algorithm boxes and the authors' reference implementations (each file says which), NOT from CudaAdam's C#.
Each module has step(x, g, state, hp, t) -> x over float32 arrays, state a dict created by init(x, hp).
tests/oracle/replay_numpy.py runs them with the flags of `cudaadam replay`."""
