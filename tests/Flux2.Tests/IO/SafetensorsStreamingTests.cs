using Flux2.IO;
using Flux2.Native;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Flux2.Tests.IO;

/// <summary>
/// Streamed loading keeps CPU RAM bounded: reading a checkpoint tensor by tensor through the memory mapping
/// must not leave the whole file resident in this process (mapped file pages count in VmRSS/VmHWM once touched).
/// </summary>
public class SafetensorsStreamingTests(ITestOutputHelper output)
{
    static long RssFileBytes()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("RssFile:")) return long.Parse(line.Split((char[]?)null,
                StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        throw new InvalidOperationException("no RssFile in /proc/self/status");
    }

    [Fact]
    public void ReadingEveryTensorDoesNotKeepTheFileResident()
    {
        if (!OperatingSystem.IsLinux()) return; // the resident-set figures are Linux's
        TorchRuntime.EnsureLoaded();
        var path = Path.Combine(TestPaths.TempDir(), "big.safetensors");
        const int tensors = 16;
        const long elements = 4L << 20; // 16 x 16 MiB = 256 MiB of fp32
        SafetensorsWriter.Write(path, Enumerable.Range(0, tensors).Select(i =>
            new KeyValuePair<string, Tensor>($"w{i}", full(new[] { elements }, (float)i))));
        long fileBytes = new FileInfo(path).Length;
        using var file = SafetensorsFile.Open(path);
        long before = RssFileBytes(), most = 0;
        for (int i = 0; i < tensors; i++)
        {
            using var t = file.Read($"w{i}");
            Assert.Equal(i, t[elements - 1].item<float>()); // really read, last page included
            most = Math.Max(most, RssFileBytes() - before);
        }
        output.WriteLine($"file {fileBytes >> 20} MiB; mapped pages resident at most {most >> 20} " +
            "MiB above the start while reading");
        Assert.True(most < fileBytes / 4,
            $"reading {fileBytes >> 20} MiB tensor by tensor left {most >> 20} MiB of the mapping resident");
    }
}
