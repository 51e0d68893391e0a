"""AdaBelief in NumPy, float32.

Equations: Zhuang et al., "AdaBelief Optimizer: Adapting Stepsizes by the Belief in Observed Gradients", NeurIPS 2020,
Algorithm 2 (AdaBelief), lines  m_t = b1 m_{t-1} + (1-b1) g_t;  s_t = b2 s_{t-1} + (1-b2)(g_t - m_t)^2 + eps;
m^_t = m_t/(1-b1^t);  s^_t = s_t/(1-b2^t);  theta_t = theta_{t-1} - alpha m^_t/(sqrt(s^_t) + eps).
Weight decay and amsgrad as the authors' adabelief-pytorch 0.2.0 (AdaBelief.step, rectify=False): weight_decouple
(default True) multiplies p by 1 - lr*wd first, else adds wd*p to the gradient; amsgrad keeps max of s (after +eps).
"""
import numpy as np

DEFAULTS = dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-16, weight_decay=0.0, amsgrad=False, maximize=False,
                decoupled_weight_decay=True)


def init(x, hp):
    z = np.zeros_like(x)
    return {"m": z.copy(), "s": z.copy(), "s_max": z.copy()}


def step(x, g, st, hp, t):
    f = np.float32
    g = -g if hp["maximize"] else g
    if hp["weight_decay"] != 0:
        if hp["decoupled_weight_decay"]:
            x = x * f(1 - hp["lr"] * hp["weight_decay"])
        else:
            g = g + f(hp["weight_decay"]) * x
    b1, b2, eps = hp["beta1"], hp["beta2"], hp["eps"]
    st["m"] = f(b1) * st["m"] + f(1 - b1) * g
    st["s"] = f(b2) * st["s"] + f(1 - b2) * (g - st["m"]) ** 2 + f(eps)
    s = st["s"]
    if hp["amsgrad"]:
        st["s_max"] = np.maximum(st["s_max"], st["s"])
        s = st["s_max"]
    m_hat = st["m"] / f(1 - b1 ** t)
    s_hat = s / f(1 - b2 ** t)
    return x - f(hp["lr"]) * m_hat / (np.sqrt(s_hat) + f(eps))
