// clock.cu — the device-side step clock of the graph-capturable mode (src/CudaAdam/Device/DeviceOptimizer.cs).
//
// In a CUDA graph every kernel argument is frozen at capture, so nothing that changes per step may be an argument:
// the step counter t, the running products β1^t and β2^t, and the learning rate live in device memory, and
// step_clock, launched inside the graph after the non-finite check and before the fused step, advances them and
// rewrites the step-dependent float32 scalars (and flags) of each tensor's entry in the tensor table.
//
// Bitwise contract: the double operations below are those of src/CudaAdam/StepScalars.cs (Advance) and the float
// casts those of src/CudaAdam/Device/KernelScalars.cs (Pack), in the same order, so a step clocked here is bit for
// bit a step whose scalars the host computed. Only IEEE double +, -, *, / and sqrt (correctly rounded on the GPU and
// on the host, no FMA: --fmad=false / -ffp-contract=off). NAdam is NOT clocked here: its μ_t = β1(1 − ½·0.96^(tψ))
// needs pow, which is not correctly rounded on the GPU (CUDA's pow: up to 2 ulp) nor bit-compatible with .NET's
// Math.Pow, so the host refuses NAdam in the graph-capturable mode.
#include "common.cuh"

// What a tensor's clock writes (CaClock::kind), one per kernel family's slot layout (the CA_S_* slots of
// scalars.gen.cuh). An algorithm's kind is its descriptor's ClockKind (src/CudaAdam/Algorithms.cs).
#define CA_CLOCK_ADAM 1      // Adam, AdamW, SignAdam: s6 decay, s7 sqrt(bc2), s8 lr/bc1, s9 bc1
#define CA_CLOCK_ADAMAX 2    // AdaMax: s6 decay, s8 -(lr/bc1)
#define CA_CLOCK_RADAM 3     // RAdam: s6 decay, s7 bc1, s8 lr, s9 sqrt(bc2), s10 r_t, CA_RECTIFIED
#define CA_CLOCK_LR 4        // only the lr is step-dependent: s[(kind >> 16) & 0xff] = lr (signSGD, Signum, RMSProp, AdaDelta, Yogi)
#define CA_CLOCK_LION 5      // Lion: lr, decay
#define CA_CLOCK_SGD 7       // SGD: lr, CA_FIRST_STEP on step 1 when it has momentum
#define CA_CLOCK_ADAGRAD 8   // AdaGrad: clr = lr / (1 + (t-1) lr_decay)
#define CA_CLOCK_ADEMAMIX 10 // AdEMAMix: Adam's four, and s13 lr (without warmups: with them the host refuses the device clock)
#define CA_CLOCK_CONSTANT 11 // nothing step-dependent in the scalars: only the counters advance (Rprop: lr only seeds the state)
#define CA_CLOCK_SCHEDULEFREE 9 // Schedule-Free AdamW / SGD: lr_t, c_{t+1}, the y coefficient, 1 - beta2^t; CA_FIRST_STEP on step 1 (z = p)
// OR-ed into CaClock::kind: bias correction off (Hyperparameters.BiasCorrection = false; Adam, AdamW, SignAdam,
// AdaMax): 1 - beta1^t and 1 - beta2^t are exactly 1, as in StepScalars.Advance; the running products still advance.
#define CA_CLOCK_NO_BIAS_CORRECTION 0x100
// Bits 16-23 of CaClock::kind: the slot CA_CLOCK_LR writes the lr into (the descriptor's ClockKind).
#define CA_CLOCK_KIND(k) ((k) & 0xff)
#define CA_CLOCK_LR_SLOT(k) (((k) >> 16) & 0xff)

/// The clock of one tensor (104 bytes, mirrored by CaClock in src/CudaAdam/Device/ResidentPlan.cs).
struct CaClock {
    long long step;       // t: steps taken (ParamState.Step)
    double beta1_power;   // β1^t, running product (ParamState.Beta1Power)
    double beta2_power;   // β2^t
    double beta1, beta2;  // the hyperparameters, as double (Schedule-Free: beta1 is the interpolation β, SGD's momentum)
    double weight_decay;
    double lr_decay;      // AdaGrad
    double lr_max;        // Schedule-Free: max lr_t so far (ParamState.LrMax)
    double weight_sum;    // Schedule-Free: the sum of the averaging weights (ParamState.WeightSum)
    double warmup_steps;  // Schedule-Free's hyperparameters, as double
    double r, weight_lr_power;   // each 0, 1 (r) or 0, 1, 2 (weight_lr_power): the powers are products, exact
    int group;            // index of this tensor's learning rate in lrs[]
    int kind;             // CA_CLOCK_*
};

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
static_assert(sizeof(CaClock) == 104, "CaClock must be 104 bytes (mirrored in C#)");
#endif

/// StepScalars.ExactPower: x^y for the y the clock takes (0, 1, 2) as products, exact on every machine.
static __device__ __forceinline__ double ca_exact_power(double x, double y) {
    return y == 0.0 ? 1.0 : (y == 1.0 ? x : x * x);
}

