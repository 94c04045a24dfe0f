using static TorchSharp.torch;

namespace Flux2.Lora;

/// <summary>
/// Splits a LoRA on a fused module (BFL <c>qkv</c>: q, k, v stacked as equal row blocks) into one LoRA per part,
/// exactly. When B is block-diagonal with equal rank blocks — what <see cref="LoraExport.ToComfyUi"/> writes for
/// separate q/k/v LoRAs, and the rule diffusers applies to Kohya files (docs/flux2-model.md §7.3) — each part keeps
/// only its own A rows and B columns, so rank r·3 becomes three rank-r LoRAs and a round trip does not grow the rank.
/// Otherwise each part takes its B row block and shares the whole A, which is still exact (ΔW row block = B_i·A).
/// </summary>
public static class FusedLoraSplit
{
    public static IReadOnlyList<(Tensor Down, Tensor Up)> Split(Tensor down, Tensor up, int parts)
    {
        long rows = up.shape[0] / parts, rank = down.shape[0];
        if (parts == 1) return new[] { (down, up) };
        if (IsBlockDiagonal(up, parts))
        {
            long k = rank / parts;
            return Enumerable.Range(0, parts)
                .Select(i => (down.narrow(0, i * k, k).contiguous(), up.narrow(0, i * rows, rows).narrow(1, i * k, k)
                    .contiguous()))
                .ToList();
        }
        return Enumerable.Range(0, parts).Select(i => (down, up.narrow(0, i * rows, rows).contiguous())).ToList();
    }

    /// <summary>True when the rank divides into <paramref name="parts"/> equal column blocks and every block of B
    /// off the diagonal is exactly zero.</summary>
    public static bool IsBlockDiagonal(Tensor up, int parts)
    {
        long rows = up.shape[0] / parts, rank = up.shape[1];
        if (rank % parts != 0 || up.shape[0] % parts != 0) return false;
        long k = rank / parts;
        using var scope = NewDisposeScope();
        for (int i = 0; i < parts; i++)
            for (int j = 0; j < parts; j++)
                if (i != j && up.narrow(0, i * rows, rows).narrow(1, j * k, k).count_nonzero().item<long>() != 0)
                    return false;
        return true;
    }
}
