// baselines.cu — fused multi-tensor steps of the non-Adam baselines: SGD (momentum, dampening, Nesterov),
// AdaGrad, RMSProp (momentum, centered), AdaDelta. Same structure and contract as adam.cu (one launch per step over
// the chunk table, the C# reference's float32 operation order, scalars packed by src/CudaAdam/Device/KernelScalars.cs,
// no FMA).
#include "common.cuh"

// Scalar slots: CA_S_B_*, CA_S_SGD_*, CA_S_RMS_*, CA_S_ADADELTA_* of scalars.gen.cuh (src/CudaAdam/Algorithms.cs).

/// SGD (torch.optim.SGD): d ← g + λx;  with momentum μ: b ← d on the first step (CA_FIRST_STEP), else
///   b ← μ b + (1−τ) d;  d ← d + μ b (Nesterov) or d ← b;  x ← x − γ d.   (b is the state slot m.)
/// Reference: src/CudaAdam/Reference/Sgd.cs (SgdReference.Step).
extern "C" __global__ __launch_bounds__(CA_MAX_BLOCK) void sgd_step(const CaTensor* tensors, const CaChunk* chunks, float inv_scale,
                                    const int* skip_flag, int epoch, const float* clip) {
    ca_foreach(tensors, chunks, inv_scale, skip_flag, epoch, clip, [](CaElem& e, const CaTensor& t) {
        const float* s = t.s;
        float d = e.g;
        float x = e.p;
        if (t.flags & CA_WEIGHT_DECAY) d = d + s[CA_S_B_WD] * x;
        if (t.flags & CA_MOMENTUM) {
            if (t.flags & CA_FIRST_STEP) e.m = d;
            else e.m = e.m * s[CA_S_SGD_MOMENTUM] + s[CA_S_SGD_ONE_MINUS_DAMPENING] * d;
            if (t.flags & CA_NESTEROV) d = d + s[CA_S_SGD_MOMENTUM] * e.m;
            else d = e.m;
        }
        e.p = x + -s[CA_S_B_LR] * d;
    });
}

/// AdaGrad (Duchi et al. 2011; torch.optim.Adagrad): g ← g + λx;  S ← S + g²;  x ← x − clr · g/(sqrt(S) + ε),
///   clr = γ / (1 + (t−1)·lr_decay); the update is x + ((−clr)·g)/std, product first as the reference.   (S is the state slot v, torch's sum.)
/// Reference: src/CudaAdam/Reference/AdaGrad.cs (AdaGradReference.Step).
extern "C" __global__ __launch_bounds__(CA_MAX_BLOCK) void adagrad_step(const CaTensor* tensors, const CaChunk* chunks, float inv_scale,
                                        const int* skip_flag, int epoch, const float* clip) {
    ca_foreach(tensors, chunks, inv_scale, skip_flag, epoch, clip, [](CaElem& e, const CaTensor& t) {
        const float* s = t.s;
        float g = e.g;
        float x = e.p;
        if (t.flags & CA_WEIGHT_DECAY) g = g + s[CA_S_B_WD] * x;
        e.v = e.v + g * g;
        float stdev = sqrtf(e.v) + s[CA_S_B_EPS];
        e.p = x + -s[CA_S_B_LR] * g / stdev;   // (-clr * g) / std, as the reference
    });
}

