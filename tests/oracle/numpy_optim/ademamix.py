"""AdEMAMix in NumPy, float32.

Equations: Pagliardini, Ablin & Grangier, "The AdEMAMix Optimizer: Better, Faster, Older", arXiv 2409.03137 (2024),
Algorithm 1: m1 = b1 m1 + (1-b1) g;  m2 = b3(t) m2 + (1-b3(t)) g;  nu = b2 nu + (1-b2) g^2;
m1^ = m1/(1-b1^t);  nu^ = nu/(1-b2^t);  theta = theta - eta ((m1^ + alpha(t) m2)/(sqrt(nu^) + eps) + lambda theta).
The schedules alpha(t), beta3(t) as the authors' apple/ml-ademamix (pytorch/ademamix.py: linear_warmup_scheduler and
linear_hl_warmup_scheduler, beta_start = b1), warmup 0 meaning None. The update is written as the paper writes it (one
numerator, the decay inside the lr product), not in CudaAdam's AdamW-like order.
"""
import math

import numpy as np

DEFAULTS = dict(lr=1e-3, beta1=0.9, beta2=0.999, beta3=0.9999, alpha=2.0, alpha_warmup=0, beta3_warmup=0, eps=1e-8,
                weight_decay=0.0, maximize=False)


def init(x, hp):
    z = np.zeros_like(x)
    return {"m1": z.copy(), "m2": z.copy(), "nu": z.copy()}


def alpha_at(t, hp):
    if t < hp["alpha_warmup"]:
        a = t / float(hp["alpha_warmup"])
        return a * hp["alpha"]
    return hp["alpha"]


def beta3_at(t, hp):
    if t < hp["beta3_warmup"]:
        half_life = lambda b: math.log(0.5) / math.log(b + 1e-8) - 1
        a = t / float(hp["beta3_warmup"])
        h = (1.0 - a) * half_life(hp["beta1"]) + a * half_life(hp["beta3"])
        return math.pow(0.5, 1 / (h + 1))
    return hp["beta3"]


def step(x, g, st, hp, t):
    f = np.float32
    g = -g if hp["maximize"] else g
    b1, b2, eps = hp["beta1"], hp["beta2"], hp["eps"]
    b3, alpha = beta3_at(t, hp), alpha_at(t, hp)
    st["m1"] = f(b1) * st["m1"] + f(1 - b1) * g
    st["m2"] = f(b3) * st["m2"] + f(1 - b3) * g
    st["nu"] = f(b2) * st["nu"] + f(1 - b2) * g * g
    m1_hat = st["m1"] / f(1 - b1 ** t)
    nu_hat = st["nu"] / f(1 - b2 ** t)
    update = (m1_hat + f(alpha) * st["m2"]) / (np.sqrt(nu_hat) + f(eps)) + f(hp["weight_decay"]) * x
    return x - f(hp["lr"]) * update
