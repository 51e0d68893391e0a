// adam.cu — fused multi-tensor steps of the Adam family: Adam / AdamW / AMSGrad (adam_step), AdaMax, NAdam, RAdam, Yogi.
// Plus the non-finite gradient check that every optimizer kernel pairs with (grad_nonfinite_check).
//
// Each kernel is ONE launch for all tensors of a step (the chunk table, common.cuh: ca_foreach). The element math
// below is the C# reference (src/CudaAdam/Reference/<Name>.cs) line by line, in float32, in the same order; the
// scalars s[...] are the reference's (float) casts, packed on the host by src/CudaAdam/Device/KernelScalars.cs.
// Compiled with --fmad=false (NVRTC) / -ffp-contract=off (emulator): no fused multiply-add anywhere.
#include "common.cuh"
#include "diagnostics.cuh"   // ca_foreach_diag: the *_step_diag variants

// Scalar slots: the CA_S_* of scalars.gen.cuh (generated from src/CudaAdam/Algorithms.cs; Adam, AdamW, AMSGrad,
// AdaMax, NAdam, RAdam share slots 0-6, read by ca_adam_moments in common.cuh).

/// Phase one of a checked step (see ca_check_nonfinite in common.cuh): writes `epoch` into *flag when an active
/// tensor's gradient times inv_scale is not finite. Launched with the step's grid (one block per chunk) just before
/// the step kernel; the step kernel then leaves params and state untouched.
extern "C" __global__ __launch_bounds__(CA_MAX_BLOCK) void grad_nonfinite_check(const CaTensor* tensors, const CaChunk* chunks, float inv_scale,
                                                int* flag, int epoch) {
    ca_check_nonfinite(tensors, chunks, inv_scale, flag, epoch);
}

/// Phase one of a clipped step: the non-finite check of grad_nonfinite_check (same flag and epoch) plus each
/// chunk's sum of squares of the unscaled gradient into partials[blockIdx.x] (common.cuh: ca_grad_norm_partial).
/// Launched INSTEAD of grad_nonfinite_check, with the step's grid.
extern "C" __global__ __launch_bounds__(CA_MAX_BLOCK) void grad_norm_partial(const CaTensor* tensors, const CaChunk* chunks, float inv_scale,
                                             int* flag, int epoch, double* partials) {
    ca_grad_norm_partial(tensors, chunks, inv_scale, flag, epoch, partials);
}

/// Phase two of a clipped step: one block of CA_FINAL_THREADS threads folds the partials (fixed order) into the
/// total 2-norm and the clip coefficient min(1, max_norm / (norm + 1e-6)) that the step kernel reads (`clip`).
extern "C" __global__ __launch_bounds__(CA_FINAL_THREADS) void grad_clip_finalize(const double* partials, int count, double max_norm, double* norm_out,
                                              float* coef_out, int* flag, int epoch) {
    ca_grad_clip_finalize(partials, count, max_norm, norm_out, coef_out, flag, epoch);
}

// adam_step's element update (also adam_step_diag's and state8.cu's adam8_step): ca_adam_op in common.cuh.

/// Adam (Kingma & Ba 2015) with torch.optim.Adam's conventions; AdamW (CA_DECOUPLED); AMSGrad (CA_AMSGRAD).
///   g ← g + λx (coupled, unless decoupled: x ← x(1−γλ));  m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²;
///   v̄ ← max(v̄, v) (amsgrad);  x ← x − (γ/(1−β1^t)) · m / (sqrt(v̄)/sqrt(1−β2^t) + ε)
/// Reference: src/CudaAdam/Reference/Adam.cs (AdamReference.Step), src/CudaAdam/Reference/Adam.cs (AdamWReference.Step).
extern "C" __global__ __launch_bounds__(CA_MAX_BLOCK) void adam_step(const CaTensor* tensors, const CaChunk* chunks, float inv_scale,
                                     const int* skip_flag, int epoch, const float* clip) {
    ca_foreach(tensors, chunks, inv_scale, skip_flag, epoch, clip, [](CaElem& e, const CaTensor& t) { ca_adam_op(e, t); });
}

