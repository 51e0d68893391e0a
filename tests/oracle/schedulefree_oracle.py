#!/usr/bin/python3
"""Independent NumPy oracle of Schedule-Free AdamW and Schedule-Free SGD, in float64.

Where the equations come from: Defazio, Yang, Mehta, Mishchenko, Khaled & Cutkosky (2024), "The Road Less
Scheduled", NeurIPS, Algorithm 1 (Schedule-Free AdamW) and Section 2 (Schedule-Free SGD), written in the paper's
explicit three-sequence form:

    y_t     = (1 - beta) z_t + beta x_t                    (the gradient point)
    z_{t+1} = z_t - gamma_t * u_t                          (u_t: the normalized step, weight decay at y_t)
    x_{t+1} = (1 - c_{t+1}) x_t + c_{t+1} z_{t+1}          (the evaluation point, a weighted average of the z)

with the learning-rate warmup gamma_t = lr * min(1, t / warmup_steps) and the averaging weights of the authors'
reference implementation (facebookresearch/schedule_free, adamw_schedulefree.py / sgd_schedulefree.py):
w_t = t^r * (max_{i<=t} gamma_i)^weight_lr_power, c_{t+1} = w_t / sum_{i<=t} w_i (0 when the sum is 0), and for AdamW
v_t = beta2 v + (1 - beta2) g^2, u_t = g / (sqrt(v_t / (1 - beta2^t)) + eps) + weight_decay * y_t; for SGD
u_t = g + weight_decay * y_t. x_1 = z_1 = y_1 = the initial point.

This is NOT derived from the C# code, which never forms x (it updates y in place, y <- lerp(y, z, c) + ..., and
recovers x = lerp(y, z, 1 - 1/beta) in eval()): agreement checks that rewriting. float64 here, float32 there, so the
comparison is tolerance-based (ScheduleFreeOracleTests states the tolerance).

Input (a JSON file, the one argument): {"algorithm": "adamwschedulefree" | "sgdschedulefree", "hp": {Lr, Beta1, Beta2, Eps,
WeightDecay, Momentum, WarmupSteps, R, WeightLrPower, Maximize}, "x0": [n], "grads": [T][n]} where grads[t] is the
gradient the optimizer saw at step t+1 (taken at y_{t+1}). Output (JSON on stdout): {"y": [T][n] (y after each step),
"x": [n] (x_{T+1}), "z": [n]}.
"""
import json
import sys

import numpy as np


def run(spec):
    hp = spec['hp']
    adaptive = spec['algorithm'] == 'adamwschedulefree'
    beta = hp['Beta1'] if adaptive else hp['Momentum']
    x = np.array(spec['x0'], dtype=np.float64)
    z = x.copy()
    y = x.copy()
    v = np.zeros_like(x)
    lr_max, weight_sum, beta2_power = 0.0, 0.0, 1.0
    ys = []
    for t, g in enumerate(spec['grads'], start=1):
        g = np.array(g, dtype=np.float64)
        if hp['Maximize']:
            g = -g
        gamma = hp['Lr'] * (t / hp['WarmupSteps'] if t - 1 < hp['WarmupSteps'] else 1.0)
        lr_max = max(lr_max, gamma)
        w = t ** hp['R'] * lr_max ** hp['WeightLrPower']
        weight_sum += w
        c = w / weight_sum if weight_sum != 0 else 0.0
        if adaptive:
            beta2_power *= hp['Beta2']
            v = hp['Beta2'] * v + (1 - hp['Beta2']) * g * g
            u = g / (np.sqrt(v / (1 - beta2_power)) + hp['Eps'])
        else:
            u = g
        u = u + hp['WeightDecay'] * y
        z = z - gamma * u
        x = (1 - c) * x + c * z
        y = (1 - beta) * z + beta * x
        ys.append(y.tolist())
    return {'y': ys, 'x': x.tolist(), 'z': z.tolist()}


if __name__ == '__main__':
    with open(sys.argv[1]) as f:
        json.dump(run(json.load(f)), sys.stdout)