/// RMSProp (Tieleman & Hinton 2012; centered: Graves 2013; torch.optim.RMSprop): g ← g + λx;
///   v ← α v + (1−α) g²;  centered: ḡ ← α ḡ + (1−α) g, a ← sqrt(v − ḡ²) + ε, else a ← sqrt(v) + ε;
///   momentum μ > 0: b ← μ b + g/a, x ← x − γ b;  else x ← x − γ g/a.   (v, ḡ, b = slots v, aux, m.)
/// Reference: src/CudaAdam/Reference/RmsProp.cs (RmsPropReference.Step).
extern "C" __global__ __launch_bounds__(CA_MAX_BLOCK) void rmsprop_step(const CaTensor* tensors, const CaChunk* chunks, float inv_scale,
                                        const int* skip_flag, int epoch, const float* clip) {
    ca_foreach(tensors, chunks, inv_scale, skip_flag, epoch, clip, [](CaElem& e, const CaTensor& t) {
        const float* s = t.s;
        float g = e.g;
        float x = e.p;
        if (t.flags & CA_WEIGHT_DECAY) g = g + s[CA_S_B_WD] * x;
        e.v = e.v * s[CA_S_RMS_ALPHA] + s[CA_S_RMS_ONE_MINUS_ALPHA] * g * g;
        float avg;
        if (t.flags & CA_CENTERED) {
            e.aux = e.aux * s[CA_S_RMS_ALPHA] + s[CA_S_RMS_ONE_MINUS_ALPHA] * g;
            avg = sqrtf(e.v - e.aux * e.aux) + s[CA_S_B_EPS];
        } else {
            avg = sqrtf(e.v) + s[CA_S_B_EPS];
        }
        if (t.flags & CA_MOMENTUM) {
            e.m = e.m * s[CA_S_RMS_MOMENTUM] + g / avg;
            e.p = x + -s[CA_S_B_LR] * e.m;
        } else {
            e.p = x + -s[CA_S_B_LR] * g / avg;   // (-lr * g) / avg, as the reference
        }
    });
}

/// AdaDelta (Zeiler 2012; torch.optim.Adadelta): g ← g + λx;  v ← ρ v + (1−ρ) g²;
///   δ ← sqrt(u + ε) / sqrt(v + ε) · g;  u ← ρ u + (1−ρ) δ²;  x ← x − γ δ.   (v, u = slots v, aux.)
/// Reference: src/CudaAdam/Reference/AdaDelta.cs (AdaDeltaReference.Step).
extern "C" __global__ __launch_bounds__(CA_MAX_BLOCK) void adadelta_step(const CaTensor* tensors, const CaChunk* chunks, float inv_scale,
                                         const int* skip_flag, int epoch, const float* clip) {
    ca_foreach(tensors, chunks, inv_scale, skip_flag, epoch, clip, [](CaElem& e, const CaTensor& t) {
        const float* s = t.s;
        float g = e.g;
        float x = e.p;
        if (t.flags & CA_WEIGHT_DECAY) g = g + s[CA_S_B_WD] * x;
        e.v = e.v * s[CA_S_ADADELTA_RHO] + s[CA_S_ADADELTA_ONE_MINUS_RHO] * g * g;
        float stdev = sqrtf(e.v + s[CA_S_B_EPS]);
        float delta = sqrtf(e.aux + s[CA_S_B_EPS]) / stdev * g;
        e.aux = e.aux * s[CA_S_ADADELTA_RHO] + s[CA_S_ADADELTA_ONE_MINUS_RHO] * delta * delta;
        e.p = x + -s[CA_S_B_LR] * delta;
    });
}

// ---- issue 12 (h12a) ------------------------------------------------------------------------------------------------

/// ASGD (Polyak & Juditsky 1992; torch.optim.ASGD): g ← g + λ_wd x;  x ← x(1 − λη_t);  x ← x − η_t g;
///   ax ← ax + μ_t (x − ax) if μ_t ≠ 1, else ax ← x.   (ax: slot m; η_t, μ_t: the host's per-step scalars.)
/// Reference: src/CudaAdam/Reference/Asgd.cs (AsgdReference.Step).
extern "C" __global__ __launch_bounds__(CA_MAX_BLOCK) void asgd_step(const CaTensor* tensors, const CaChunk* chunks, float inv_scale,
                                     const int* skip_flag, int epoch, const float* clip) {
    ca_foreach(tensors, chunks, inv_scale, skip_flag, epoch, clip, [](CaElem& e, const CaTensor& t) {
        const float* s = t.s;
        float g = e.g;
        float x = e.p;
        if (t.flags & CA_WEIGHT_DECAY) g = g + s[CA_S_B_WD] * x;
        x = x * s[CA_S_ASGD_DECAY];
        x = x - s[CA_S_ASGD_ETA] * g;
        e.p = x;
        const float mu = s[CA_S_ASGD_MU];
        e.m = mu != 1.0f ? e.m + (x - e.m) * mu : x;
    });
}
