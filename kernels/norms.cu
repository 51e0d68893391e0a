// norms.cu — per-tensor norms in the canonical order (kernels/common.cuh: ca_norm_pieces, ca_norm_tree;
// Reference.CanonicalSumSquares is the C# twin), phase one's generic kernel and phase two, the finalize.
//
// An algorithm whose descriptor declares TensorNorms (src/CudaAdam/AlgorithmInfo.cs) gets, on every engine, two launches
// between the clip finalize / step clock and its step: its partial kernel (one block of CA_NORM_LANES threads per piece
// of CA_NORM_PIECE elements; the descriptor names it: norms_param_grad below, or one of its own family's that computes
// the quantities from the state, e.g. LAMB's update direction) and tensor_norms_finalize. The step kernel then reads
// the scalar the finalize wrote into its tensor's entry. Both honour the skip flag of a refused step.
#include "common.cuh"

/// Phase one, the generic quantities: q = 0 the parameter x, q = 1 the gradient g as the step sees it (unscaled,
/// clipped, negated when maximizing). LARS' ‖w‖ and ‖∇L‖; a parameter's RMS.
extern "C" __global__ __launch_bounds__(CA_NORM_LANES) void norms_param_grad(const CaTensor* tensors, const CaChunk* pieces,
        float inv_scale, const float* clip, const int* skip_flag, int epoch, double* partials) {
    ca_norm_pieces(tensors, pieces, inv_scale, clip, skip_flag, epoch, partials,
                   [](const CaElem& e, const CaTensor&, float& a, float& b) { a = e.p; b = e.g; });
}

/// Phase two: one thread per tensor. Folds its pieces (ca_norm_tree) into sums[i * CA_NORMS + q] (the sums of squares,
/// not their roots), then, for CA_NORMS_TRUST, in double with ‖a‖ = sqrt(sums[.. + 0]), ‖b‖ = sqrt(sums[.. + 1]):
///   trust = η‖a‖ / (‖b‖ + λ_b‖a‖ + ε), or 1 when ‖a‖ = 0 or ‖b‖ = 0 (and when either is NaN: the comparison fails);
///   s[trust_slot] = (float)trust;  s[decay_slot] = (float)(1 - lr * trust * weight_decay)  (lr = lrs[group])
/// exactly as TensorNormSpec.Trust and .Decay compute them in C#. A skipped step (*skip_flag == epoch) writes nothing.
extern "C" __global__ void tensor_norms_finalize(double* partials, const CaNormTensor* norms, int count, const double* lrs,
        CaTensor* tensors, double* sums, const int* skip_flag, int epoch) {
    if (skip_flag != nullptr && *(const volatile int*)skip_flag == epoch) return;
    const long long i = cudaadam_global_index();
    if (i >= count) return;
    const CaNormTensor nt = norms[i];
    const double sa = ca_norm_tree(partials, nt.first, nt.pieces, 0);
    const double sb = ca_norm_tree(partials, nt.first, nt.pieces, 1);
    sums[i * CA_NORMS] = sa;
    sums[i * CA_NORMS + 1] = sb;
    if (nt.kind != CA_NORMS_TRUST || !(tensors[i].flags & CA_ACTIVE)) return;
    const double na = sqrt(sa), nb = sqrt(sb);
    double trust = 1.0;
    if (na > 0.0 && nb > 0.0) trust = nt.coefficient * na / (nb + nt.denominator_wd * na + nt.eps);
    if (nt.trust_slot >= 0) tensors[i].s[nt.trust_slot] = (float)trust;
    if (nt.decay_slot >= 0) tensors[i].s[nt.decay_slot] = (float)(1 - lrs[nt.group] * trust * nt.weight_decay);
}
