namespace Flux2.Lora;

/// <summary>
/// Module-path map from the BFL / ai-toolkit / ComfyUI naming (<c>double_blocks.N.img_attn.qkv</c>) to the
/// diffusers naming our modules use (reference §7.3 table). A fused BFL module maps onto several diffusers modules,
/// each taking a row block of the fused output: (module, part index, part count).
/// </summary>
public static class BflModuleNames
{
    public readonly record struct Target(string Module, int Part, int Parts, bool SwapHalves = false);

    public static IReadOnlyList<Target> ToDiffusers(string bfl)
    {
        var p = bfl.Split('.');
        if (p.Length >= 3 && p[0] == "double_blocks")
        {
            var b = $"transformer_blocks.{p[1]}";
            var rest = string.Join('.', p.Skip(2));
            return rest switch
            {
                "img_attn.qkv" => Fused(b, "attn.to_q", "attn.to_k", "attn.to_v"),
                "txt_attn.qkv" => Fused(b, "attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj"),
                "img_attn.proj" => One($"{b}.attn.to_out.0"),
                "txt_attn.proj" => One($"{b}.attn.to_add_out"),
                "img_mlp.0" => One($"{b}.ff.linear_in"),
                "img_mlp.2" => One($"{b}.ff.linear_out"),
                "txt_mlp.0" => One($"{b}.ff_context.linear_in"),
                "txt_mlp.2" => One($"{b}.ff_context.linear_out"),
                _ => throw Unknown(bfl),
            };
        }
        if (p.Length == 3 && p[0] == "single_blocks")
            return p[2] switch
            {
                "linear1" => One($"single_transformer_blocks.{p[1]}.attn.to_qkv_mlp_proj"),
                "linear2" => One($"single_transformer_blocks.{p[1]}.attn.to_out"),
                _ => throw Unknown(bfl),
            };
        return bfl switch
        {
            "img_in" => One("x_embedder"),
            "txt_in" => One("context_embedder"),
            "time_in.in_layer" => One("time_guidance_embed.timestep_embedder.linear_1"),
            "time_in.out_layer" => One("time_guidance_embed.timestep_embedder.linear_2"),
            "guidance_in.in_layer" => One("time_guidance_embed.guidance_embedder.linear_1"),
            "guidance_in.out_layer" => One("time_guidance_embed.guidance_embedder.linear_2"),
            "double_stream_modulation_img.lin" => One("double_stream_modulation_img.linear"),
            "double_stream_modulation_txt.lin" => One("double_stream_modulation_txt.linear"),
            "single_stream_modulation.lin" => One("single_stream_modulation.linear"),
            "final_layer.linear" => One("proj_out"),
            // BFL rows are (shift, scale), diffusers rows (scale, shift): the output halves swap (reference §2.8).
            "final_layer.adaLN_modulation.1" => new[] { new Target("norm_out.linear", 0, 1, SwapHalves: true) },
            _ => throw Unknown(bfl),
        };
    }

    static Target[] One(string m) => new[] { new Target(m, 0, 1) };
    static Target[] Fused(string block, params string[] parts) => parts.Select((m, i) => new Target($"{block}.{m}", i, parts.Length)).ToArray();
    static KeyNotFoundException Unknown(string bfl) => new($"'{bfl}' is not a FLUX.2 transformer module in the BFL/ComfyUI naming");
}
