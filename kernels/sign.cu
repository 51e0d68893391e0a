// sign.cu — fused multi-tensor steps of the sign family: signSGD, Signum, Lion, and Adam as sign-like descent
// (signadam_step). Same structure and contract as adam.cu (one launch per step over the chunk table, the C#
// reference's float32 operation order, scalars packed by src/CudaAdam/Device/KernelScalars.cs, no FMA).
// Reference.Sign keeps the sign of zero: ca_sign (common.cuh) is the same function.
#include "common.cuh"
#include "diagnostics.cuh"   // ca_foreach_diag: signadam_step_diag

// Scalar slots: CA_S_SIGN_*, CA_S_LION_* of scalars.gen.cuh (src/CudaAdam/Algorithms.cs); SignAdam uses Adam's.

/// signSGD (Bernstein et al. 2018): x ← x − γ · sign(g + λx).
/// Reference: src/CudaAdam/Reference/SignSgd.cs (SignSgdReference.Step).
extern "C" __global__ __launch_bounds__(CA_MAX_BLOCK) void signsgd_step(const CaTensor* tensors, const CaChunk* chunks, float inv_scale,
                                        const int* skip_flag, int epoch, const float* clip) {
    ca_foreach(tensors, chunks, inv_scale, skip_flag, epoch, clip, [](CaElem& e, const CaTensor& t) {
        const float* s = t.s;
        float g = e.g;
        float x = e.p;
        if (t.flags & CA_WEIGHT_DECAY) g = g + s[CA_S_SIGN_WD] * x;
        e.p = x - s[CA_S_SIGN_LR] * ca_sign(g);
    });
}

/// Signum (Bernstein et al. 2018): g ← g + λx;  m ← β m + (1−β) g;  x ← x − γ · sign(m)   (β = momentum).
/// Reference: src/CudaAdam/Reference/Signum.cs (SignumReference.Step).
extern "C" __global__ __launch_bounds__(CA_MAX_BLOCK) void signum_step(const CaTensor* tensors, const CaChunk* chunks, float inv_scale,
                                       const int* skip_flag, int epoch, const float* clip) {
    ca_foreach(tensors, chunks, inv_scale, skip_flag, epoch, clip, [](CaElem& e, const CaTensor& t) {
        const float* s = t.s;
        float g = e.g;
        float x = e.p;
        if (t.flags & CA_WEIGHT_DECAY) g = g + s[CA_S_SIGN_WD] * x;
        e.m = e.m * s[CA_S_SIGN_MOMENTUM] + s[CA_S_SIGN_ONE_MINUS_MOMENTUM] * g;
        e.p = x - s[CA_S_SIGN_LR] * ca_sign(e.m);
    });
}

/// Lion (Chen et al. 2023): c ← β1 m + (1−β1) g;  x ← x(1 − γλ) − γ · sign(c);  m ← β2 m + (1−β2) g.
/// Reference: src/CudaAdam/Reference/Lion.cs (LionReference.Step).
extern "C" __global__ __launch_bounds__(CA_MAX_BLOCK) void lion_step(const CaTensor* tensors, const CaChunk* chunks, float inv_scale,
                                     const int* skip_flag, int epoch, const float* clip) {
    ca_foreach(tensors, chunks, inv_scale, skip_flag, epoch, clip, [](CaElem& e, const CaTensor& t) {
        const float* s = t.s;
        float g = e.g;
        float c = e.m * s[CA_S_LION_BETA1] + s[CA_S_LION_ONE_MINUS_BETA1] * g;
        e.p = e.p * s[CA_S_LION_DECAY] - s[CA_S_SIGN_LR] * ca_sign(c);
        e.m = e.m * s[CA_S_LION_BETA2] + s[CA_S_LION_ONE_MINUS_BETA2] * g;
    });
}

/// signadam_step's element update (also signadam_step_diag's).
static __device__ __forceinline__ void ca_signadam_op(CaElem& e, const CaTensor& t) {
    float x = e.p;
    ca_adam_moments(e, t, x);
    float denom = ca_adam_denom(e, t);
    float uRaw = fabsf(e.m) / denom;
    e.p = x - t.s[CA_S_STEP_SIZE] * (uRaw * ca_sign(e.m));
}

/// Adam as sign-like descent (arXiv 2507.05966): m, v, v̄, denom exactly as adam_step, then
///   u' ← |m| / denom;  x ← x − (γ/(1−β1^t)) · (u' · sign(m)),
/// bitwise equal to adam_step because (|m|/d)·sign(m) = m/d in IEEE arithmetic (signed zeros included).
/// Reference: src/CudaAdam/Reference/Adam.cs (SignAdamReference.Step).
extern "C" __global__ __launch_bounds__(CA_MAX_BLOCK) void signadam_step(const CaTensor* tensors, const CaChunk* chunks, float inv_scale,
                                         const int* skip_flag, int epoch, const float* clip) {
    ca_foreach(tensors, chunks, inv_scale, skip_flag, epoch, clip, [](CaElem& e, const CaTensor& t) { ca_signadam_op(e, t); });
}

/// signadam_step + the sign diagnostics (diagnostics.cuh; arguments as adam_step_diag in adam.cu): bitwise the same step.
extern "C" __global__ __launch_bounds__(CA_MAX_BLOCK) void signadam_step_diag(const CaTensor* tensors, const CaChunk* chunks, float inv_scale,
                                              const int* skip_flag, int epoch, const float* clip, const float* edges,
                                              unsigned long long* stats) {
    ca_foreach_diag(tensors, chunks, inv_scale, skip_flag, epoch, clip, edges, stats,
                    [](CaElem& e, const CaTensor& t) { ca_signadam_op(e, t); });
}

// ---- issue 12 (h12a) ------------------------------------------------------------------------------------------------

/// Rprop (Riedmiller & Braun 1993; torch.optim.Rprop): s ← g·g_prev;  η ← η+ (s > 0), η− (s < 0), else 1 (±0, NaN);
///   Δ ← clamp(Δ·η, Γmin, Γmax);  g ← 0 where η = η−;  x ← x − sign(g)·Δ with torch's sign (±0, NaN → 0);  g_prev ← g.
///   (g_prev: slot m, Δ: slot v.)
/// Reference: src/CudaAdam/Reference/Rprop.cs (RpropReference.Step).
extern "C" __global__ __launch_bounds__(CA_MAX_BLOCK) void rprop_step(const CaTensor* tensors, const CaChunk* chunks, float inv_scale,
                                      const int* skip_flag, int epoch, const float* clip) {
    ca_foreach(tensors, chunks, inv_scale, skip_flag, epoch, clip, [](CaElem& e, const CaTensor& t) {
        const float* s = t.s;
        float g = e.g;
        const float prod = g * e.m;
        const float eta = prod > 0.0f ? s[CA_S_RPROP_ETAPLUS] : (prod < 0.0f ? s[CA_S_RPROP_ETAMINUS] : 1.0f);
        const float d = e.v * eta;
        e.v = d < s[CA_S_RPROP_STEP_MIN] ? s[CA_S_RPROP_STEP_MIN] : (d > s[CA_S_RPROP_STEP_MAX] ? s[CA_S_RPROP_STEP_MAX] : d);
        if (eta == s[CA_S_RPROP_ETAMINUS]) g = 0.0f;
        const float sign = g > 0.0f ? 1.0f : (g < 0.0f ? -1.0f : 0.0f);   // torch's sign: NaN -> 0
        e.p = e.p - sign * e.v;
        e.m = g;
    });
}
