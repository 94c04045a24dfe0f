using Flux2.Evaluation;
using Flux2.Models;
using Flux2.Native;
using Flux2.Pipeline;

namespace Flux2.Cli.Commands;

/// <summary><c>./flux2 eval-base</c>: does the base model draw what simple prompts ask for
/// (<see cref="BaseModelSanity"/>)?</summary>
public static class EvalBaseCommand
{
    public const string Help = """
        ./flux2 eval-base [--model flux2-micro] [--steps N] [--guidance G] [--size S] [--device auto|cpu|cuda:N]
          Generates 48 prompts whose every (shape, colour, place) was held out of pretraining (16 without a
          background phrase, 8 with two shape groups in opposite cells, 24 on a named solid background), one fixed
          seed each, finds each group by its colour, checks its cell and shape class (circle, square, triangle,
          robot) and the named background, and prints the per-prompt table and the pass rate. Exit code 0 whatever
          the rate: it is a measurement. Steps, guidance and size default to the model's sample_defaults.json
          (flux2-micro: 20 steps, guidance 2, 128x128).
        """;

    public static int Run(CliArgs args, TextWriter o)
    {
        var model = args.Get("model", MicroModel.Name);
        var native = ModelSampleDefaults.For(model);
        int steps = args.Int("steps", native.SampleSteps);
        float guidance = (float)args.Double("guidance", native.GuidanceScale);
        int size = args.Int("size", native.Width);
        var device = args.Get("device", "auto");
        args.EnsureAllUsed();
        if (steps < 1) throw new UserError($"eval-base: --steps must be at least 1, got {steps}");

        TorchRuntime.EnsureLoaded();
        using var models = Flux2Models.Load(model, TorchRuntime.Device(device), log: m => o.WriteLine($"  {m}"));
        models.Pipeline.LatentGrid(size, size);
        var report = BaseModelSanity.Run(models, size, size, steps, guidance, log: m => o.WriteLine($"  {m}"));
        o.WriteLine();
        o.Write(BaseModelSanity.Table(report));
        return 0;
    }
}
