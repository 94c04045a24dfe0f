using static TorchSharp.torch;

namespace Flux2.Pipeline;

/// <summary>The 4-coordinate (T, H, W, L) position ids FLUX.2 rotates by (docs/flux2-model.md §3).</summary>
public static class PositionIds
{
    /// <summary>Image tokens: (T=time, H=i, W=j, L=0), row-major over an h×w token grid (docs/flux2-model.md §3.1).
    /// Reference image k uses T = 10 + 10·k (§3.3); the generated image uses T = 0.</summary>
    public static Tensor Image(int h, int w, Device? device = null, int time = 0)
    {
        using var scope = NewDisposeScope();
        var ii = arange(h, device: device).repeat_interleave(w);
        var jj = arange(w, device: device).repeat(h);
        var z = zeros(h * w, ScalarType.Int64, device);
        return stack(new[] { z + time, ii, jj, z }, 1).to(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary>Text tokens: (0, 0, 0, l) (docs/flux2-model.md §3.2).</summary>
    public static Tensor Text(int n, Device? device = null)
    {
        using var scope = NewDisposeScope();
        var z = zeros(n, ScalarType.Int64, device);
        return stack(new[] { z, z, z, arange(n, device: device) }, 1).to(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary>T coordinate of the k-th (0-based) reference image.</summary>
    public static int ReferenceTime(int k) => 10 + 10 * k;
}
