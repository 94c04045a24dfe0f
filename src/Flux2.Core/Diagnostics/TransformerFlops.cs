using Flux2.Models.Transformer;

namespace Flux2.Diagnostics;

/// <summary>
/// Floating-point operations of one FLUX.2 transformer pass, counted per layer from its shape (1 multiply-add = 2
/// FLOPs; element-wise work — norms, RoPE, SiLU, modulation arithmetic, softmax — is left out, as in the usual MFU
/// accounting of PaLM / nanoGPT, because it is a few percent and not matmul-bound). Batch b, Ni image and Nt text
/// tokens, S = Ni + Nt, inner dim D, MLP hidden M, LoRA rank r on every Linear inside the blocks (ai-toolkit's
/// default targets):
/// <list type="bullet">
/// <item>Linear in→out over T tokens: 2·b·T·in·out. Double blocks: the image-stream Linears (to_q/k/v, to_out.0,
/// ff D→2M, M→D) see Ni tokens, the text-stream ones (add_q/k/v_proj, to_add_out, ff_context) Nt. Single blocks
/// (to_qkv_mlp_proj D→3D+2M, to_out D+M→D) see S.</item>
/// <item>Attention per block: QKᵀ and P·V, each 2·b·S²·D (summed over heads, H·head_dim = D):
/// 4·b·S²·D.</item>
/// <item>LoRA on in→out over T tokens: 2·b·T·r·(in + out) (down then up).</item>
/// <item>Outside the blocks: x_embedder (Ni), context_embedder (Nt), proj_out (Ni); the timestep/guidance MLPs, the
/// three shared modulations and norm_out's Linear run on one vector per sample.</item>
/// </list>
/// </summary>
public sealed record TransformerFlops(double BlockLinear, double Attention, double Lora, double OutsideBlocks,
    double OutputBackward)
{
    /// <summary>One forward pass.</summary>
    public double Forward => BlockLinear + Attention + Lora + OutsideBlocks;

    /// <summary>
    /// The backward pass of LoRA training on a frozen base. Base Linears: only the input gradient (dX = dY·W, the same
    /// 2·T·in·out as the forward); no weight gradient, the base is frozen. Attention: dS = dO·Vᵀ, dV = Pᵀ·dO,
    /// dQ = dS·K, dK = dSᵀ·Q — twice its forward matmuls (flash attention also recomputes QKᵀ; that is
    /// implementation work and not counted, as in MFU). LoRA: input gradient plus the gradients of down and up —
    /// twice its forward. Outside the blocks only proj_out needs an input gradient (nothing before the first block
    /// trains; modulation vectors and the timestep embedding need none). Counted as if block 0's inputs needed
    /// gradients too (they don't; its q/k/v input gradients are skipped by autograd: under 0.2 % of the total at
    /// FLUX.2-dev size).
    /// </summary>
    public double Backward => BlockLinear + 2 * Attention + 2 * Lora + OutputBackward;

    /// <summary>What gradient checkpointing adds: each block's forward once more in the backward pass.</summary>
    public double Recompute => BlockLinear + Attention + Lora;

    /// <summary>Model FLOPs of a training step (MFU's numerator: the work the step needs, recompute not
    /// counted).</summary>
    public double TrainingStep => Forward + Backward;

    /// <summary>Hardware FLOPs of a training step: what the GPU executes, the recompute included when
    /// checkpointing.</summary>
    public double TrainingStepExecuted(bool checkpointing) => TrainingStep + (checkpointing ? Recompute : 0);

    public static TransformerFlops For(TransformerConfig c, int imageTokens, int textTokens, int loraRank,
        int batch = 1)
    {
        if (imageTokens < 1 || textTokens < 0 || loraRank < 0 || batch < 1)
            throw new ArgumentOutOfRangeException(nameof(imageTokens),
                "token counts and batch must be positive, rank not negative");
        double b = batch, ni = imageTokens, nt = textTokens, s = ni + nt, d = c.InnerDim, m = c.MlpHidden, r = loraRank;
        double Mm(double tokens, double inF, double outF) => 2 * b * tokens * inF * outF;
        double Lo(double tokens, double inF, double outF) => 2 * b * tokens * r * (inF + outF);

        // (in, out) of every Linear in one stream of a double block, and in a single block.
        var stream = new (double In, double Out)[] { (d, d), (d, d), (d, d), (d, d), (d, 2 * m), (m, d) };
        var single = new (double In, double Out)[] { (d, 3 * d + 2 * m), (d + m, d) };

        double blockLinear = c.NumLayers * stream.Sum(l => Mm(ni, l.In, l.Out) + Mm(nt, l.In, l.Out))
                           + c.NumSingleLayers * single.Sum(l => Mm(s, l.In, l.Out));
        double lora = c.NumLayers * stream.Sum(l => Lo(ni, l.In, l.Out) + Lo(nt, l.In, l.Out))
                    + c.NumSingleLayers * single.Sum(l => Lo(s, l.In, l.Out));
        double attention = (c.NumLayers + c.NumSingleLayers) * 4 * b * s * s * d;

        double timeMlp = Mm(1, c.TimestepGuidanceChannels, d) + Mm(1, d, d);
        double outside = Mm(ni, c.InChannels, d) + Mm(nt, c.JointAttentionDim, d) + Mm(ni, d, c.OutChannels)
                       + timeMlp * (c.GuidanceEmbeds ? 2 : 1)
                       + Mm(1, d, 6 * d) * 2 + Mm(1, d, 3 * d)   // double-stream img/txt and single-stream modulation
                       + Mm(1, d, 2 * d);                         // norm_out
        return new TransformerFlops(blockLinear, attention, lora, outside, Mm(ni, d, c.OutChannels));
    }
}
