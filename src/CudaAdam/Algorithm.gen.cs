// Algorithm.gen.cs — GENERATED from the algorithm descriptors (src/CudaAdam/Algorithms.cs) by
// src/CudaAdam/AlgorithmEnumSource.cs: edit the rows, not the comments here. A new algorithm: add its member's
// line below and its row, then ./build.sh gen rewrites this file.
// CS1591 is off here only so that a new member compiles before its first ./build.sh gen documents it;
// DescriptorTests fails while this file is stale, so every member ends up documented.
#pragma warning disable CS1591
namespace CudaAdam;

/// <summary>
/// Every optimizer CudaAdam implements. One name everywhere: the kernel (<c>kernels/*.cu</c>), the CPU
/// reference (<c>Reference/</c>), the CLI (<see cref="AlgorithmNames"/>) and the tests use the same one. Each member's
/// documentation is its descriptor row (<see cref="Algorithms.Info"/>): g is the gradient (after maximize's sign
/// flip), γ the learning rate, λ the weight decay, t the step (1 on the first), m̂ = m/(1 − β1^t) and
/// v̂ = v/(1 − β2^t) the bias-corrected moments; all state and parameters are float32.
/// </summary>
public enum Algorithm
{
    /// <summary>Kingma &amp; Ba (2015), Algorithm 1; torch.optim.Adam.</summary>
    /// <remarks>
    /// <para>Update: g ← g + λx;  m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²;  v̄ ← max(v̄, v) (amsgrad);  x ← x − (γ/(1−β1^t))·m/(sqrt(v̄)/sqrt(1−β2^t) + ε). Convention: ε OUTSIDE the sqrt, added after bias-correcting v (torch). Weight decay is L2, COUPLED into g.</para>
    /// <para>Defaults: lr 0.001, beta1 0.9, beta2 0.999, eps 1E-08, weight_decay 0. State: exp_avg, exp_avg_sq, max_exp_avg_sq. Kernel: <c>kernels/adam.cu</c> <c>adam_step</c>. Name: <c>adam</c>.</para>
    /// </remarks>
    Adam,
    /// <summary>Loshchilov &amp; Hutter (2019), Decoupled Weight Decay Regularization; torch.optim.AdamW.</summary>
    /// <remarks>
    /// <para>Update: x ← x·(1 − γλ) (weight decay DECOUPLED: never seen by m or v), then the Adam step with λ = 0. Convention: torch multiplies by (1 − lr·weight_decay), so the decay scales with lr. Default weight_decay 1e-2.</para>
    /// <para>Defaults: lr 0.001, beta1 0.9, beta2 0.999, eps 1E-08, weight_decay 0.01. State: exp_avg, exp_avg_sq, max_exp_avg_sq. Kernel: <c>kernels/adam.cu</c> <c>adam_step</c>. Name: <c>adamw</c>.</para>
    /// </remarks>
    AdamW,
    /// <summary>Kingma &amp; Ba (2015), Section 7.1; torch.optim.Adamax.</summary>
    /// <remarks>
    /// <para>Update: g ← g + λx;  m ← β1 m + (1−β1) g;  u ← max(β2 u, |g| + ε);  x ← x − (γ/(1−β1^t))·m/u. Convention: ε is added to |g| inside the max (torch), not to u.</para>
    /// <para>Defaults: lr 0.002, beta1 0.9, beta2 0.999, eps 1E-08, weight_decay 0. State: exp_avg, exp_inf. Kernel: <c>kernels/adam.cu</c> <c>adamax_step</c>. Name: <c>adamax</c>.</para>
    /// </remarks>
    AdaMax,
    /// <summary>Dozat (2016), Incorporating Nesterov Momentum into Adam; torch.optim.NAdam.</summary>
    /// <remarks>
    /// <para>Update: μ_t = β1(1 − ½·0.96^(tψ));  m, v as Adam;  d = sqrt(v/(1−β2^t)) + ε;  x ← x − γ(1−μ_t)/(1−Πμ_{≤t})·g/d − γμ_{t+1}/(1−Πμ_{≤t+1})·m/d. Convention: torch 1.13's single-tensor path multiplies μ_t in twice (pytorch/pytorch#92699); we follow the fix.</para>
    /// <para>Defaults: lr 0.002, beta1 0.9, beta2 0.999, eps 1E-08, weight_decay 0. State: exp_avg, exp_avg_sq. Kernel: <c>kernels/adam.cu</c> <c>nadam_step</c>. Name: <c>nadam</c>.</para>
    /// </remarks>
    NAdam,
    /// <summary>Liu et al. (2020), On the Variance of the Adaptive Learning Rate and Beyond; torch.optim.RAdam.</summary>
    /// <remarks>
    /// <para>Update: m, v as Adam;  m̂ = m/(1−β1^t);  ρ_t = ρ∞ − 2tβ2^t/(1−β2^t);  ρ_t &gt; 5: x ← x − γ·m̂·sqrt(1−β2^t)/(sqrt(v)+ε)·r_t, else x ← x − γ·m̂ (SGD with momentum).</para>
    /// <para>Defaults: lr 0.001, beta1 0.9, beta2 0.999, eps 1E-08, weight_decay 0. State: exp_avg, exp_avg_sq. Kernel: <c>kernels/adam.cu</c> <c>radam_step</c>. Name: <c>radam</c>.</para>
    /// </remarks>
    RAdam,
    /// <summary>SGD with momentum, dampening and Nesterov (Sutskever et al. 2013); torch.optim.SGD.</summary>
    /// <remarks>
    /// <para>Update: g ← g + λx;  b ← g at the first step, then b ← μb + (1−τ)g;  g ← g + μb (nesterov) or b;  x ← x − γg. Convention: the buffer is created on the first step as a copy of g (dampening does not act then); lr outside the buffer.</para>
    /// <para>Defaults: lr 0.001, weight_decay 0. State: momentum_buffer. Kernel: <c>kernels/baselines.cu</c> <c>sgd_step</c>. Name: <c>sgd</c>.</para>
    /// </remarks>
    Sgd,
    /// <summary>Duchi, Hazan &amp; Singer (2011); torch.optim.Adagrad.</summary>
    /// <remarks>
    /// <para>Update: g ← g + λx;  clr = γ/(1 + (t−1)·lr_decay);  s ← s + g²;  x ← x − clr·g/(sqrt(s) + ε). Convention: ε outside the sqrt; s starts at initial_accumulator_value.</para>
    /// <para>Defaults: lr 0.01, eps 1E-10, weight_decay 0. State: sum. Kernel: <c>kernels/baselines.cu</c> <c>adagrad_step</c>. Name: <c>adagrad</c>.</para>
    /// </remarks>
    AdaGrad,
    /// <summary>Tieleman &amp; Hinton (2012); Graves (2013) for centered; torch.optim.RMSprop.</summary>
    /// <remarks>
    /// <para>Update: g ← g + λx;  v ← αv + (1−α)g²;  centered: a ← αa + (1−α)g, d = sqrt(v − a²) + ε, else d = sqrt(v) + ε;  momentum: b ← μb + g/d, x ← x − γb, else x ← x − γg/d. Convention: ε outside the sqrt (torch).</para>
    /// <para>Defaults: lr 0.01, eps 1E-08, weight_decay 0. State: square_avg, momentum_buffer, grad_avg. Kernel: <c>kernels/baselines.cu</c> <c>rmsprop_step</c>. Name: <c>rmsprop</c>.</para>
    /// </remarks>
    RmsProp,
    /// <summary>Zeiler (2012), ADADELTA; torch.optim.Adadelta.</summary>
    /// <remarks>
    /// <para>Update: g ← g + λx;  v ← ρv + (1−ρ)g²;  Δ = sqrt(u + ε)/sqrt(v + ε)·g;  u ← ρu + (1−ρ)Δ²;  x ← x − γΔ. Convention: ε INSIDE both square roots (torch).</para>
    /// <para>Defaults: lr 1, eps 1E-06, weight_decay 0. State: square_avg, acc_delta. Kernel: <c>kernels/baselines.cu</c> <c>adadelta_step</c>. Name: <c>adadelta</c>.</para>
    /// </remarks>
    AdaDelta,
    /// <summary>Bernstein et al. (2018), signSGD: Compressed Optimisation for Non-Convex Problems. Not in torch.optim.</summary>
    /// <remarks>
    /// <para>Update: g ← g + λx;  x ← x − γ·sign(g). sign(±0) = ±0. Not in torch.optim.</para>
    /// <para>Defaults: lr 0.001, weight_decay 0. State: none. Kernel: <c>kernels/sign.cu</c> <c>signsgd_step</c>. Name: <c>signsgd</c>.</para>
    /// </remarks>
    SignSgd,
    /// <summary>Bernstein et al. (2018): sign descent on momentum. Not in torch.optim.</summary>
    /// <remarks>
    /// <para>Update: g ← g + λx;  m ← μm + (1−μ)g;  x ← x − γ·sign(m). Not in torch.optim.</para>
    /// <para>Defaults: lr 0.001, weight_decay 0. State: momentum_buffer. Kernel: <c>kernels/sign.cu</c> <c>signum_step</c>. Name: <c>signum</c>.</para>
    /// </remarks>
    Signum,
    /// <summary>Chen et al. (2023), Symbolic Discovery of Optimization Algorithms. Not in torch.optim.</summary>
    /// <remarks>
    /// <para>Update: x ← x·(1 − γλ) (decoupled);  c = β1 m + (1−β1) g;  x ← x − γ·sign(c);  m ← β2 m + (1−β2) g. Convention: β1 interpolates the update, β2 is the momentum decay (defaults 0.9, 0.99). Not in torch.optim.</para>
    /// <para>Defaults: lr 0.0001, beta1 0.9, beta2 0.99, weight_decay 0. State: exp_avg. Kernel: <c>kernels/sign.cu</c> <c>lion_step</c>. Name: <c>lion</c>.</para>
    /// </remarks>
    Lion,
    /// <summary>Adam as sign-like descent: arXiv 2507.05966, Simple Convergence Proof of Adam From a Sign-like Descent Perspective. Not in torch.optim.</summary>
    /// <remarks>
    /// <para>Update: x ← x − γ·u ∘ sign(m̂),  u = |m̂|/(sqrt(v̂) + ε), with m, v, bias correction, ε placement and coupled L2 exactly as Adam. (|m|/d)·sign(m) = m/d in IEEE arithmetic, so the step is bitwise Adam's; u is exposed for diagnostics.</para>
    /// <para>Defaults: lr 0.001, beta1 0.9, beta2 0.999, eps 1E-08, weight_decay 0. State: exp_avg, exp_avg_sq, max_exp_avg_sq. Kernel: <c>kernels/sign.cu</c> <c>signadam_step</c>. Name: <c>signadam</c>.</para>
    /// </remarks>
    SignAdam,
    /// <summary>Zaheer, Reddi, Sachan, Kale &amp; Kumar (2018), Adaptive Methods for Nonconvex Optimization, NeurIPS, Algorithm 2. Not in torch.optim.</summary>
    /// <remarks>
    /// <para>Update: g ← g + λx;  m ← β1 m + (1−β1) g;  v ← v − (1−β2)·sign(v − g²)·g²;  x ← x − γ·m/(sqrt(v) + ε). Convention: no bias correction; v starts at initial_accumulator_value (1e-6); ε = 1e-3 outside the sqrt. Not in torch.optim.</para>
    /// <para>Defaults: lr 0.01, beta1 0.9, beta2 0.999, eps 0.001, weight_decay 0. State: exp_avg, exp_avg_sq. Kernel: <c>kernels/adam.cu</c> <c>yogi_step</c>. Name: <c>yogi</c>.</para>
    /// </remarks>
    Yogi,
    /// <summary>Riedmiller &amp; Braun (1993), A Direct Adaptive Method for Faster Backpropagation Learning: The RPROP Algorithm; torch.optim.Rprop.</summary>
    /// <remarks>
    /// <para>Update: s = g·g_prev;  η = η+ (s &gt; 0), η− (s &lt; 0), else 1;  Δ ← clamp(Δ·η, Γmin, Γmax);  g ← 0 where η = η−;  x ← x − sign(g)·Δ;  g_prev ← g. Convention: torch's variant (no weight backtracking); lr only seeds Δ_0 (the state step_size); sign is torch's (NaN and ±0 give 0); no weight decay, no ε.</para>
    /// <para>Defaults: lr 0.01, weight_decay 0. State: prev, step_size. Kernel: <c>kernels/sign.cu</c> <c>rprop_step</c>. Name: <c>rprop</c>.</para>
    /// </remarks>
    Rprop,
    /// <summary>Polyak &amp; Juditsky (1992), Acceleration of Stochastic Approximation by Averaging; torch.optim.ASGD.</summary>
    /// <remarks>
    /// <para>Update: g ← g + λ_wd x;  x ← x(1 − λη_t);  x ← x − η_t g;  ax ← ax + μ_t(x − ax) (μ_t ≠ 1), else ax ← x;  η_{t+1} = lr/(1 + λ·lr·t)^α, μ_{t+1} = 1/max(1, t − t0). Convention: η, μ are per-parameter state (torch's eta, mu), set at the end of a step from its lr; ax, the average, stays in the state (never in the parameters).</para>
    /// <para>Defaults: lr 0.01, weight_decay 0. State: ax. Kernel: <c>kernels/baselines.cu</c> <c>asgd_step</c>. Name: <c>asgd</c>.</para>
    /// </remarks>
    Asgd,
    /// <summary>Zhuang et al. (2020), AdaBelief Optimizer: Adapting Stepsizes by the Belief in Observed Gradients, NeurIPS, Algorithm 2. Not in torch.optim.</summary>
    /// <remarks>
    /// <para>Update: x ← x(1 − γλ) (decoupled, default) or g ← g + λx;  m ← β1 m + (1−β1) g;  s ← β2 s + (1−β2)(g − m)² + ε;  s̄ ← max(s̄, s) (amsgrad);  x ← x − (γ/(1−β1^t))·m/(sqrt(s̄)/sqrt(1−β2^t) + ε). Convention: ε twice (in the state s each step, and outside the sqrt), default 1e-16; the paper's box without the rectification adabelief-pytorch defaults to. Not in torch.optim.</para>
    /// <para>Defaults: lr 0.001, beta1 0.9, beta2 0.999, eps 1E-16, weight_decay 0. State: exp_avg, exp_avg_var, max_exp_avg_var. Kernel: <c>kernels/adam.cu</c> <c>adabelief_step</c>. Name: <c>adabelief</c>.</para>
    /// </remarks>
    AdaBelief,
    /// <summary>Pagliardini, Ablin &amp; Grangier (2024), The AdEMAMix Optimizer: Better, Faster, Older, arXiv 2409.03137, Algorithm 1; apple/ml-ademamix. Not in torch.optim.</summary>
    /// <remarks>
    /// <para>Update: x ← x(1 − γλ);  m1 ← β1 m1 + (1−β1) g;  m2 ← β3(t) m2 + (1−β3(t)) g;  ν ← β2 ν + (1−β2) g²;  d = sqrt(ν)/sqrt(1−β2^t) + ε;  x ← x − (γ/(1−β1^t))·m1/d − γα(t)·m2/d;  α(t) = α·min(1, t/T_α), β3(t) from β1 to β3 linearly in half-life over T_β3. Convention: decoupled decay (AdamW); the slow EMA is not bias-corrected; α = 0 is AdamW bitwise. Not in torch.optim.</para>
    /// <para>Defaults: lr 0.001, beta1 0.9, beta2 0.999, eps 1E-08, weight_decay 0. State: exp_avg_fast, exp_avg_sq, exp_avg_slow. Kernel: <c>kernels/adam.cu</c> <c>ademamix_step</c>. Name: <c>ademamix</c>.</para>
    /// </remarks>
    AdEMAMix,
    /// <summary>Xie, Zhou, Li, Lin &amp; Yan (2022), Adan: Adaptive Nesterov Momentum Algorithm for Faster Optimizing Deep Models, arXiv 2208.06677, Algorithm 1; sail-sg/Adan. Not in torch.optim.</summary>
    /// <remarks>
    /// <para>Update: Δ = g − g_prev (0 at t = 1);  m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) Δ;  n ← β3 n + (1−β3)(g + β2Δ)²;  d = sqrt(n)/sqrt(1−β3^t) + ε;  x ← [x − (γ/(1−β1^t))·m/d − (γβ2/(1−β2^t))·v/d]/(1 + γλ). Convention: the usual β convention (the paper's β_i are 1 − these), sail-sg's bias corrections, proximal weight decay. Not in torch.optim.</para>
    /// <para>Defaults: lr 0.001, beta1 0.98, beta2 0.92, eps 1E-08, weight_decay 0. State: exp_avg, exp_avg_sq, exp_avg_diff, pre_grad. Kernel: <c>kernels/adam.cu</c> <c>adan_step</c>. Name: <c>adan</c>.</para>
    /// </remarks>
    Adan,
    /// <summary>Defazio, Yang, Mehta, Mishchenko, Khaled &amp; Cutkosky (2024), The Road Less Scheduled, NeurIPS, Algorithm 1; facebookresearch/schedule_free AdamWScheduleFree. Not in torch.optim.</summary>
    /// <remarks>
    /// <para>Update: γ_t = γ·min(1, t/warmup);  w_t = t^r·(max γ)^weight_lr_power;  c = w_t/Σw;  v ← β2 v + (1−β2) g²;  u = g/(sqrt(v/(1−β2^t)) + ε) + λy;  y ← lerp(y, z, c) + γ_t(β1(1−c) − 1)·u;  z ← z − γ_t u;  x = lerp(y, z, 1 − 1/β1) is the evaluation point (eval()). Convention: the parameter holds y in train mode, x in eval mode; β1 interpolates (no first moment); weight decay at y inside the normalized step; ε outside the sqrt of the bias-corrected v. Not in torch.optim.</para>
    /// <para>Defaults: lr 0.0025, beta1 0.9, beta2 0.999, eps 1E-08, weight_decay 0, warmup_steps 0, r 0, weight_lr_power 2. State: z, exp_avg_sq. Kernel: <c>kernels/schedulefree.cu</c> <c>adamw_schedulefree_step</c>. Name: <c>adamwschedulefree</c>.</para>
    /// </remarks>
    AdamWScheduleFree,
    /// <summary>Defazio, Yang, Mehta, Mishchenko, Khaled &amp; Cutkosky (2024), The Road Less Scheduled, NeurIPS; facebookresearch/schedule_free SGDScheduleFree. Not in torch.optim.</summary>
    /// <remarks>
    /// <para>Update: γ_t, w_t, c as Schedule-Free AdamW;  u = g + λy;  y ← lerp(y, z, c) + γ_t(β(1−c) − 1)·u;  z ← z − γ_t u;  x = lerp(y, z, 1 − 1/β) (eval()), β = momentum. Convention: the parameter holds y in train mode, x in eval mode; weight decay coupled into g at y. Not in torch.optim.</para>
    /// <para>Defaults: lr 1, weight_decay 0, momentum 0.9, warmup_steps 0, r 0, weight_lr_power 2. State: z. Kernel: <c>kernels/schedulefree.cu</c> <c>sgd_schedulefree_step</c>. Name: <c>sgdschedulefree</c>.</para>
    /// </remarks>
    SgdScheduleFree,
}
