using Flux2.Native;
using Flux2.Verification;

namespace Flux2.Cli.Commands;

/// <summary><c>./flux2 verify-reference &lt;dir&gt;</c>: every parity comparison on a folder in the flux2-tiny fixture
/// format; one line per check; exit 0 only if all pass.</summary>
public static class VerifyReferenceCommand
{
    public const string Help = """
        ./flux2 verify-reference <dir> [--tolerance 1e-4]
          Compares transformer (with and without LoRA), VAE, text encoder, scheduler tables and the whole pipeline
          with the reference outputs in <dir> (format: tests/fixtures/flux2-tiny/README.md; FLUX.2 [klein]: Qwen3
          text encoder, true classifier-free guidance). Exit 0 when all pass.
          Example: ./flux2 verify-reference tests/fixtures/flux2-tiny
                   ./flux2 verify-reference tests/fixtures/flux2-klein-tiny
        """;

    public static int Run(CliArgs args, TextWriter o)
    {
        var dir = args.Positional(0, "the reference folder");
        double tol = args.Double("tolerance", ReferenceVerifier.DefaultTolerance, min: 0);
        args.EnsureAllUsed();
        TorchRuntime.EnsureLoaded();
        o.WriteLine($"{"check",-44} {"max abs error",14}  result");
        var results = ReferenceVerifier.Run(dir, tol, r =>
            o.WriteLine($"{r.Name,-44} {(double.IsNaN(r.MaxAbsError) ? "-" : r.MaxAbsError.ToString("E3")),14}  " +
                $"{(r.Passed ? "PASS" : "FAIL")}{(r.Error != null ? "  " + r.Error : "")}"));
        int failed = results.Count(r => !r.Passed);
        o.WriteLine($"{results.Count - failed} of {results.Count} checks passed (tolerance {tol:E0})");
        return failed == 0 && results.Count > 0 ? 0 : 1;
    }
}
