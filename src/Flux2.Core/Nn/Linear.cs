using Flux2.Nn.Quantization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Flux2.Nn;

/// <summary>
/// A Linear layer whose parameter names match the checkpoints (<c>weight</c>, optional <c>bias</c>) and which can
/// carry LoRA adapters. Adapters are not registered as parameters, so the base state dict stays the checkpoint's:
/// y = x Wᵀ (+ b) + Σ scale · (x Aᵀ) Bᵀ, with A = lora_A [r, in], B = lora_B [out, r] (peft's LoRA layout).
/// <para>Built with a <see cref="QuantType"/>, the frozen base weight is stored quantized from the start (no float
/// copy is ever allocated): <c>weight</c> holds the codes and <c>weight_scale</c> the scales — 8-bit codes [out, in]
/// with one fp32 scale per output channel [out], or (uint2-uint8) packed codes [out, in · N / 8] (uint8) with one bf16
/// scale and one uint8 zero point (<c>weight_zero_point</c>) per group [out, groups] — all plain registered tensors
/// without gradient (layer offloading moves them like any other). The loader fills them from a float checkpoint
/// tensor by tensor (<see cref="ModuleLoader"/>, <see cref="QuantizeFrom"/>).</para>
/// </summary>
public sealed class Linear : nn.Module<Tensor, Tensor>
{
    public readonly long InFeatures, OutFeatures;
    public Parameter weight;
    public Parameter? weight_scale;
    public Parameter? weight_zero_point;
    public Parameter? bias;
    public List<LinearAdapter> Adapters { get; } = new();

    /// <summary>How the base weight is stored: null = plain float weight in <see cref="DType"/>.</summary>
    public QuantType? Quant { get; }
    /// <summary>The layer's float dtype: of a plain weight and of the bias; a quantized weight is dequantized to the
    /// activations' dtype.</summary>
    public ScalarType DType { get; }
    public bool IsQuantized => Quant is not null;

    /// <summary>Set by <see cref="BlockRunner"/> while it recomputes this layer's checkpointed block in the backward
    /// pass (null otherwise): the layer's backward follows at once, so a quantized product keeps its widened weight
    /// for it, and the input gradient it returns to libtorch is released when that session's backward pass
    /// ends.</summary>
    public CheckpointSession? Recompute { get; set; }

    public Linear(long inFeatures, long outFeatures, bool hasBias = false, Device? device = null,
                  ScalarType? dtype = null, QuantType? quant = null)
        : base(nameof(Linear))
    {
        InFeatures = inFeatures; OutFeatures = outFeatures;
        DType = dtype ?? ScalarType.Float32;
        Quant = quant;
        weight = new Parameter(empty(quant?.CodesShape(outFeatures, inFeatures) ?? [outFeatures, inFeatures],
                                     quant?.StorageType ?? DType, device), requires_grad: false);
        if (quant is not null)
            weight_scale = new Parameter(ones(quant.ScaleShape(outFeatures, inFeatures), quant.ScaleType, device),
                                         requires_grad: false);
        if (quant is { IsGrouped: true })
            weight_zero_point = new Parameter(zeros(quant.ScaleShape(outFeatures, inFeatures), ScalarType.Byte,
                                                    device), requires_grad: false);
        if (hasBias) bias = new Parameter(zeros(new[] { outFeatures }, DType, device), requires_grad: false);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        var y = Quant is null ? nn.functional.linear(x, weight, bias) : QuantizedForward(x);
        foreach (var a in Adapters)
            if (a.Enabled) a.AddTo(y, x);
        return y;
    }

    Tensor QuantizedForward(Tensor x)
    {
        var y = QuantizedLinearFunction.Apply(x, Quant!, weight, weight_scale!, weight_zero_point, Recompute);
        return bias is null ? y : y.add_(bias);
    }

    /// <summary>The base weight as a float tensor in <paramref name="dtype"/> (a new tensor): the dequantized codes for
    /// a quantized layer, a copy otherwise. For merging, export and tests, not for the forward pass (which widens the
    /// codes and scales the output, <see cref="QuantizedLinearFunction"/>).</summary>
    public Tensor FloatWeightCopy(ScalarType? dtype = null)
    {
        using var _ = no_grad();
        return Quant is null ? weight.detach().to(dtype ?? DType, copy: true)
            : QuantizedWeight.FloatCopy(Quant, weight, weight_scale!, weight_zero_point, dtype ?? DType);
    }

    /// <summary>Quantizes a float [out, in] weight (any dtype and device) into this layer's quantized
    /// storage.</summary>
    public void QuantizeFrom(Tensor floatWeight) =>
        QuantizedWeight.QuantizeInto(floatWeight, weight, weight_scale!, weight_zero_point,
            Quant ?? throw new InvalidOperationException("the layer is not quantized"));
}

/// <summary>A trained update added to a <see cref="Linear"/>'s output (<see cref="LoraAdapter"/>,
/// <see cref="LokrAdapter"/>): the switches and strengths every kind shares.</summary>
public abstract class LinearAdapter(double scale)
{
    /// <summary>Training-time dropout on the adapter's input (peft's lora_dropout): active only while gradients are
    /// recorded or <see cref="TrainingForward"/> is set, so samples and evaluation are never dropped. Masks come from
    /// <see cref="DropoutGenerator"/> (seeded and saved with the training state, so a resumed run draws the same
    /// masks).</summary>
    public double Dropout { get; set; }
    public Generator? DropoutGenerator { get; set; }

    /// <summary>Set by <see cref="BlockRunner"/> while a checkpointed block runs its forward without recording
    /// gradients: that is a training forward, and its recompute (with gradients) must draw the same dropout.</summary>
    public bool TrainingForward { get; set; }

