// train.cu — the layer kernels of the device training path (src/CudaAdam.Training/Device/): a tiled SGEMM, bias
// broadcast and bias gradient, ReLU, inverted dropout with a counter-based mask, softmax cross-entropy with its
// gradient and argmax, a deterministic reduction of the per-row losses, and the CNN's im2col/col2im, conv layout
// transposes, conv bias gradient and max pooling. Every tensor is a row-major float32 matrix [rows, cols] in device
// memory (images: [batch, C·H·W] rows in NCHW order).
//
// Determinism: no float atomics anywhere. Every output element is computed by one thread in a fixed order, so a
// kernel gives the same bits on every run, on the GPU and in the host emulator (IEEE add/mul only, no FMA:
// NVRTC --fmad=false, g++ -ffp-contract=off). Exceptions, stated where they occur: the softmax kernel's exp/log in
// double (libm on the host, CUDA's exp/log on the GPU: within an ulp of each other, not always bitwise equal).
//
// The C# twins and tests: tests/CudaAdam.Tests/Training/DeviceLayerTests.cs (each kernel against the CPU layers of
// src/CudaAdam.Training/Layers/), DeviceGemmTests.cs (the GEMM against ManagedGemm), src/CudaAdam.Training/Device/
// DropoutMask.cs (the mask hash, line by line).

#include "common.cuh"

// ---------------------------------------------------------------------------------------------------------
// SGEMM, row-major: C = alpha · op(A) · op(B) + beta · C, op(A) m×k, op(B) k×n, C m×n (leading dimensions = row
// strides lda, ldb, ldc). With beta == 0, C is not read.
//
// v1: 16×16 output tile per block of 16×16 threads (launch with exactly that block); k walked in 16-wide tiles staged in shared memory (the +1
// column avoids bank conflicts on the transposed reads). Each thread accumulates its element's k-sum
// acc = ((0 + a_0 b_0) + a_1 b_1) + ... strictly in k order, then C = alpha·acc (+ beta·C): the same order as
// ManagedGemm's AXPY path (B not transposed), so those agree bit for bit, and the GPU and the emulator always do.
// ---------------------------------------------------------------------------------------------------------
#define CA_GEMM_TILE 16

extern "C" __global__ void train_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha,
                                       const float* __restrict__ a, int lda, const float* __restrict__ b, int ldb,
                                       float beta, float* __restrict__ c, int ldc) {
    __shared__ float as[CA_GEMM_TILE][CA_GEMM_TILE + 1];
    __shared__ float bs[CA_GEMM_TILE][CA_GEMM_TILE + 1];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int row = blockIdx.y * CA_GEMM_TILE + ty;   // i in [0, m)
    const int col = blockIdx.x * CA_GEMM_TILE + tx;   // j in [0, n)
    float acc = 0.0f;
    for (int k0 = 0; k0 < k; k0 += CA_GEMM_TILE) {
        // as[ty][tx] = op(A)[row, k0 + tx]; bs[ty][tx] = op(B)[k0 + ty, col]; zero outside the matrices.
        const int ka = k0 + tx, kb = k0 + ty;
        float av = 0.0f, bv = 0.0f;
        if (row < m && ka < k)
            av = trans_a ? a[(long long)ka * lda + row] : a[(long long)row * lda + ka];
        if (kb < k && col < n)
            bv = trans_b ? b[(long long)col * ldb + kb] : b[(long long)kb * ldb + col];
        as[ty][tx] = av;
        bs[ty][tx] = bv;
        __syncthreads();
        // Only the k that exist: adding a padded 0·0 could turn an accumulated -0 into +0.
        const int kn = k - k0 < CA_GEMM_TILE ? k - k0 : CA_GEMM_TILE;
        for (int kk = 0; kk < kn; ++kk) acc = acc + as[ty][kk] * bs[kk][tx];
        __syncthreads();
    }
    if (row < m && col < n) {
        float* out = c + (long long)row * ldc + col;
        *out = beta == 0.0f ? alpha * acc : alpha * acc + beta * *out;
    }
}

// ---------------------------------------------------------------------------------------------------------
// Linear layer helpers (y = x Wᵀ + b).
// ---------------------------------------------------------------------------------------------------------

/// y[r, j] = bias[j] for r < rows, j < cols: the rows are then accumulated into by train_sgemm with beta = 1, as the
/// CPU Linear does (y = 1·(x Wᵀ) + 1·b).
extern "C" __global__ void train_bias_broadcast(const float* __restrict__ bias, float* __restrict__ y, int rows, int cols) {
    const long long total = (long long)rows * cols;
    for (long long i = cudaadam_global_index(); i < total; i += cudaadam_grid_stride())
        y[i] = bias[i % cols];
}

