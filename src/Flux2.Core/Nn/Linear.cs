using TorchSharp;
using static TorchSharp.torch;
using TorchSharp.Modules;

namespace Flux2.Nn;

/// <summary>
/// A Linear layer whose parameter names match the checkpoints (<c>weight</c>, optional <c>bias</c>) and which can
/// carry LoRA adapters. Adapters are not registered as parameters, so the base state dict stays the checkpoint's:
/// y = x Wᵀ (+ b) + Σ scale · (x Aᵀ) Bᵀ, with A = lora_A [r, in], B = lora_B [out, r] (reference §7.1).
/// </summary>
public sealed class Linear : nn.Module<Tensor, Tensor>
{
    public readonly long InFeatures, OutFeatures;
    public Parameter weight;
    public Parameter? bias;
    public List<LoraAdapter> Adapters { get; } = new();

    public Linear(long inFeatures, long outFeatures, bool hasBias = false, Device? device = null, ScalarType? dtype = null)
        : base(nameof(Linear))
    {
        InFeatures = inFeatures; OutFeatures = outFeatures;
        weight = new Parameter(empty(new[] { outFeatures, inFeatures }, dtype ?? ScalarType.Float32, device), requires_grad: false);
        if (hasBias) bias = new Parameter(zeros(new[] { outFeatures }, dtype ?? ScalarType.Float32, device), requires_grad: false);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        var y = nn.functional.linear(x, weight, bias);
        foreach (var a in Adapters)
            if (a.Enabled) y = y.add_(a.Delta(x));
        return y;
    }
}

/// <summary>One low-rank update: Delta(x) = Scale · B(A(dropout(x))). Scale = strength · alpha / rank.</summary>
public sealed class LoraAdapter(Tensor down, Tensor up, double scale)
{
    /// <summary>Training-time dropout on the adapter's input (peft's lora_dropout): active only while gradients are
    /// recorded (or inside a checkpointed block's forward, whose recompute records them), so samples and evaluation are
    /// never dropped. Masks come from <see cref="DropoutGenerator"/> (seeded and saved with the training state, so a
    /// resumed run draws the same masks).</summary>
    public double Dropout { get; set; }
    public Generator? DropoutGenerator { get; set; }

    public Tensor Down { get; } = down;   // lora_A [r, in]
    public Tensor Up { get; } = up;       // lora_B [out, r]
    public double Scale { get; set; } = scale;
    public bool Enabled { get; set; } = true;
    public long Rank => Down.shape[0];

    public Tensor Delta(Tensor x)
    {
        if (Dropout > 0 && GradientCheckpoint.IsTrainingForward)
        {
            using var keep = rand(x.shape, generator: DropoutGenerator).to(x.device).ge(Dropout);
            x = x * keep.to(x.dtype) / (1 - Dropout);
        }
        using var h = nn.functional.linear(x, Down.to(x.dtype));
        return nn.functional.linear(h, Up.to(x.dtype)).mul_(Scale);
    }
}