/// AdaMax (Kingma & Ba 2015, §7.1; torch.optim.Adamax): g ← g + λx;  m ← β1 m + (1−β1) g;
///   u ← max(β2 u, |g| + ε);  x ← x + (−γ/(1−β1^t)) · m / u  (product first, then the division).   (u is the state slot v, torch's exp_inf.)
/// Reference: src/CudaAdam/Reference/AdaMax.cs (AdaMaxReference.Step).
extern "C" __global__ __launch_bounds__(CA_MAX_BLOCK) void adamax_step(const CaTensor* tensors, const CaChunk* chunks, float inv_scale,
                                       const int* skip_flag, int epoch, const float* clip) {
    ca_foreach(tensors, chunks, inv_scale, skip_flag, epoch, clip, [](CaElem& e, const CaTensor& t) {
        const float* s = t.s;
        float g = e.g;
        float x = e.p;
        if (t.flags & CA_WEIGHT_DECAY) g = g + s[CA_S_WD] * x;
        e.m = e.m * s[CA_S_BETA1] + s[CA_S_ONE_MINUS_BETA1] * g;
        e.v = ca_max(e.v * s[CA_S_BETA2], fabsf(g) + s[CA_S_EPS]);
        e.p = x + s[CA_S_ADAMAX_NEG_CLR] * e.m / e.v;   // (negClr * m) / u, as the reference
    });
}

/// nadam_step's element update (also nadam_step_diag's).
static __device__ __forceinline__ void ca_nadam_op(CaElem& e, const CaTensor& t) {
    const float* s = t.s;
    float x = e.p;
    float g = ca_adam_moments(e, t, x);
    float denom = sqrtf(e.v / s[CA_S_NADAM_BC2]) + s[CA_S_EPS];
    x = x + s[CA_S_NADAM_COEF_G] * g / denom;          // (coef * g) / denom, as the reference
    e.p = x + s[CA_S_NADAM_COEF_M] * e.m / denom;
}

/// NAdam (Dozat 2016; torch.optim.NAdam): g ← g + λx (or x ← x(1−γλ) when decoupled);  m, v as Adam;
///   d ← sqrt(v/(1−β2^t)) + ε;  x ← x + (cg·g)/d;  x ← x + (cm·m)/d   (two roundings, as torch's two addcdiv_)
///   with cg = −γ(1−μ_t)/(1−Πμ_{≤t}), cm = −γ μ_{t+1}/(1−Πμ_{≤t+1}).
/// Reference: src/CudaAdam/Reference/NAdam.cs (NAdamReference.Step).
extern "C" __global__ __launch_bounds__(CA_MAX_BLOCK) void nadam_step(const CaTensor* tensors, const CaChunk* chunks, float inv_scale,
                                      const int* skip_flag, int epoch, const float* clip) {
    ca_foreach(tensors, chunks, inv_scale, skip_flag, epoch, clip, [](CaElem& e, const CaTensor& t) { ca_nadam_op(e, t); });
}

/// radam_step's element update (also radam_step_diag's).
static __device__ __forceinline__ void ca_radam_op(CaElem& e, const CaTensor& t) {
    const float* s = t.s;
    float x = e.p;
    ca_adam_moments(e, t, x);
    float mHat = e.m / s[CA_S_RADAM_BC1];
    if (t.flags & CA_RECTIFIED) {
        float adaptiveLr = 1.0f / (sqrtf(e.v) + s[CA_S_EPS]) * s[CA_S_RADAM_BC2_SQRT];
        e.p = x - mHat * s[CA_S_RADAM_LR] * adaptiveLr * s[CA_S_RADAM_RECT];
    } else {
        e.p = x - mHat * s[CA_S_RADAM_LR];
    }
}

/// RAdam (Liu et al. 2020; torch.optim.RAdam): g ← g + λx (or decoupled);  m, v as Adam;  m̂ ← m/(1−β1^t);
///   rectified (ρ_t > 5): x ← x − m̂·γ·((1/(sqrt(v)+ε))·sqrt(1−β2^t))·r_t;  else x ← x − m̂·γ.
/// Reference: src/CudaAdam/Reference/RAdam.cs (RAdamReference.Step).
extern "C" __global__ __launch_bounds__(CA_MAX_BLOCK) void radam_step(const CaTensor* tensors, const CaChunk* chunks, float inv_scale,
                                      const int* skip_flag, int epoch, const float* clip) {
    ca_foreach(tensors, chunks, inv_scale, skip_flag, epoch, clip, [](CaElem& e, const CaTensor& t) { ca_radam_op(e, t); });
}