/// ∂L/∂b_j = Σ_r ∂L/∂y[r, j]: one thread per column, summed in float in row order from 0 (exactly the CPU Linear's
/// loop, so bit for bit equal to it). No atomics.
extern "C" __global__ void train_bias_grad(const float* __restrict__ grad_out, float* __restrict__ grad_bias, int rows, int cols) {
    const long long j = cudaadam_global_index();
    if (j >= cols) return;
    float s = 0.0f;
    for (int r = 0; r < rows; ++r) s = s + grad_out[(long long)r * cols + j];
    grad_bias[j] = s;
}

// ---------------------------------------------------------------------------------------------------------
// ReLU: y = max(x, 0); ∂y/∂x = 1 where x > 0, else 0 (0 at x = 0, as torch). Bitwise the CPU Relu.
// ---------------------------------------------------------------------------------------------------------

extern "C" __global__ void train_relu_forward(const float* __restrict__ x, float* __restrict__ y, long long n) {
    for (long long i = cudaadam_global_index(); i < n; i += cudaadam_grid_stride()) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

extern "C" __global__ void train_relu_backward(const float* __restrict__ x, const float* __restrict__ grad_out,
                                               float* __restrict__ grad_in, long long n) {
    for (long long i = cudaadam_global_index(); i < n; i += cudaadam_grid_stride())
        grad_in[i] = x[i] > 0.0f ? grad_out[i] : 0.0f;
}

// ---------------------------------------------------------------------------------------------------------
// Inverted dropout (Srivastava et al. 2014): y = x · mask, mask = 1/(1−p) with probability 1−p, else 0;
// ∂L/∂x = ∂L/∂y · mask. The mask is not stored and there is no device RNG state: element i of layer `layer` at
// training step `step` draws u = hash(seed, step, layer, i) >> 40 · 2^-24 (24 uniform bits, exact in float) and is
// kept when u >= p, the CPU Dropout's rule. The backward pass recomputes the same mask, and a resumed run (same
// seed, same step numbers) draws the same masks. C# twin: src/CudaAdam.Training/Device/DropoutMask.cs.
// ---------------------------------------------------------------------------------------------------------

/// SplitMix64's finalizer (Steele, Lea & Flood 2014): a bijective 64-bit mix.
static __device__ __forceinline__ unsigned long long ca_mix64(unsigned long long z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/// 64 random bits for element i of (seed, step, layer).
static __device__ __forceinline__ unsigned long long ca_dropout_bits(unsigned long long seed, long long step, int layer, long long i) {
    const unsigned long long key = ca_mix64(seed ^ ca_mix64((unsigned long long)step * 0x9E3779B97F4A7C15ull + (unsigned long long)layer));
    return ca_mix64(key ^ ((unsigned long long)i * 0xD1B54A32D192ED03ull + 0x632BE59BD9B4E019ull));
}

/// The mask value of element i: scale (= (float)(1/(1−p))) if kept, else 0.
static __device__ __forceinline__ float ca_dropout_mask(unsigned long long seed, long long step, int layer, long long i,
                                                        float p, float scale) {
    const float u = (float)(ca_dropout_bits(seed, step, layer, i) >> 40) * (1.0f / 16777216.0f);
    return u >= p ? scale : 0.0f;
}

extern "C" __global__ void train_dropout_forward(const float* __restrict__ x, float* __restrict__ y, long long n,
                                                 unsigned long long seed, long long step, int layer, float p, float scale) {
    for (long long i = cudaadam_global_index(); i < n; i += cudaadam_grid_stride())
        y[i] = x[i] * ca_dropout_mask(seed, step, layer, i, p, scale);
}

extern "C" __global__ void train_dropout_backward(const float* __restrict__ grad_out, float* __restrict__ grad_in, long long n,
                                                  unsigned long long seed, long long step, int layer, float p, float scale) {
    for (long long i = cudaadam_global_index(); i < n; i += cudaadam_grid_stride())
        grad_in[i] = grad_out[i] * ca_dropout_mask(seed, step, layer, i, p, scale);
}

// ---------------------------------------------------------------------------------------------------------
// Softmax cross-entropy (torch.nn.CrossEntropyLoss, mean over the batch) and accuracy.
// Per row b (one thread), in double as the CPU SoftmaxCrossEntropy:
//   argmax = first c with the largest z_bc;  max = z_b,argmax;  p_c = exp(z_bc − max);  S = Σ_c p_c (in c order);
//   loss_b = log(S) + max − z_b,y_b;  ∂L/∂z_bc = (float)((p_c / S − [c = y_b]) / divisor)   (divisor = batch size).
// The per-row losses and hits are summed by train_ce_reduce in a fixed order (no atomics).
// ---------------------------------------------------------------------------------------------------------

extern "C" __global__ void train_softmax_ce(const float* __restrict__ logits, const int* __restrict__ labels, int rows, int classes,
                                            int divisor, double* __restrict__ row_loss, int* __restrict__ row_correct,
                                            float* __restrict__ grad /* null: no gradient */) {
    const long long b = cudaadam_global_index();
    if (b >= rows) return;
    const float* z = logits + b * classes;
    const int y = labels[b];
    int argmax = 0;
    for (int c = 1; c < classes; ++c)
        if (z[c] > z[argmax]) argmax = c;
    const double max = z[argmax];
    double sum = 0.0;
    for (int c = 0; c < classes; ++c) sum = sum + exp((double)z[c] - max);
    row_loss[b] = (log(sum) + max) - (double)z[y];
    row_correct[b] = argmax == y ? 1 : 0;
    if (grad == nullptr) return;
    float* g = grad + b * classes;
    for (int c = 0; c < classes; ++c) {
        const double p = exp((double)z[c] - max);   // recomputed: no per-class scratch; the same value as in the sum
        g[c] = (float)((p / sum - (c == y ? 1.0 : 0.0)) / (double)divisor);
    }
}

#define CA_REDUCE_THREADS 256

/// Launch one block of exactly CA_REDUCE_THREADS threads: out[0] = Σ_b row_loss[b], out[1] = Σ_b row_correct[b] (as double).
/// Thread t sums rows t, t + 256, ... in order; then a fixed pairwise tree over the 256 partial sums. Deterministic
/// (the order does not depend on timing), not the CPU's left-to-right order (tolerance in the tests).
extern "C" __global__ void train_ce_reduce(const double* __restrict__ row_loss, const int* __restrict__ row_correct, int rows, double* __restrict__ out) {
    __shared__ double loss[CA_REDUCE_THREADS];
    __shared__ long long hits[CA_REDUCE_THREADS];
    const int t = threadIdx.x;
    double s = 0.0;
    long long h = 0;
    for (int b = t; b < rows; b += CA_REDUCE_THREADS) {
        s = s + row_loss[b];
        h += row_correct[b];
    }
    loss[t] = s;
    hits[t] = h;
    __syncthreads();
    for (int half = CA_REDUCE_THREADS / 2; half > 0; half /= 2) {
        if (t < half) {
            loss[t] = loss[t] + loss[t + half];
            hits[t] += hits[t + half];
        }
        __syncthreads();
    }
    if (t == 0) {
        out[0] = loss[0];
        out[1] = (double)hits[0];
    }
}

// ---------------------------------------------------------------------------------------------------------
// Conv2d (NCHW, stride 1, square k×k kernel, zero padding p_h/p_w before; the CPU Layers/Convolution.cs Conv2d):
//   y[n, o, i, j] = b[o] + Σ_{c,u,v} W[o, c, u, v] · x[n, c, i + u − p_h, j + v − p_w]
// The device layer batches the CPU layer's per-image GEMMs into one: the columns of all images side by side,
//   cols[(c·k + u)·k + v, n·P + i·OW + j] = x[n, c, i + u − p_h, j + v − p_w]   (0 outside the image; P = OH·OW)
//   Yt[O, N·P] = W[O, C·k·k] · cols,   y[n, o·P + q] = Yt[o, n·P + q] + b[o]     (train_conv_output)
// Backward: gt[o, n·P + q] = ∂y[n, o·P + q] (train_conv_gather), ∂W = gt · colsᵀ, ∂cols = Wᵀ · gt,
//   ∂x = col2im(∂cols) (train_col2im), ∂b[o] = Σ_n (Σ_q ∂y[n, o·P + q]) (train_conv_bias_grad).
// Each column of Yt and ∂cols is the same k-ordered sum the CPU layer's per-image GEMM forms, so with the train.cu
// GEMM forward and ∂x are bitwise the CPU layer (ManagedGemm); ∂W sums over n and q in one sequence (the CPU: per
// image, then added), so it agrees within float rounding only.
// ---------------------------------------------------------------------------------------------------------

/// cols[r, n·P + q] for r = (c·k + u)·k + v < C·k·k, n < batch, q = i·ow + j < P = oh·ow: the patches of every image
/// (zero where the window hangs over the border). One thread per element of cols; a pure gather.
extern "C" __global__ void train_im2col(const float* __restrict__ x, float* __restrict__ cols, int batch, int channels,
                                        int height, int width, int k, int oh, int ow, int pad_h, int pad_w) {
    const long long pixels = (long long)oh * ow, row_len = (long long)batch * pixels;
    const long long total = (long long)channels * k * k * row_len;
    for (long long t = cudaadam_global_index(); t < total; t += cudaadam_grid_stride()) {
        const long long r = t / row_len, q = t % row_len;
        const int n = (int)(q / pixels), pix = (int)(q % pixels);
        const int i = pix / ow, j = pix % ow;
        const int c = (int)(r / (k * k)), u = (int)((r / k) % k), v = (int)(r % k);
        const int yy = i + u - pad_h, xx = j + v - pad_w;
        cols[t] = yy >= 0 && yy < height && xx >= 0 && xx < width
            ? x[(((long long)n * channels + c) * height + yy) * width + xx] : 0.0f;
    }
}

/// The adjoint of train_im2col: dx[n, c, y, x] = Σ_{u,v} dcols[(c·k + u)·k + v, n·P + (y + p_h − u)·ow + (x + p_w − v)]
/// over the (u, v) whose output position lies inside [0, oh) × [0, ow). Deterministic gather: one thread per input
/// element sums from 0 in (u, v) row-major order, the order in which the CPU Col2Im adds into that element, so the
/// result is bitwise the CPU's. No atomics.
extern "C" __global__ void train_col2im(const float* __restrict__ dcols, float* __restrict__ dx, int batch, int channels,
                                        int height, int width, int k, int oh, int ow, int pad_h, int pad_w) {
    const long long pixels = (long long)oh * ow, row_len = (long long)batch * pixels;
    const long long total = (long long)batch * channels * height * width;
    for (long long t = cudaadam_global_index(); t < total; t += cudaadam_grid_stride()) {
        const int xx = (int)(t % width), yy = (int)((t / width) % height);
        const int c = (int)((t / ((long long)width * height)) % channels), n = (int)(t / ((long long)width * height * channels));
        float s = 0.0f;
        for (int u = 0; u < k; ++u) {
            const int i = yy + pad_h - u;
            if (i < 0 || i >= oh) continue;
            for (int v = 0; v < k; ++v) {
                const int j = xx + pad_w - v;
                if (j < 0 || j >= ow) continue;
                s = s + dcols[((long long)(c * k + u) * k + v) * row_len + (long long)n * pixels + (long long)i * ow + j];
            }
        }
        dx[t] = s;
    }
}

/// y[n, o·P + q] = yt[o, n·P + q] + bias[o]: the GEMM's [O, N·P] layout back to NCHW rows, plus the bias. The CPU
/// layer computes 1·acc + 1·b in its GEMM; the same value.
extern "C" __global__ void train_conv_output(const float* __restrict__ yt, const float* __restrict__ bias, float* __restrict__ y,
                                             int batch, int out_channels, int pixels) {
    const long long per_image = (long long)out_channels * pixels, total = (long long)batch * per_image;
    for (long long t = cudaadam_global_index(); t < total; t += cudaadam_grid_stride()) {
        const long long n = t / per_image, rest = t % per_image;
        const int o = (int)(rest / pixels), q = (int)(rest % pixels);
        y[t] = yt[(long long)o * batch * pixels + n * pixels + q] + bias[o];
    }
}

/// gt[o, n·P + q] = g[n, o·P + q]: the NCHW output gradient in the GEMM's [O, N·P] layout (a transpose of the
/// [N, O] blocks). One thread per element.
extern "C" __global__ void train_conv_gather(const float* __restrict__ g, float* __restrict__ gt, int batch, int out_channels, int pixels) {
    const long long row_len = (long long)batch * pixels, total = (long long)out_channels * row_len;
    for (long long t = cudaadam_global_index(); t < total; t += cudaadam_grid_stride()) {
        const long long o = t / row_len, rest = t % row_len;
        const long long n = rest / pixels, q = rest % pixels;
        gt[t] = g[(n * out_channels + o) * pixels + q];
    }
}

/// ∂b[o] = Σ_n s_n with s_n = Σ_q g[n, o·P + q]: one thread per channel, each image's sum from 0 in q order, then
/// added in n order from 0: exactly the CPU Conv2d's loops, so bit for bit equal to it. No atomics.
extern "C" __global__ void train_conv_bias_grad(const float* __restrict__ g, float* __restrict__ grad_bias, int batch,
                                                int out_channels, int pixels) {
    const long long o = cudaadam_global_index();
    if (o >= out_channels) return;
    float total = 0.0f;
    for (int n = 0; n < batch; ++n) {
        const float* row = g + ((long long)n * out_channels + o) * pixels;
        float s = 0.0f;
        for (int q = 0; q < pixels; ++q) s = s + row[q];
        total = total + s;
    }
    grad_bias[o] = total;
}

// ---------------------------------------------------------------------------------------------------------
// MaxPool2d (NCHW; the CPU Layers/Convolution.cs MaxPool2d): y[n, c, i, j] = max of x[n, c, y, x] over the k×k window
// at (i·s − p_h, j·s − p_w), clipped to the image (TensorFlow's 'same' pads with −∞). The argmax (the flat index of the
// input element in the whole [N, C·H·W] tensor) is the first maximum in row-major window order; a NaN wins over
// numbers (the CPU's rule, bitwise). Backward: ∂x[e] = Σ_{outputs o with argmax[o] = e} ∂y[o].
// ---------------------------------------------------------------------------------------------------------

extern "C" __global__ void train_maxpool_forward(const float* __restrict__ x, float* __restrict__ y, int* __restrict__ argmax,
                                                 int batch, int channels, int height, int width, int k, int stride,
                                                 int oh, int ow, int pad_h, int pad_w) {
    const long long total = (long long)batch * channels * oh * ow;
    for (long long t = cudaadam_global_index(); t < total; t += cudaadam_grid_stride()) {
        const int j = (int)(t % ow), i = (int)((t / ow) % oh);
        const long long plane = (t / ((long long)oh * ow)) * height * width;   // (n·C + c)·H·W
        const int y0 = i * stride - pad_h, x0 = j * stride - pad_w;
        const int u0 = y0 > 0 ? y0 : 0, u1 = y0 + k < height ? y0 + k : height;
        const int v0 = x0 > 0 ? x0 : 0, v1 = x0 + k < width ? x0 + k : width;
        float best = 0.0f;   // replaced by the first element (at < 0)
        long long at = -1;
        for (int u = u0; u < u1; ++u)
            for (int v = v0; v < v1; ++v) {
                const long long idx = plane + (long long)u * width + v;
                const float e = x[idx];
                if (at < 0 || e > best || (e != e && best == best)) {   // x != x: NaN
                    best = e;
                    at = idx;
                }
            }
        y[t] = best;
        argmax[t] = (int)at;
    }
}

/// Deterministic gather (windows may overlap when k > s): one thread per input element walks the outputs whose
/// window covers it, in increasing output index, and sums from 0 the gradients of those whose argmax it is: the order
/// in which the CPU layer's scatter loop adds them, so bit for bit equal to it. No atomics.
extern "C" __global__ void train_maxpool_backward(const float* __restrict__ grad_out, const int* __restrict__ argmax,
                                                  float* __restrict__ grad_in, int batch, int channels, int height, int width,
                                                  int k, int stride, int oh, int ow, int pad_h, int pad_w) {
    const long long total = (long long)batch * channels * height * width;
    for (long long t = cudaadam_global_index(); t < total; t += cudaadam_grid_stride()) {
        const int xx = (int)(t % width), yy = (int)((t / width) % height);
        const long long out_plane = (t / ((long long)height * width)) * oh * ow;
        // Output rows i with i·s − p_h ≤ yy < i·s − p_h + k, i.e. ⌈(yy + p_h − k + 1)/s⌉ ≤ i ≤ ⌊(yy + p_h)/s⌋.
        const int ay = yy + pad_h, ax = xx + pad_w;
        int i0 = ay - k + 1 > 0 ? (ay - k + 1 + stride - 1) / stride : 0;
        int j0 = ax - k + 1 > 0 ? (ax - k + 1 + stride - 1) / stride : 0;
        int i1 = ay / stride, j1 = ax / stride;
        if (i1 > oh - 1) i1 = oh - 1;
        if (j1 > ow - 1) j1 = ow - 1;
        float s = 0.0f;
        for (int i = i0; i <= i1; ++i)
            for (int j = j0; j <= j1; ++j) {
                const long long o = out_plane + (long long)i * ow + j;
                if (argmax[o] == (int)t) s = s + grad_out[o];
            }
        grad_in[t] = s;
    }
}
