using SkiaSharp;

namespace Flux2.Tests.Training;

/// <summary>Small generated datasets: solid-colour PNGs with same-name captions.</summary>
public static class TempDataset
{
    public static readonly SKColor[] Colours = { SKColors.Red, SKColors.Lime, SKColors.Blue, SKColors.Yellow };

    public static string Create(int count = 4, int width = 32, int height = 32, Func<int, string?>? caption = null)
    {
        var dir = TestPaths.TempDir();
        for (int i = 0; i < count; i++)
        {
            WritePng(Path.Combine(dir, $"img{i}.png"), width, height, Colours[i % Colours.Length]);
            var text = caption is null ? $"a [trigger] square, colour {i}" : caption(i);
            if (text is not null) File.WriteAllText(Path.Combine(dir, $"img{i}.txt"), text);
        }
        return dir;
    }

    public static void WritePng(string path, int width, int height, SKColor colour)
    {
        using var bmp = new SKBitmap(width, height);
        bmp.Erase(colour);
        using var data = bmp.Encode(SKEncodedImageFormat.Png, 100);
        using var f = File.Create(path);
        data.SaveTo(f);
    }

    /// <summary>A job YAML for tiny-random over <paramref name="dataset"/>, writing under
    /// <paramref name="output"/>.</summary>
    public static string Job(string dataset, string output, int steps, string extraTrain = "",
        string name = "tiny_lora") => $"""
        job: extension
        config:
          name: {name}
          process:
            - type: sd_trainer
              training_folder: {output}
              device: cpu
              trigger_word: zqx
              network: {"{"}type: lora, linear: 4, linear_alpha: 4{"}"}
              save: {"{"}dtype: float32, save_every: 10, max_step_saves_to_keep: 1{"}"}
              datasets:
                - folder_path: {dataset}
                  caption_ext: txt
                  resolution: [32]
              train:
                batch_size: 2
                steps: {steps}
                lr: 0.01
                optimizer: adamw
                timestep_type: sigmoid
                seed: 7
                {extraTrain}
              model: {"{"}name_or_path: tiny-random, arch: flux2{"}"}
              sample:
                sample_every: 1000
                width: 32
                height: 32
                sample_steps: 2
                guidance_scale: 4
                seed: 1
                walk_seed: true
                prompts: ["a [trigger] square", "a plain square"]
        """;
}