    public double Scale { get; set; } = scale;
    public bool Enabled { get; set; } = true;
    /// <summary>Strength on top of <see cref="Scale"/> while training (a dataset's network_weight); not
    /// saved.</summary>
    public double Multiplier { get; set; } = 1.0;
    /// <summary>Per-sample strengths [batch] on top of <see cref="Scale"/>, for a batch whose samples come from
    /// datasets of different network_weight; null = <see cref="Multiplier"/> for all.</summary>
    public Tensor? SampleMultiplier { get; set; }

    /// <summary>y += the update applied to x, in place.</summary>
    public abstract void AddTo(Tensor y, Tensor x);

    /// <summary>x with this step's dropout mask applied (x itself when dropout is off).</summary>
    protected Tensor DroppedOut(Tensor x)
    {
        if (!(Dropout > 0 && (TrainingForward || is_grad_enabled()))) return x;
        using var keep = rand(x.shape, generator: DropoutGenerator).to(x.device).ge(Dropout);
        return x * keep.to(x.dtype) / (1 - Dropout);
    }

    /// <summary>y += Scale · multiplier(s) · delta, in place.</summary>
    protected void AddScaled(Tensor y, Tensor delta)
    {
        if (SampleMultiplier is not { } m)
        {
            y.add_(delta, alpha: Scale * Multiplier);
            return;
        }
        if (y.dim() < 2 || y.shape[0] != m.shape[0])
            throw new InvalidOperationException($"per-sample multipliers for {m.shape[0]} samples, the activations " +
                $"have {(y.dim() < 2 ? 1 : y.shape[0])}");
        using var perSample = m.to(y.dtype).to(y.device)
            .view(new[] { m.shape[0] }.Concat(Enumerable.Repeat(1L, (int)y.dim() - 1)).ToArray());
        using var weighted = delta * perSample;
        y.add_(weighted, alpha: Scale);
    }
}

/// <summary>One low-rank update: y += Scale · B(A(dropout(x))). Scale = strength · alpha / rank.</summary>
public sealed class LoraAdapter(Tensor down, Tensor up, double scale) : LinearAdapter(scale)
{
    public Tensor Down { get; } = down;   // lora_A [r, in]
    public Tensor Up { get; } = up;       // lora_B [out, r]
    public long Rank => Down.shape[0];

    /// <summary>y += Scale · B(A(dropout(x))), in place. The up-projection, the scale and the sum are one GEMM with
    /// beta = 1 (<c>addmm_</c>): no [tokens, out] delta is written, scaled and read back — at FLUX.2-dev 1024² the
    /// single blocks' fused projection alone has out = 55296, so that round trip cost ~5% of a training step.</summary>
    public override void AddTo(Tensor y, Tensor x)
    {
        var input = DroppedOut(x);
        using var h = nn.functional.linear(input, Down.to(x.dtype));
        if (!ReferenceEquals(input, x)) input.Dispose();
        using var up = Up.to(x.dtype);
        if (SampleMultiplier is not null)
        {
            using var delta = nn.functional.linear(h, up);
            AddScaled(y, delta);
            return;
        }
        using var rows = y.view(-1, y.shape[^1]);
        using var hRows = h.view(-1, h.shape[^1]);
        rows.addmm_(hRows, up.t(), beta: 1, alpha: (float)(Scale * Multiplier)); // cuBLAS takes alpha in fp32 anyway
    }
}

/// <summary>
/// A LoKr update (LyCORIS, as ai-toolkit trains it): ΔW = Scale · kron(W1, W2) with W1 [a, c] and W2 [b, d]
/// (W2 itself W2a·W2b [b, r]·[r, d] when low-rank), out = a·b, in = c·d. Applied without building ΔW: x
/// viewed as [c, d] gives W1 · X · W2ᵀ [a, b], which flattened row-major is ΔW·x. <see cref="Rows"/> picks a
/// row block of ΔW: the part of a fused Linear (q, k or v of a BFL qkv) this layer is.
/// </summary>
public sealed class LokrAdapter(Tensor w1, Tensor w2, double scale, (long Start, long Count)? rows = null)
    : LinearAdapter(scale)
{
    public Tensor W1 { get; } = w1;
    /// <summary>W2 [b, d], or W2a [b, r] when <see cref="W2b"/> is set.</summary>
    public Tensor W2 { get; } = w2;
    public Tensor? W2b { get; init; }
    public (long Start, long Count)? Rows { get; } = rows;

    /// <summary>The whole ΔW [a·b, c·d] (this layer's row block of it), scaled: for saving and tests.</summary>
    public Tensor DeltaWeight()
    {
        using var scope = NewDisposeScope();
        using var w2 = W2b is null ? W2.alias() : W2.matmul(W2b);
        var delta = kron(W1, w2) * Scale;
        if (Rows is { } r) delta = delta.narrow(0, r.Start, r.Count);
        return delta.MoveToOuterDisposeScope();
    }

    public override void AddTo(Tensor y, Tensor x)
    {
        using var scope = NewDisposeScope();
        var input = DroppedOut(x);
        long a = W1.shape[0], c = W1.shape[1], b = W2.shape[0];
        var w2 = (W2b is null ? W2 : W2.matmul(W2b)).to(x.dtype);
        long d = w2.shape[1];
        var lead = x.shape[..^1];
        var xs = input.reshape(lead.Concat(new[] { c, d }).ToArray());
        var delta = W1.to(x.dtype).matmul(xs.matmul(w2.t())).reshape(lead.Concat(new[] { a * b }).ToArray());
        if (Rows is { } r) delta = delta.narrow(-1, r.Start, r.Count);
        AddScaled(y, delta);
    }
}
