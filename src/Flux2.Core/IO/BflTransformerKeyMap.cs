using System.Text.RegularExpressions;

namespace Flux2.IO;

/// <summary>Where a diffusers transformer tensor lives in a BFL checkpoint: tensor <see cref="Key"/>, part
/// <see cref="Chunk"/> of <see cref="Chunks"/> equal row blocks (fused qkv -> q, k, v), with the two row halves
/// exchanged when <see cref="SwapHalves"/> (final adaLN: BFL stores shift, scale; diffusers scale, shift).</summary>
public sealed record BflLocation(string Key, int Chunk = 0, int Chunks = 1, bool SwapHalves = false);

/// <summary>
/// Key map between BFL single-file FLUX.2 transformer checkpoints (<c>flux2-dev.safetensors</c>) and diffusers names
/// (docs/flux2-model.md §2.2, §2.5, §2.6, §2.8; diffusers <c>convert_flux2_to_diffusers.py</c>). Rules are written
/// at module level; the parameter name follows (<c>weight</c>/<c>bias</c>, except BFL RMSNorms call their weight
/// <c>scale</c>).
/// </summary>
public static class BflTransformerKeyMap
{
    sealed record Rule(string Diffusers, string Bfl, int Chunk = 0, int Chunks = 1, bool SwapHalves = false,
        bool IsRmsNorm = false)
    {
        public readonly Regex DiffusersPattern = Compile(Diffusers);
        public readonly Regex BflPattern = Compile(Bfl);
        static Regex Compile(string pattern) => new("^" + Regex.Escape(pattern).Replace(@"\{N}", @"(\d+)") + "$",
            RegexOptions.CultureInvariant);
    }

    static Rule Qkv(string d, string b, int part) => new(d, b, part, 3);
    static Rule Norm(string d, string b) => new(d, b, IsRmsNorm: true);

    static readonly Rule[] Rules =
    [
        // §2.2 top level
        new("x_embedder", "img_in"),
        new("context_embedder", "txt_in"),
        new("time_guidance_embed.timestep_embedder.linear_1", "time_in.in_layer"),
        new("time_guidance_embed.timestep_embedder.linear_2", "time_in.out_layer"),
        new("time_guidance_embed.guidance_embedder.linear_1", "guidance_in.in_layer"),
        new("time_guidance_embed.guidance_embedder.linear_2", "guidance_in.out_layer"),
        new("double_stream_modulation_img.linear", "double_stream_modulation_img.lin"),
        new("double_stream_modulation_txt.linear", "double_stream_modulation_txt.lin"),
        new("single_stream_modulation.linear", "single_stream_modulation.lin"),
        // §2.8: diffusers AdaLayerNormContinuous chunks (scale, shift), BFL LastLayer chunks (shift, scale).
        new("norm_out.linear", "final_layer.adaLN_modulation.1", SwapHalves: true),
        new("proj_out", "final_layer.linear"),
        // §2.5 double-stream blocks: BFL fuses q, k, v into one qkv Linear, split with chunk(3, dim=0).
        Qkv("transformer_blocks.{N}.attn.to_q", "double_blocks.{N}.img_attn.qkv", 0),
        Qkv("transformer_blocks.{N}.attn.to_k", "double_blocks.{N}.img_attn.qkv", 1),
        Qkv("transformer_blocks.{N}.attn.to_v", "double_blocks.{N}.img_attn.qkv", 2),
        Norm("transformer_blocks.{N}.attn.norm_q", "double_blocks.{N}.img_attn.norm.query_norm"),
        Norm("transformer_blocks.{N}.attn.norm_k", "double_blocks.{N}.img_attn.norm.key_norm"),
        new("transformer_blocks.{N}.attn.to_out.0", "double_blocks.{N}.img_attn.proj"),
        Qkv("transformer_blocks.{N}.attn.add_q_proj", "double_blocks.{N}.txt_attn.qkv", 0),
        Qkv("transformer_blocks.{N}.attn.add_k_proj", "double_blocks.{N}.txt_attn.qkv", 1),
        Qkv("transformer_blocks.{N}.attn.add_v_proj", "double_blocks.{N}.txt_attn.qkv", 2),
        Norm("transformer_blocks.{N}.attn.norm_added_q", "double_blocks.{N}.txt_attn.norm.query_norm"),
        Norm("transformer_blocks.{N}.attn.norm_added_k", "double_blocks.{N}.txt_attn.norm.key_norm"),
        new("transformer_blocks.{N}.attn.to_add_out", "double_blocks.{N}.txt_attn.proj"),
        new("transformer_blocks.{N}.ff.linear_in", "double_blocks.{N}.img_mlp.0"),
        new("transformer_blocks.{N}.ff.linear_out", "double_blocks.{N}.img_mlp.2"),
        new("transformer_blocks.{N}.ff_context.linear_in", "double_blocks.{N}.txt_mlp.0"),
        new("transformer_blocks.{N}.ff_context.linear_out", "double_blocks.{N}.txt_mlp.2"),
        // §2.6 single-stream blocks
        new("single_transformer_blocks.{N}.attn.to_qkv_mlp_proj", "single_blocks.{N}.linear1"),
        new("single_transformer_blocks.{N}.attn.to_out", "single_blocks.{N}.linear2"),
        Norm("single_transformer_blocks.{N}.attn.norm_q", "single_blocks.{N}.norm.query_norm"),
        Norm("single_transformer_blocks.{N}.attn.norm_k", "single_blocks.{N}.norm.key_norm"),
    ];

    /// <summary>Diffusers name -> BFL tensor and the slice of it; null for a name with no BFL counterpart.</summary>
    public static BflLocation? ToBfl(string diffusersKey)
    {
        var (module, param) = Split(diffusersKey);
        foreach (var r in Rules)
        {
            var m = r.DiffusersPattern.Match(module);
            if (!m.Success) continue;
            var bflParam = r.IsRmsNorm && param == "weight" ? "scale" : param;
            return new BflLocation($"{Fill(r.Bfl, m)}.{bflParam}", r.Chunk, r.Chunks, r.SwapHalves);
        }
        return null;
    }

    /// <summary>BFL name -> the diffusers names it holds (three for a fused qkv), each with its slice; empty for a
    /// name with no diffusers counterpart.</summary>
    public static IReadOnlyList<(string DiffusersKey, BflLocation Location)> ToDiffusers(string bflKey)
    {
        var (module, param) = Split(bflKey);
        var result = new List<(string, BflLocation)>();
        foreach (var r in Rules)
        {
            var m = r.BflPattern.Match(module);
            if (!m.Success) continue;
            var diffusersParam = r.IsRmsNorm && param == "scale" ? "weight" : param;
            result.Add(($"{Fill(r.Diffusers, m)}.{diffusersParam}", new BflLocation(bflKey, r.Chunk, r.Chunks,
                r.SwapHalves)));
        }
        return result;
    }

    static (string module, string param) Split(string key)
    {
        int dot = key.LastIndexOf('.');
        return dot < 0 ? (key, "") : (key[..dot], key[(dot + 1)..]);
    }

    static string Fill(string pattern, Match m) => m.Groups.Count > 1 ? pattern.Replace("{N}", m.Groups[1].Value)
        : pattern;
}
