using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Flux2.IO;
using Flux2.Models.Vae;
using static TorchSharp.torch;

namespace Flux2.Training.Data;

/// <summary>
/// Training latents, encoded once per (image, bucket, flip) since the VAE is frozen (docs/ai-toolkit-compat.md §2.8):
/// the posterior mean, patchified and BN-normalized (<see cref="AutoencoderKLFlux2.EncodeToTrainingLatent"/>), kept in
/// memory on the training device. With cache_latents_to_disk each latent is also stored as
/// <c>&lt;image folder&gt;/_latent_cache/&lt;stem&gt;_&lt;hash&gt;.safetensors</c>, the hash covering everything that
/// changes it (file, size, modification time, crop, flips, VAE), and read back on the next run.
/// </summary>
public sealed class LatentCache : IDisposable
{
    readonly Dictionary<string, Tensor> latents = new();

    public Tensor this[DatasetItem item] => latents[Key(item)];

    public static LatentCache Build(IReadOnlyList<DatasetItem> items, IReadOnlyList<bool> toDisk,
                                    AutoencoderKLFlux2 vae, string vaeIdentity, Device device,
                                    Action<int, int>? progress = null)
    {
        var cache = new LatentCache();
        var unique = items.GroupBy(Key).Select(g => g.First()).ToList();
        var vaeDtype = vae.parameters().First().dtype;
        var vaeDevice = vae.parameters().First().device;
        for (int i = 0; i < unique.Count; i++)
        {
            var item = unique[i];
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            string? file = toDisk[item.DatasetIndex] ? DiskPath(item, vaeIdentity) : null;
            Tensor latent;
            if (file is not null && File.Exists(file))
            {
                using var source = SafetensorsSource.OpenFile(file);
                latent = source.Read("latent");
            }
            else
            {
                using var image = TrainingImage.Load(item);
                latent = vae.EncodeToTrainingLatent(image.unsqueeze(0)
                    .to(vaeDtype, vaeDevice))[0].to(ScalarType.Float32).cpu();
                if (file is not null)
                {
                    Directory.CreateDirectory(Path.GetDirectoryName(file)!);
                    SafetensorsWriter.Write(file, new Dictionary<string, Tensor> { ["latent"] = latent });
                }
            }
            cache.latents[Key(item)] = latent.to(device).DetachFromDisposeScope();
            progress?.Invoke(i + 1, unique.Count);
        }
        return cache;
    }

    static string Key(DatasetItem item) => $"{item.ImagePath}|{item.Width}x{item.Height}|{item.FlipX}|{item.FlipY}";

    /// <summary>Where an item's latent lives on disk; any change of file (size, modification time), bucket, flip or
    /// model identity gives another name, so a stale latent is never read back.</summary>
    public static string DiskPath(DatasetItem item, string vaeIdentity)
    {
        var info = new FileInfo(item.ImagePath);
        var identity = JsonSerializer.Serialize(new
        {
            file = info.Name,
            bytes = info.Length,
            modified = info.LastWriteTimeUtc.Ticks,
            width = item.Width,
            height = item.Height,
            flip_x = item.FlipX,
            flip_y = item.FlipY,
            vae = vaeIdentity,
            latent_version = 1,
        });
        var hash = Convert.ToBase64String(MD5.HashData(Encoding.UTF8.GetBytes(identity))).TrimEnd('=')
            .Replace('+', '-').Replace('/', '_');
        return Path.Combine(info.DirectoryName!, "_latent_cache",
            $"{Path.GetFileNameWithoutExtension(info.Name)}_{hash}.safetensors");
    }

    public void Dispose() { foreach (var t in latents.Values) t.Dispose(); latents.Clear(); }
}