/// Yogi (Zaheer et al. 2018, Algorithm 2): g ← g + λx;  m ← β1 m + (1−β1) g;  v ← v − (1−β2)·sign(v − g²)·g²;
///   x ← x − γ·(m/(sqrt(v) + ε)).  No bias correction; v starts at initial_accumulator_value (the state's initial value).
/// Reference: src/CudaAdam/Reference/Yogi.cs (YogiReference.Step).
extern "C" __global__ __launch_bounds__(CA_MAX_BLOCK) void yogi_step(const CaTensor* tensors, const CaChunk* chunks, float inv_scale,
                                     const int* skip_flag, int epoch, const float* clip) {
    ca_foreach(tensors, chunks, inv_scale, skip_flag, epoch, clip, [](CaElem& e, const CaTensor& t) {
        const float* s = t.s;
        float g = e.g;
        float x = e.p;
        if (t.flags & CA_WEIGHT_DECAY) g = g + s[CA_S_WD] * x;
        e.m = e.m * s[CA_S_BETA1] + s[CA_S_ONE_MINUS_BETA1] * g;
        float g2 = g * g;
        e.v = e.v - s[CA_S_ONE_MINUS_BETA2] * ca_sign(e.v - g2) * g2;
        e.p = x - s[CA_S_YOGI_LR] * (e.m / (sqrtf(e.v) + s[CA_S_EPS]));
    });
}

// ---- Diagnostics-enabled variants (issue 6): the same step, bitwise (the same op, loads and stores: ca_foreach_diag in
// diagnostics.cuh), plus the per-tensor sign-decomposition record of the step, accumulated from the registers: no
// extra global read. Two extra arguments: edges (the 81 float32 histogram edges, SignHistogram.Edges) and stats
// (CA_DIAG_STRIDE unsigned long long slots per tensor of the tensor table, zeroed before the launch).
// blockDim.x must be a multiple of 32. A plain kernel is a separate symbol with no diagnostics code in it.

/// adam_step (Adam / AdamW / AMSGrad) + the sign diagnostics.
extern "C" __global__ __launch_bounds__(CA_MAX_BLOCK) void adam_step_diag(const CaTensor* tensors, const CaChunk* chunks, float inv_scale,
                                          const int* skip_flag, int epoch, const float* clip, const float* edges,
                                          unsigned long long* stats) {
    ca_foreach_diag(tensors, chunks, inv_scale, skip_flag, epoch, clip, edges, stats,
                    [](CaElem& e, const CaTensor& t) { ca_adam_op(e, t); });
}

/// nadam_step + the sign diagnostics.
extern "C" __global__ __launch_bounds__(CA_MAX_BLOCK) void nadam_step_diag(const CaTensor* tensors, const CaChunk* chunks, float inv_scale,
                                           const int* skip_flag, int epoch, const float* clip, const float* edges,
                                           unsigned long long* stats) {
    ca_foreach_diag(tensors, chunks, inv_scale, skip_flag, epoch, clip, edges, stats,
                    [](CaElem& e, const CaTensor& t) { ca_nadam_op(e, t); });
}

/// radam_step + the sign diagnostics.
extern "C" __global__ __launch_bounds__(CA_MAX_BLOCK) void radam_step_diag(const CaTensor* tensors, const CaChunk* chunks, float inv_scale,
                                           const int* skip_flag, int epoch, const float* clip, const float* edges,
                                           unsigned long long* stats) {
    ca_foreach_diag(tensors, chunks, inv_scale, skip_flag, epoch, clip, edges, stats,
                    [](CaElem& e, const CaTensor& t) { ca_radam_op(e, t); });
}

// ---- issue 12 (h12a) ------------------------------------------------------------------------------------------------

/// AdaBelief (Zhuang et al. 2020, Algorithm 2): x ← x(1−γλ) (decoupled) or g ← g + λx;  m ← β1 m + (1−β1) g;
///   s ← β2 s + (1−β2)(g − m)² + ε;  s̄ ← max(s̄, s) (amsgrad);  x ← x − (γ/(1−β1^t))·m/(sqrt(s̄)/sqrt(1−β2^t) + ε).
///   (s: slot v, s̄: slot vmax; Adam's slots and clock.)
/// Reference: src/CudaAdam/Reference/AdaBelief.cs (AdaBeliefReference.Step).
extern "C" __global__ __launch_bounds__(CA_MAX_BLOCK) void adabelief_step(const CaTensor* tensors, const CaChunk* chunks, float inv_scale,
                                          const int* skip_flag, int epoch, const float* clip) {
    ca_foreach(tensors, chunks, inv_scale, skip_flag, epoch, clip, [](CaElem& e, const CaTensor& t) {
        const float* s = t.s;
        float g = e.g;
        float x = e.p;
        if (t.flags & CA_DECOUPLED) x = x * s[CA_S_DECAY];
        else if (t.flags & CA_WEIGHT_DECAY) g = g + s[CA_S_WD] * x;
        e.m = e.m * s[CA_S_BETA1] + s[CA_S_ONE_MINUS_BETA1] * g;
        const float r = g - e.m;
        e.v = e.v * s[CA_S_BETA2] + s[CA_S_ONE_MINUS_BETA2] * r * r;
        e.v = e.v + s[CA_S_EPS];
        float sHat = e.v;
        if (t.flags & CA_AMSGRAD) {
            e.vmax = ca_max(e.vmax, e.v);
            sHat = e.vmax;
        }
        const float denom = sqrtf(sHat) / s[CA_S_BC2_SQRT] + s[CA_S_EPS];
        e.p = x + -s[CA_S_STEP_SIZE] * (e.m / denom);
    });
}

