// schedulefree.cu — fused multi-tensor steps of Schedule-Free AdamW and SGD (Defazio et al. 2024, "The Road Less
// Scheduled"; facebookresearch/schedule_free). Same structure and contract as adam.cu: one launch per step over the
// chunk table, the C# reference's float32 operation order (src/CudaAdam/Reference/ScheduleFree.cs), scalars packed by
// src/CudaAdam/Device/KernelScalars.cs from the descriptors (the step-dependent lr_t, c_{t+1} and the y coefficient
// are computed once per step in double by StepScalars.Advance), no FMA.
//
// The parameter slot holds y (the gradient point); the state slot m holds z, created on the first step
// (CA_FIRST_STEP) as a copy of the parameter; v is AdamW's exp_avg_sq. x, the average, is never formed here: the
// optimizer's eval() puts it into the parameter (p ← lerp(p, z, 1 − 1/β)) on the host.
#include "common.cuh"

// Scalar slots: CA_S_SF_* of scalars.gen.cuh (src/CudaAdam/Algorithms.cs).

/// torch's lerp (ATen): a + w (b − a) when |w| < 0.5, else b − (b − a)(1 − w). ScheduleFreeReference.Lerp.
static __device__ __forceinline__ float ca_lerp(float a, float b, float w) {
    const float aw = w < 0.0f ? -w : w;
    return aw < 0.5f ? a + w * (b - a) : b - (b - a) * (1.0f - w);
}

/// The y and z updates both algorithms share, given the normalized step u (weight decay included).
static __device__ __forceinline__ void ca_schedulefree_yz(CaElem& e, const float* s, float u) {
    const float z = e.m;
    e.p = ca_lerp(e.p, z, s[CA_S_SF_CKP1]) + s[CA_S_SF_Y_STEP] * u;
    e.m = z - s[CA_S_SF_LR] * u;
}

/// Schedule-Free AdamW: v ← β2 v + (1−β2) g²;  u = g / (sqrt(v / (1−β2^t)) + ε) + λ y;
///   y ← lerp(y, z, c) + γ_t (β1 (1 − c) − 1) u;  z ← z − γ_t u.
/// Reference: src/CudaAdam/Reference/ScheduleFree.cs (AdamWScheduleFreeReference.Step).
extern "C" __global__ __launch_bounds__(CA_MAX_BLOCK) void adamw_schedulefree_step(const CaTensor* tensors, const CaChunk* chunks,
                                    float inv_scale, const int* skip_flag, int epoch, const float* clip) {
    ca_foreach(tensors, chunks, inv_scale, skip_flag, epoch, clip, [](CaElem& e, const CaTensor& t) {
        const float* s = t.s;
        if (t.flags & CA_FIRST_STEP) e.m = e.p;
        const float g = e.g;
        e.v = e.v * s[CA_S_SF_BETA2] + s[CA_S_SF_ONE_MINUS_BETA2] * g * g;
        const float d = sqrtf(e.v / s[CA_S_SF_BC2]) + s[CA_S_SF_EPS];
        float u = g / d;
        if (t.flags & CA_WEIGHT_DECAY) u = u + s[CA_S_SF_WD] * e.p;
        ca_schedulefree_yz(e, s, u);
    });
}

/// Schedule-Free SGD: u = g + λ y;  y ← lerp(y, z, c) + γ_t (β (1 − c) − 1) u;  z ← z − γ_t u  (β = momentum).
/// Reference: src/CudaAdam/Reference/ScheduleFree.cs (SgdScheduleFreeReference.Step).
extern "C" __global__ __launch_bounds__(CA_MAX_BLOCK) void sgd_schedulefree_step(const CaTensor* tensors, const CaChunk* chunks,
                                    float inv_scale, const int* skip_flag, int epoch, const float* clip) {
    ca_foreach(tensors, chunks, inv_scale, skip_flag, epoch, clip, [](CaElem& e, const CaTensor& t) {
        const float* s = t.s;
        if (t.flags & CA_FIRST_STEP) e.m = e.p;
        float u = e.g;
        if (t.flags & CA_WEIGHT_DECAY) u = u + s[CA_S_SF_WD] * e.p;
        ca_schedulefree_yz(e, s, u);
    });
}
