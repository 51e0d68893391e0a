"""Adan in NumPy, float32.

Equations: Xie, Zhou, Li, Lin & Yan, "Adan: Adaptive Nesterov Momentum Algorithm for Faster Optimizing Deep Models",
arXiv 2208.06677 (2022), Algorithm 1, in its own convention (the paper's b_i weigh the new term):
  m_k = (1 - b1) m_{k-1} + b1 g_k
  v_k = (1 - b2) v_{k-1} + b2 (g_k - g_{k-1})
  n_k = (1 - b3) n_{k-1} + b3 [g_k + (1 - b2)(g_k - g_{k-1})]^2
  eta_k = eta / (sqrt(n_k) + eps)
  theta_{k+1} = (1 + lambda eta)^-1 [theta_k - eta_k o (m_k + (1 - b2) v_k)]
with b_paper = 1 - beta (beta = the flags' beta1, beta2, beta3, the usual convention), the bias corrections and the
first step (g_0 = g_1, so the first difference is 0) of the authors' sail-sg/Adan (adan.py, _single_tensor_adan): m, v
and n are divided by 1 - beta_i^k where they enter the update, n under the sqrt.
"""
import numpy as np

DEFAULTS = dict(lr=1e-3, beta1=0.98, beta2=0.92, beta3=0.99, eps=1e-8, weight_decay=0.0, maximize=False)


def init(x, hp):
    z = np.zeros_like(x)
    return {"m": z.copy(), "v": z.copy(), "n": z.copy(), "g_prev": None}


def step(x, g, st, hp, t):
    f = np.float32
    g = -g if hp["maximize"] else g
    g_prev = g if st["g_prev"] is None else st["g_prev"]
    pb1, pb2, pb3 = 1 - hp["beta1"], 1 - hp["beta2"], 1 - hp["beta3"]     # the paper's b1, b2, b3
    diff = g - g_prev
    st["m"] = f(1 - pb1) * st["m"] + f(pb1) * g
    st["v"] = f(1 - pb2) * st["v"] + f(pb2) * diff
    st["n"] = f(1 - pb3) * st["n"] + f(pb3) * (g + f(1 - pb2) * diff) ** 2
    st["g_prev"] = g.copy()
    m_hat = st["m"] / f(1 - hp["beta1"] ** t)
    v_hat = st["v"] / f(1 - hp["beta2"] ** t)
    n_hat = st["n"] / f(1 - hp["beta3"] ** t)
    eta = f(hp["lr"]) / (np.sqrt(n_hat) + f(hp["eps"]))
    return (x - eta * (m_hat + f(1 - pb2) * v_hat)) / f(1 + hp["lr"] * hp["weight_decay"])