/// AdEMAMix (Pagliardini et al. 2024, Algorithm 1): x ← x(1−γλ);  m1 ← β1 m1 + (1−β1) g;  m2 ← β3(t) m2 + (1−β3(t)) g;
///   ν ← β2 ν + (1−β2) g²;  d = sqrt(ν)/sqrt(1−β2^t) + ε;  x ← x − (γ/(1−β1^t))·(m1/d) − (γ·α(t))·(m2/d).
///   (m1: slot m, ν: slot v, m2: slot aux; Adam's slots 0-9 and clock, plus β3(t), 1 − β3(t), α(t), γ.)
/// Reference: src/CudaAdam/Reference/AdEMAMix.cs (AdEMAMixReference.Step).
extern "C" __global__ __launch_bounds__(CA_MAX_BLOCK) void ademamix_step(const CaTensor* tensors, const CaChunk* chunks, float inv_scale,
                                         const int* skip_flag, int epoch, const float* clip) {
    ca_foreach(tensors, chunks, inv_scale, skip_flag, epoch, clip, [](CaElem& e, const CaTensor& t) {
        const float* s = t.s;
        const float g = e.g;
        float x = e.p;
        if (t.flags & CA_WEIGHT_DECAY) x = x * s[CA_S_DECAY];
        e.m = e.m * s[CA_S_BETA1] + s[CA_S_ONE_MINUS_BETA1] * g;
        e.aux = e.aux * s[CA_S_ADEMAMIX_BETA3] + s[CA_S_ADEMAMIX_ONE_MINUS_BETA3] * g;
        e.v = e.v * s[CA_S_BETA2] + s[CA_S_ONE_MINUS_BETA2] * g * g;
        const float denom = sqrtf(e.v) / s[CA_S_BC2_SQRT] + s[CA_S_EPS];
        x = x + -s[CA_S_STEP_SIZE] * (e.m / denom);
        const float slow = s[CA_S_ADEMAMIX_LR] * s[CA_S_ADEMAMIX_ALPHA];
        e.p = x - slow * (e.aux / denom);
    });
}

/// Adan (Xie et al. 2022, Algorithm 1; sail-sg/Adan's convention and bias corrections): Δ ← (g − g_prev)·[t > 1];
///   m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) Δ;  n ← β3 n + (1−β3)(g + β2 Δ)²;  d = sqrt(n)/sqrt(1−β3^t) + ε;
///   x ← [x − (γ/(1−β1^t))·m/d − (γβ2/(1−β2^t))·v/d] / (1 + γλ);  g_prev ← g.   (m: slot m, n: v, v: vmax, g_prev: aux.)
/// Reference: src/CudaAdam/Reference/Adan.cs (AdanReference.Step).
extern "C" __global__ __launch_bounds__(CA_MAX_BLOCK) void adan_step(const CaTensor* tensors, const CaChunk* chunks, float inv_scale,
                                     const int* skip_flag, int epoch, const float* clip) {
    ca_foreach(tensors, chunks, inv_scale, skip_flag, epoch, clip, [](CaElem& e, const CaTensor& t) {
        const float* s = t.s;
        const float g = e.g;
        const float diff = (g - e.aux) * s[CA_S_ADAN_DIFF_SCALE];
        e.m = e.m * s[CA_S_BETA1] + s[CA_S_ONE_MINUS_BETA1] * g;
        e.vmax = e.vmax * s[CA_S_BETA2] + s[CA_S_ONE_MINUS_BETA2] * diff;
        const float u = diff * s[CA_S_BETA2] + g;
        e.v = e.v * s[CA_S_ADAN_BETA3] + s[CA_S_ADAN_ONE_MINUS_BETA3] * u * u;
        const float denom = sqrtf(e.v) / s[CA_S_ADAN_BC3_SQRT] + s[CA_S_EPS];
        float x = e.p + -s[CA_S_ADAN_STEP_SIZE] * (e.m / denom);
        x = x + -s[CA_S_ADAN_STEP_SIZE_DIFF] * (e.vmax / denom);
        if (t.flags & CA_WEIGHT_DECAY) x = x / s[CA_S_ADAN_PROX];
        e.p = x;
        e.aux = g;
    });
}
