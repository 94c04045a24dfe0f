using System.Text.Json;
using System.Text.RegularExpressions;
using Flux2.IO;
using Flux2.Lora;
using Flux2.Models.Transformer;
using Flux2.Models.Vae;
using Flux2.Pipeline;
using Flux2.Sampling;
using static TorchSharp.torch;

namespace Flux2.Verification;

/// <summary>One comparison against a reference output.</summary>
public sealed record CheckResult(string Name, double MaxAbsError, double Tolerance, string? Error = null)
{
    public bool Passed => Error == null && MaxAbsError <= Tolerance;
}

/// <summary>
/// Compares our implementation with reference outputs stored in the flux2-tiny fixture format
/// (tests/fixtures/flux2-tiny/README.md; the [klein] variant in tests/fixtures/flux2-klein-tiny/README.md): every
/// component is loaded through the same loaders a real download uses, fed the stored inputs, and compared in fp32 on
/// the CPU. Parameters come from the folder's <c>fixture.json</c>.
/// </summary>
public static class ReferenceVerifier
{
    public const double DefaultTolerance = 1e-4;

    public static IReadOnlyList<CheckResult> Run(string dir, double tolerance = DefaultTolerance,
        Action<CheckResult>? onResult = null)
    {
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"reference folder not found: {dir}");
        var fixturePath = Path.Combine(dir, "fixture.json");
        if (!File.Exists(fixturePath))
            throw new FileNotFoundException($"{fixturePath} is missing: a reference folder holds fixture.json with " +
                $"H, W, steps, guidance, te_out_layers (see the fixture README)");
        using var fixture = JsonDocument.Parse(File.ReadAllText(fixturePath));
        var results = new List<CheckResult>();
        void Add(CheckResult r) { results.Add(r); onResult?.Invoke(r); }
        void Guard(string name, Action body)
        {
            try { body(); }
            catch (Exception e) { Add(new CheckResult(name, double.NaN, tolerance, e.Message.Split('\n')[0])); }
        }
        CheckResult Compare(string name, Tensor ours, Tensor reference)
        {
            if (!ours.shape.SequenceEqual(reference.shape))
                return new CheckResult(name, double.NaN, tolerance,
                    $"shape [{string.Join(", ", ours.shape)}] vs reference [{string.Join(", ", reference.shape)}]");
            return new CheckResult(name, (ours.to(ScalarType.Float64) - reference.to(ScalarType.Float64)).abs().max()
                .item<double>(), tolerance);
        }

        using var _ = no_grad();
        Guard("transformer.output", () =>
        {
            using var model = Flux2TransformerFiles.FromFolder(Path.Combine(dir, "transformer"));
            using var io = SafetensorsSource.OpenFile(Path.Combine(dir, "transformer_io.safetensors"));
            // No "guidance" input for a model without guidance embedder ([klein]): it is called with guidance None.
            using var guidance = io.Keys.Contains("guidance") ? io.Read("guidance") : null;
            Tensor Run() => model.Forward(io.Read("hidden_states"), io.Read("encoder_hidden_states"),
                                          io.Read("timestep"), guidance, io.Read("img_ids"), io.Read("txt_ids"));
            using (var scope = NewDisposeScope()) Add(Compare("transformer.output", Run(), io.Read("output")));
            var lora = Path.Combine(dir, "lora", "pytorch_lora_weights.safetensors");
            if (File.Exists(lora) && io.Keys.Contains("output_with_lora"))
                Guard("transformer.output_with_lora", () =>
                {
                    LoraLoader.Apply(model, lora);
                    using var scope = NewDisposeScope();
                    Add(Compare("transformer.output_with_lora", Run(), io.Read("output_with_lora")));
                });
        });

        Guard("vae", () =>
        {
            using var vae = AutoencoderKLFlux2.FromFolder(Path.Combine(dir, "vae"));
            using var io = SafetensorsSource.OpenFile(Path.Combine(dir, "vae_io.safetensors"));
            using var scope = NewDisposeScope();
            var image = io.Read("image");
            using var dist = vae.Encode(image);
            Add(Compare("vae.latent_mean", dist.Mean, io.Read("latent_mean")));
            Add(Compare("vae.latent_std", dist.Std, io.Read("latent_std")));
            Add(Compare("vae.latent_patchified_normalized", vae.EncodeToTrainingLatent(image),
                io.Read("latent_patchified_normalized")));
            Add(Compare("vae.decoded", vae.Decode(io.Read("z")), io.Read("decoded")));
        });

        TextEncoderCheck.Run(dir, fixture.RootElement, (name, ours, reference) => Add(Compare(name, ours, reference)),
            Guard);

        Guard("scheduler", () =>
        {
            var scheduler = FlowMatchEulerScheduler.FromJson(Path.Combine(dir, "scheduler", "scheduler_config.json"));
            using var io = SafetensorsSource.OpenFile(Path.Combine(dir, "pipeline_io.safetensors"));
            foreach (var key in io.Keys.OrderBy(k => k))
            {
                var m = Regex.Match(key, @"^(sigmas|timesteps)_seq(\d+)_steps(\d+)$");
                if (!m.Success) continue;
                int seq = int.Parse(m.Groups[2].Value), steps = int.Parse(m.Groups[3].Value);
                var ours = m.Groups[1].Value == "sigmas" ? scheduler.Sigmas(steps, seq)
                    : scheduler.Timesteps(steps, seq);
                using var reference = io.Read(key);
                using var oursT = tensor(ours);
                // timesteps are σ·1000: compare on the σ scale so one tolerance serves both tables
                double scale = m.Groups[1].Value == "sigmas" ? 1 : scheduler.NumTrainTimesteps;
                var r = Compare($"scheduler.{key}", oursT / scale, reference / scale);
                Add(r);
            }
        });

        Guard("pipeline.images", () =>
        {
            var root = fixture.RootElement;
            int steps = root.GetProperty("steps").GetInt32();
            using var transformer = Flux2TransformerFiles.FromFolder(Path.Combine(dir, "transformer"));
            using var vae = AutoencoderKLFlux2.FromFolder(Path.Combine(dir, "vae"));
            var pipe = new Flux2Pipeline(transformer, vae, FlowMatchEulerScheduler.FromJson(Path.Combine(dir,
                "scheduler", "scheduler_config.json")));
            using var io = SafetensorsSource.OpenFile(Path.Combine(dir, "pipeline_io.safetensors"));
            // [dev] fixtures store guidance as [scale], [klein] ones as the CFG scale itself.
            var g = root.GetProperty("guidance");
            float guidance = (float)(g.ValueKind == JsonValueKind.Array ? g[0] : g).GetDouble();
            using var scope = NewDisposeScope();
            var latents = io.Read("initial_latents");
            int h = root.GetProperty("H").GetInt32(), w = root.GetProperty("W").GetInt32();
            var grid = pipe.LatentGrid(h, w);
            if (latents.shape[2] != grid.h || latents.shape[3] != grid.w)
                throw new InvalidDataException($"fixture.json H x W = {h} x {w} implies a {grid.h} x {grid.w} latent " +
                    $"grid, but initial_latents is [{string.Join(", ", latents.shape)}]");
            // With negative_prompt_embeds ([klein] base): true classifier-free guidance, two forwards per step.
            var negative = io.Keys.Contains("negative_prompt_embeds") ? io.Read("negative_prompt_embeds") : null;
            Add(Compare("pipeline.images", pipe.Generate(io.Read("prompt_embeds"), latents, steps, guidance,
                negativeEmbeds: negative), io.Read("images")));
        });
        return results;
    }
}
