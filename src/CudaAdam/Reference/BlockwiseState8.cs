namespace CudaAdam.Reference;

/// <summary>
/// The 8-bit optimizer state of Dettmers et al., "8-bit Optimizers via Block-wise Quantization" (ICLR 2022), around an
/// algorithm's own float32 reference step (<see cref="Hyperparameters.StateBits"/> = 8; Adam and AdamW). For each block of
/// <see cref="QuantizedBuffer.BlockSize"/> = 2,048 elements, in order:
/// <code>
/// m, v  ← Map_signed[c_m]·a_m,  Map_unsigned[c_v]·a_v          (dequantize the block: float32 products)
/// x, m, v ← the algorithm's float32 step on the block            (AdamReference.Step / AdamWReference.Step, unchanged)
/// a_m, c_m ← quantize(m) with the signed map;  a_v, c_v ← quantize(v) with the unsigned map   (QuantizedBuffer.QuantizeBlock)
/// </code>
/// The parameter is updated with the new float32 m and v, before they are requantized (bitsandbytes' order), so a first
/// step from the zero state is bitwise the float32 step. The element math being element-wise, stepping block by block
/// gives the same bits as stepping the whole tensor.
/// <para>Kernel: <c>kernels/state8.cu</c>, <c>adam8_step</c> (the descriptor's <see cref="AlgorithmInfo.State8Kernel"/>): the
/// same three phases fused in one launch, one thread block per quantization block, the absmax by a tree reduction (a
/// maximum is exact in any order).</para>
/// </summary>
public static class BlockwiseState8
{
    /// <summary>One step of <paramref name="info"/>'s algorithm on one parameter whose state is 8-bit.</summary>
    public static void Step(AlgorithmInfo info, Span<float> param, ReadOnlySpan<float> grad, ParamState state,
        Hyperparameters hp, in StepScalars k)
    {
        var slots = info.StateWith(hp).ToArray();
        foreach (var slot in slots)
            if (!slot.QuantizedWith(hp) || state.Quantized(slot.Buffer) is not { } q || q.Length != param.Length)
                throw new InvalidOperationException(
                    $"{info.Name} with state_bits = 8 needs every state slot 8-bit and {param.Length} long; slot {slot.TorchName} is not");
        int blocks = QuantizedBuffer.Blocks(param.Length);
        var wide = new ParamState { Step = state.Step, Beta1Power = state.Beta1Power, Beta2Power = state.Beta2Power, MuProduct = state.MuProduct };
        for (int b = 0; b < blocks; b++)
        {
            int start = b * QuantizedBuffer.BlockSize, length = Math.Min(QuantizedBuffer.BlockSize, param.Length - start);
            foreach (var slot in slots)
            {
                // The block's float32 buffers: 2,048 long (reused from block to block), the last block's shorter.
                if (wide[slot.Buffer]?.Length != length) wide[slot.Buffer] = new float[length];
                state.Quantized(slot.Buffer)!.DequantizeBlock(b, wide[slot.Buffer]);
            }
            info.Reference(param.Slice(start, length), grad.Slice(start, length), wide, hp, k);
            foreach (var slot in slots) state.Quantized(slot.Buffer)!.QuantizeBlock(b, wide[slot.Buffer]);
        }
    }
}
