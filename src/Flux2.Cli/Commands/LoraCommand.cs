using Flux2.IO;
using Flux2.Lora;
using Flux2.Native;

namespace Flux2.Cli.Commands;

/// <summary><c>./flux2 lora convert|info</c>: LoRA files between the ComfyUI/ai-toolkit and diffusers/peft layouts
/// (exact: ΔW per module is unchanged), and what a file holds.</summary>
public static class LoraCommand
{
    public const string Help = """
        ./flux2 lora convert <in.safetensors> <out.safetensors> --to comfyui|diffusers
          Rewrites a FLUX.2 transformer LoRA in the other layout; every module's ΔW = scale·B·A stays the same.
            comfyui:   diffusion_model.double_blocks.N.img_attn.qkv.lora_A/B.weight, scale baked into B, q/k/v fused
                       (A stacked, B block-diagonal) — what ai-toolkit saves and ComfyUI loads.
            diffusers: transformer.transformer_blocks.N.attn.to_q.lora_A/B.weight, scale baked into B, r and
                       lora_alpha = r in the lora_adapter_metadata header (peft) — what diffusers'
                       load_lora_weights reads; ComfyUI, which ignores that header, applies the same ΔW.
          A block-diagonal fused qkv splits back into rank-r q/k/v LoRAs. Other header metadata is copied.
        ./flux2 lora info <file.safetensors>
          Layout, modules with rank and shape, scales (alpha/r), peft config and the header's metadata keys; for a
          LoKr file (lokr_w1/lokr_w2 keys) its Kronecker factors per module.
        """;

    public static int Run(CliArgs args, TextWriter o)
    {
        var sub = args.Positional(0, "a subcommand: convert or info");
        switch (sub)
        {
            case "convert":
                {
                    var input = args.Positional(1, "the input LoRA file");
                    var output = args.Positional(2, "the output file");
                    var to = args.Get("to") ?? throw new UserError("lora convert: --to comfyui|diffusers is required");
                    args.EnsureAllUsed();
                    var layout = ParseLayout(to);
                    if (Path.GetFullPath(input) == Path.GetFullPath(output))
                        throw new UserError("lora convert: the output must be another file than the input");
                    OutputFile.Check(output, "lora convert: the output");
                    TorchRuntime.EnsureLoaded();
                    var info = LoraFileInfo.Read(input);
                    if (info.Lokr.Count > 0)
                        throw new UserError($"lora convert: {input} is a LoKr file (Kronecker factors, not a " +
                            "low-rank pair); it has no LoRA layout to convert to, and ComfyUI loads it as it is");
                    LoraExport.Write(output, info.Updates, layout, info.Metadata);
                    o.WriteLine($"{input} ({Name(info.Layout)}, {info.FileModules.Count} modules) -> {output} " +
                        $"({Name(layout)}, {LoraFileInfo.Read(output).FileModules.Count} modules)");
                    return 0;
                }
            case "info":
                {
                    var input = args.Positional(1, "the LoRA file");
                    args.EnsureAllUsed();
                    TorchRuntime.EnsureLoaded();
                    Print(LoraFileInfo.Read(input), o);
                    return 0;
                }
            default: throw new UserError($"lora: unknown subcommand '{sub}' (convert, info). Run ./flux2 help lora");
        }
    }

    static LoraLayout ParseLayout(string to) => to.ToLowerInvariant() switch
    {
        "comfyui" or "ai-toolkit" or "ai_toolkit" or "bfl" => LoraLayout.Comfyui,
        "diffusers" or "peft" => LoraLayout.Diffusers,
        _ => throw new UserError($"lora convert: --to must be comfyui or diffusers, got '{to}'"),
    };

    static string Name(LoraLayout layout) => layout == LoraLayout.Comfyui ? "comfyui" : "diffusers";

    static void Print(LoraFileInfo info, TextWriter o)
    {
        if (info.Lokr.Count > 0)
        {
            PrintLokr(info, o);
            return;
        }
        o.WriteLine($"file:     {info.Path}");
        o.WriteLine($"layout:   {Name(info.Layout)}" + (info.Layout == LoraLayout.Comfyui
            ? " (ai-toolkit/ComfyUI names, scale baked into B unless .alpha tensors)"
            : " (diffusers/peft names, alpha in metadata)"));
        o.WriteLine($"dtype:    {string.Join(", ", info.DTypes)}");
        o.WriteLine($"modules:  {info.FileModules.Count} in the file; ranks " +
            $"{LoraFileInfo.Histogram(info.FileModules.Select(m => m.Rank))}");
        o.WriteLine($"applies:  {info.Updates.Count} model modules; ranks " +
            $"{LoraFileInfo.Histogram(info.Updates.Select(u => u.Down.shape[0]))}; scale (alpha/r) " +
            $"{LoraFileInfo.Histogram(info.Updates.Select(u => u.Scale))}");
        if (info.Peft is { } p)
            o.WriteLine($"peft:     r {p.Rank?.ToString() ?? "-"}, lora_alpha " +
                $"{p.Alpha?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-"}, " +
                $"{p.RankPattern.Count} rank_pattern and {p.AlphaPattern.Count} alpha_pattern entries");
        string metadataKeys = info.Metadata.Count == 0
            ? "(none)"
            : string.Join(", ", info.Metadata.Keys.Order(StringComparer.Ordinal));
        o.WriteLine($"metadata: {metadataKeys}");
        foreach (var m in info.FileModules)
            o.WriteLine($"  {m.Name,-64} rank {m.Rank,4}  [{m.Out} x {m.In}]");
    }

    static string Shape(TorchSharp.torch.Tensor t) => $"[{t.shape[0]} x {t.shape[1]}]";

    static void PrintLokr(LoraFileInfo info, TextWriter o)
    {
        o.WriteLine($"file:     {info.Path}");
        o.WriteLine($"layout:   LoKr, {Name(info.Layout)} names (lokr_w1, lokr_w2 or lokr_w2_a/b, alpha per module)");
        o.WriteLine($"dtype:    {string.Join(", ", info.DTypes)}");
        int full = info.Lokr.Count(u => u.Rank is null);
        var ranks = info.Lokr.Where(u => u.Rank is not null).Select(u => u.Rank!.Value).ToList();
        var kinds = new List<string>();
        if (full > 0) kinds.Add($"W2 full ({full})");
        if (ranks.Count > 0) kinds.Add($"W2 of rank {LoraFileInfo.Histogram(ranks)}");
        o.WriteLine($"modules:  {info.Lokr.Count} in the file; {string.Join(", ", kinds)}");
        o.WriteLine($"applies:  {info.Lokr.Sum(u => u.Parts().Count)} model modules; scale " +
            LoraFileInfo.Histogram(info.Lokr.Select(u => u.Scale)));
        string metadataKeys = info.Metadata.Count == 0
            ? "(none)"
            : string.Join(", ", info.Metadata.Keys.Order(StringComparer.Ordinal));
        o.WriteLine($"metadata: {metadataKeys}");
        foreach (var u in info.Lokr)
            o.WriteLine($"  {"diffusion_model." + u.Module,-64} w1 {Shape(u.W1)} w2 {Shape(u.W2)}" +
                (u.W2b is null ? "" : $"·{Shape(u.W2b)}") + $"  [{u.Out} x {u.In}]");
    }
}