/// One thread per tensor. Unless this step is skipped (*skip_flag == epoch: the check found a non-finite gradient,
/// or the clip norm was non-finite), advances the tensor's clock and writes its step-dependent scalars; counters[0]
/// counts steps taken, counters[1] steps skipped (thread 0 only).
extern "C" __global__ void step_clock(CaTensor* tensors, CaClock* clocks, int count, const double* lrs,
                                      const int* skip_flag, int epoch, long long* counters) {
    const bool skipped = *(const volatile int*)skip_flag == epoch;
    const long long i = cudaadam_global_index();
    if (i == 0) counters[skipped ? 1 : 0] += 1;
    if (skipped || i >= count) return;
    CaClock c = clocks[i];
    CaTensor& t = tensors[i];
    const double lr = lrs[c.group];
    const long long step = ++c.step;
    c.beta1_power = c.beta1_power * c.beta1;
    c.beta2_power = c.beta2_power * c.beta2;
    const bool corrected = (c.kind & CA_CLOCK_NO_BIAS_CORRECTION) == 0;
    const double bc1 = corrected ? 1 - c.beta1_power : 1.0, bc2 = corrected ? 1 - c.beta2_power : 1.0;
    const double decay = 1 - lr * c.weight_decay;
    switch (CA_CLOCK_KIND(c.kind)) {
        case CA_CLOCK_ADAM:
        case CA_CLOCK_ADEMAMIX:
            t.s[CA_S_DECAY] = (float)decay;
            t.s[CA_S_BC2_SQRT] = (float)sqrt(bc2);
            t.s[CA_S_STEP_SIZE] = (float)(lr / bc1);
            t.s[CA_S_BC1] = (float)bc1;
            if (CA_CLOCK_KIND(c.kind) == CA_CLOCK_ADEMAMIX) t.s[CA_S_ADEMAMIX_LR] = (float)lr;
            break;
        case CA_CLOCK_ADAMAX:
            t.s[CA_S_DECAY] = (float)decay;
            t.s[CA_S_ADAMAX_NEG_CLR] = (float)-(lr / bc1);
            break;
        case CA_CLOCK_RADAM: {
            const double rho_inf = 2 / (1 - c.beta2) - 1;
            const double rho_t = rho_inf - (double)(2 * step) * c.beta2_power / bc2;
            const bool rectified = rho_t > 5;
            double rect = 0;
            if (rectified) rect = sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t));
            t.s[CA_S_DECAY] = (float)decay;
            t.s[CA_S_RADAM_BC1] = (float)bc1;
            t.s[CA_S_RADAM_LR] = (float)lr;
            t.s[CA_S_RADAM_BC2_SQRT] = (float)sqrt(bc2);
            t.s[CA_S_RADAM_RECT] = (float)rect;
            t.flags = rectified ? (t.flags | CA_RECTIFIED) : (t.flags & ~CA_RECTIFIED);
            break;
        }
        case CA_CLOCK_LR:
            t.s[CA_CLOCK_LR_SLOT(c.kind)] = (float)lr;
            break;
        case CA_CLOCK_LION:
            t.s[CA_S_SIGN_LR] = (float)lr;
            t.s[CA_S_LION_DECAY] = (float)decay;
            break;
        case CA_CLOCK_SGD:
            t.s[CA_S_B_LR] = (float)lr;
            t.flags = (step == 1 && (t.flags & CA_MOMENTUM)) ? (t.flags | CA_FIRST_STEP) : (t.flags & ~CA_FIRST_STEP);
            break;
        case CA_CLOCK_ADAGRAD:
            t.s[CA_S_B_LR] = (float)(lr / (1 + (double)(step - 1) * c.lr_decay));
            break;
        case CA_CLOCK_SCHEDULEFREE: {   // StepScalars.Advance's Schedule-Free branch, operation for operation
            const double scheduled = lr * ((double)(step - 1) < c.warmup_steps ? (double)step / c.warmup_steps : 1.0);
            c.lr_max = scheduled > c.lr_max ? scheduled : c.lr_max;
            const double weight = ca_exact_power((double)step, c.r) * ca_exact_power(c.lr_max, c.weight_lr_power);
            c.weight_sum = c.weight_sum + weight;
            const double ckp1 = c.weight_sum == 0 ? 0.0 : weight / c.weight_sum;
            t.s[CA_S_SF_LR] = (float)scheduled;
            t.s[CA_S_SF_CKP1] = (float)ckp1;
            t.s[CA_S_SF_Y_STEP] = (float)(scheduled * (c.beta1 * (1 - ckp1) - 1));
            t.s[CA_S_SF_BC2] = (float)bc2;   // AdamW's slot; unused by SGD's kernel
            t.flags = step == 1 ? (t.flags | CA_FIRST_STEP) : (t.flags & ~CA_FIRST_STEP);
            break;
        }
    }
    clocks[i] = c;
}
