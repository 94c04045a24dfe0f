using System.Diagnostics;
using System.Text;
using Flux2.IO;
using Flux2.Native;
using Flux2.Tests.Training;
using Flux2.Training;
using Flux2.Training.Config;
using Flux2.Training.Data;
using Flux2.Training.State;
using SkiaSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Flux2.Tests.Fuzz;

/// <summary>
/// Seeded mutations of what users hand the CLI: safetensors headers and bodies and LoRA tensors (through
/// <c>lora info</c>/<c>lora convert</c>), job YAMLs (the job reader and dataset scan <c>train</c> runs before the
/// model loads), dataset folders (the scan) and run folders (output checks, resume selection, state reading, stale
/// temp files). Every case must meet <see cref="FuzzCase.Check"/>; run-folder cases must also keep every checkpoint
/// (in place or moved to previous-*/). Over 1,000 cases; a failure prints the seed and the case.
/// </summary>
public class CliFuzzTests(ITestOutputHelper output)
{
    const string Q = "transformer.transformer_blocks.0.attn.to_q";
    static readonly string[] HostileNumbers =
    [
        "-1", "0", "1", "-0", "1e309", "-1e309", "NaN", "1.5", "9223372036854775807", "9223372036854775808",
        "18446744073709551616", "4294967296", "2147483648", "1e20", "\"x\"", "null", "[]", "{}", "true", "3e38",
    ];
    static readonly string[] HostileScalars =
    [
        "-1", "0", "2147483647", "2147483648", "-2147483649", "1e309", "NaN", ".nan", ".inf", "-.inf", "''", "\"\"",
        "[", "]", "{", "}", "{a: 1}", "[1, 2]", "~", "null", "yes", "no", "0x10", "1e308", "3.5", "\"\\u0000\"",
        "/dev/zero", "..", "/", "!!binary AAAA", "&a 1", "*a", "|", ">", "'a\nb'", "65536", "100000", "png",
    ];

    string NewRoot() => TestPaths.TempDir();

    /// <summary>Weights drawn from this test's own generator: libtorch's global one belongs to the training tests
    /// that seed it.</summary>
    Generator? weights;

    Tensor Randn(params long[] shape) => randn(shape, generator: weights ??= new Generator(20261207));

    static string Pick(string[] values, Random rng) => values[rng.Next(values.Length)];

    static string CaseFolder(string root, string family, int i)
    {
        var d = Path.Combine(root, $"{family}{i:D4}");
        Directory.CreateDirectory(d);
        return d;
    }

    // ---------------------------------------------------------------- safetensors headers and bodies

    /// <summary>A valid diffusers LoRA (peft metadata, an .alpha) and a valid ComfyUI one (fused qkv), as
    /// bytes.</summary>
    (byte[] diffusers, byte[] comfy) BaseLoras(string dir)
    {
        var d = Path.Combine(dir, "base-d.safetensors");
        using (var a = Randn(2, 8)) using (var b = Randn(8, 2))
        using (var k = Randn(2, 8)) using (var kb = Randn(8, 2))
        using (var alpha = tensor(2f))
            SafetensorsWriter.Write(d, new Dictionary<string, Tensor>
            {
                [Q + ".lora_A.weight"] = a,
                [Q + ".lora_B.weight"] = b,
                [Q + ".alpha"] = alpha,
                ["transformer.transformer_blocks.0.attn.to_k.lora_A.weight"] = k,
                ["transformer.transformer_blocks.0.attn.to_k.lora_B.weight"] = kb,
            }, new Dictionary<string, string>
            {
                ["lora_adapter_metadata"] = "{\"transformer.r\": 2, \"transformer.lora_alpha\": 4, " +
                    "\"transformer.rank_pattern\": {\"to_k\": 2}, \"transformer.alpha_pattern\": {}}",
                ["format"] = "pt",
            });
        var c = Path.Combine(dir, "base-c.safetensors");
        using (var a = Randn(6, 64)) using (var b = Randn(192, 6))
            SafetensorsWriter.Write(c, new Dictionary<string, Tensor>
            {
                ["diffusion_model.double_blocks.0.img_attn.qkv.lora_A.weight"] = a,
                ["diffusion_model.double_blocks.0.img_attn.qkv.lora_B.weight"] = b,
            });
        return (File.ReadAllBytes(d), File.ReadAllBytes(c));
    }

    const string InsertedChars = "{}[]\",:\\x\u00e9 0-";

    static byte[] MutateSafetensors(byte[] file, Random rng)
    {
        long headerLen = BitConverter.ToInt64(file, 0);
        var header = Encoding.UTF8.GetString(file, 8, (int)headerLen);
        var body = file[(8 + (int)headerLen)..];
        switch (rng.Next(7))
        {
            case 0: // flip bytes anywhere
                {
                    var copy = (byte[])file.Clone();
                    for (int k = rng.Next(1, 5); k > 0; k--) copy[rng.Next(copy.Length)] ^= (byte)(1 << rng.Next(8));
                    return copy;
                }
            case 1: return file[..rng.Next(file.Length)]; // truncated
            case 2: // a number in the header replaced
                {
                    var numbers = System.Text.RegularExpressions.Regex.Matches(header, @"-?\d+(\.\d+)?");
                    if (numbers.Count == 0) break;
                    var m = numbers[rng.Next(numbers.Count)];
                    header = header[..m.Index] + HostileNumbers[rng.Next(HostileNumbers.Length)] +
                             header[(m.Index + m.Length)..];
                    break;
                }
            case 3: // a character deleted or inserted
                {
                    int at = rng.Next(header.Length);
                    header = rng.Next(2) == 0 ? header.Remove(at, 1)
                        : header.Insert(at, InsertedChars[rng.Next(InsertedChars.Length)].ToString());
                    break;
                }
            case 4: // the length prefix
                {
                    var copy = (byte[])file.Clone();
                    long[] lengths = [0, -1, 1, headerLen - 1, headerLen + 1, long.MaxValue, 100_000_001, file.Length];
                    BitConverter.GetBytes(lengths[rng.Next(lengths.Length)]).CopyTo(copy, 0);
                    return copy;
                }
            case 5: // the peft config replaced
                {
                    string[] configs =
                    [
                        "{not json", "[1]", "\\\"x\\\"", "{\\\"r\\\": 0}", "{\\\"lora_alpha\\\": -5, \\\"r\\\": 2}",
                        "{\\\"r\\\": 1e400}", "{\\\"rank_pattern\\\": 3}", "{\\\"alpha_pattern\\\": {\\\"a\\\": null}}",
                        "{\\\"r\\\": 2, \\\"lora_alpha\\\": 1e308}", "{\\\"alpha_pattern\\\": {\\\"(\\\": 1}}",
                    ];
                    var m = System.Text.RegularExpressions.Regex.Match(header,
                        "\"lora_adapter_metadata\":\"(?:[^\"\\\\]|\\\\.)*\"");
                    header = m.Success
                        ? header.Replace(m.Value, $"\"lora_adapter_metadata\":\"{configs[rng.Next(configs.Length)]}\"")
                        : header.Insert(1, "\"__metadata__\":{\"lora_adapter_metadata\":\"[1]\"},");
                    break;
                }
            default: // raw bytes (not UTF-8) in the header
                {
                    var bytes = Encoding.UTF8.GetBytes(header);
                    bytes[rng.Next(bytes.Length)] = (byte)rng.Next(0x80, 0x100);
                    return [.. BitConverter.GetBytes((long)bytes.Length), .. bytes, .. body];
                }
        }
        var h = Encoding.UTF8.GetBytes(header);
        return [.. BitConverter.GetBytes((long)h.Length), .. h, .. body];
    }

    [Fact]
    public void SafetensorsHeaderAndBodyMutations()
    {
        TorchRuntime.EnsureLoaded();
        var root = NewRoot();
        using var bystanders = new FuzzCase.Bystanders(root);
        var (diffusers, comfy) = BaseLoras(root);
        var rng = new Random(20261207);
        int refused = 0;
        for (int i = 0; i < 450; i++)
        {
            var dir = CaseFolder(root, "st", i);
            var path = Path.Combine(dir, "in.safetensors");
            File.WriteAllBytes(path, MutateSafetensors(rng.Next(3) == 0 ? comfy : diffusers, rng));
            var r = FuzzCase.Check($"seed 20261207 case {i}: lora info {path}", dir,
                () => FuzzCase.Cli("lora", "info", path), path);
            if (r.Exit == 2) refused++;
            if (i % 5 == 0)
            {
                var to = Path.Combine(dir, "out.safetensors");
                FuzzCase.Check($"case {i}: lora convert", dir,
                    () => FuzzCase.Cli("lora", "convert", path, to, "--to", rng.Next(2) == 0 ? "comfyui" : "diffusers"),
                    path, to);
            }
        }
        output.WriteLine($"450 files, {refused} refused");
        Assert.InRange(refused, 50, 449); // the mutations reach both outcomes
    }

    // ---------------------------------------------------------------- LoRA tensors

    [Fact]
    public void LoraTensorMutations()
    {
        TorchRuntime.EnsureLoaded();
        var root = NewRoot();
        using var bystanders = new FuzzCase.Bystanders(root);
        var rng = new Random(7);
        string[] modules =
        [
            Q, "transformer.single_transformer_blocks.0.attn.to_out", "diffusion_model.double_blocks.0.img_attn.qkv",
            "diffusion_model.single_blocks.1.linear1", "diffusion_model.nonsense.7", "transformer.x",
        ];
        ScalarType[] dtypes =
            [ScalarType.Float32, ScalarType.Float16, ScalarType.BFloat16, ScalarType.Float64, ScalarType.Int64,
             ScalarType.Bool, ScalarType.Byte];
        float[] specials = [float.NaN, float.PositiveInfinity, float.NegativeInfinity, 3e38f, -0f, 1e-45f, 0f];
        for (int i = 0; i < 200; i++)
        {
            var dir = CaseFolder(root, "lt", i);
            var path = Path.Combine(dir, "lora.safetensors");
            var tensors = new Dictionary<string, Tensor>();
            var metadata = new Dictionary<string, string>();
            var module = modules[rng.Next(modules.Length)];
            long r = rng.Next(5) == 0 ? 0 : rng.Next(1, 5), inF = rng.Next(3) == 0 ? rng.Next(0, 3) : 64;
            long outF = module.Contains("qkv") ? 192 : 64;
            Tensor Make(long[] shape)
            {
                var t = Randn(shape);
                if (t.numel() > 0 && rng.Next(4) == 0) t.view(-1)[rng.Next((int)t.numel())] = specials[rng.Next(7)];
                var dtype = rng.Next(4) == 0 ? dtypes[rng.Next(dtypes.Length)] : ScalarType.Float32;
                return dtype == ScalarType.Float32 ? t : t.to(dtype);
            }
            var downShape = rng.Next(8) == 0 ? new[] { r } : new[] { r, inF };
            var upShape = rng.Next(8) == 0 ? new[] { outF, r + 1 } : new[] { outF, r };
            var suffix = rng.Next(2) == 0 ? ("lora_A", "lora_B") : ("lora_down", "lora_up");
            tensors[$"{module}.{suffix.Item1}.weight"] = Make(downShape);
            if (rng.Next(10) > 0) tensors[$"{module}.{suffix.Item2}.weight"] = Make(upShape);
            if (rng.Next(3) == 0)
                tensors[$"{module}.alpha"] = Make(rng.Next(3) == 0 ? [rng.Next(0, 3)] : []);
            if (rng.Next(15) == 0) tensors[$"{module}.dora_scale"] = ones(1);
            if (rng.Next(4) == 0)
                metadata["lora_adapter_metadata"] =
                    $$"""{"r": {{Pick(HostileNumbers, rng)}}, "lora_alpha": {{Pick(HostileNumbers, rng)}}}""";
            SafetensorsWriter.Write(path, tensors, metadata);
            foreach (var t in tensors.Values) t.Dispose();
            var info = FuzzCase.Check($"seed 7 case {i}: lora info {path}", dir,
                () => FuzzCase.Cli("lora", "info", path), path);
            if (info.Exit == 0 && i % 2 == 0)
            {
                var to = Path.Combine(dir, "converted.safetensors");
                var c = FuzzCase.Check($"case {i}: lora convert", dir,
                    () => FuzzCase.Cli("lora", "convert", path, to, "--to", "diffusers"), path, to);
                Assert.True(c.Exit == 0, $"case {i}: a file lora info reads must convert\n{c}");
            }
        }
    }

    // ---------------------------------------------------------------- job YAMLs

    [Fact]
    public void JobYamlMutations()
    {
        TorchRuntime.EnsureLoaded();
        var root = NewRoot();
        var data = Path.Combine(root, "data");
        Directory.Move(TempDataset.Create(count: 2), data);
        var dataBefore = FuzzCase.Snapshot(data);
        using var bystanders = new FuzzCase.Bystanders(root);
        var rng = new Random(11);
        for (int i = 0; i < 250; i++)
        {
            var dir = CaseFolder(root, "job", i);
            var lines = TempDataset.Job(data, Path.Combine(dir, "out"), 2).Split('\n').ToList();
            for (int k = rng.Next(1, 4); k > 0; k--) MutateYaml(lines, rng);
            var path = Path.Combine(dir, "job.yaml");
            File.WriteAllText(path, string.Join('\n', lines));
            FuzzCase.Check($"seed 11 case {i}: {path}\n{string.Join('\n', lines)}", dir, () => FuzzCase.Direct("train",
                () =>
                {
                    var job = JobConfigReader.Read(path);
                    foreach (var d in job.Job.Process.Datasets)
                        if (!d.FolderPath.StartsWith(root, StringComparison.Ordinal)) return; // scans only our data
                    if (job.Job.Process.Datasets.All(d => Directory.Exists(d.FolderPath)))
                        DatasetScanner.Scan(job.Job.Process.Datasets, 16);
                }), path, "config.", data);
        }
        Assert.Equal(dataBefore, FuzzCase.Snapshot(data));
    }

    static void MutateYaml(List<string> lines, Random rng)
    {
        int at = rng.Next(lines.Count);
        var line = lines[at];
        switch (rng.Next(6))
        {
            case 0:
            case 1: // a value replaced
                {
                    int colon = line.IndexOf(": ", StringComparison.Ordinal);
                    if (colon < 0) goto case 3;
                    lines[at] = line[..(colon + 2)] + HostileScalars[rng.Next(HostileScalars.Length)];
                    break;
                }
            case 2: lines.RemoveAt(at); break;
            case 3: lines.Insert(at, line); break; // a duplicated key
            case 4: // indentation changed
                lines[at] = rng.Next(2) == 0 ? "  " + line : line.TrimStart();
                break;
            default: // a character inserted
                const string chars = "{}[]:-#&*!|>'\"%@`\t\u00e9";
                lines[at] = line.Insert(rng.Next(line.Length + 1), chars[rng.Next(chars.Length)].ToString());
                break;
        }
    }

    // ---------------------------------------------------------------- dataset folders

    [Fact]
    public void DatasetFolderMutations()
    {
        var root = NewRoot();
        using var bystanders = new FuzzCase.Bystanders(root);
        var rng = new Random(13);
        var png = Path.Combine(root, "base.png");
        TempDataset.WritePng(png, 32, 32, SKColors.Red);
        var pngBytes = File.ReadAllBytes(png);
        for (int i = 0; i < 200; i++)
        {
            var dir = CaseFolder(root, "ds", i);
            for (int k = 0; k < 3; k++)
            {
                File.WriteAllBytes(Path.Combine(dir, $"img{k}.png"), pngBytes);
                File.WriteAllText(Path.Combine(dir, $"img{k}.txt"), $"a [trigger] square {k}");
            }
            for (int k = rng.Next(1, 4); k > 0; k--) DamageDataset(dir, pngBytes, rng);
            var config = new DatasetConfig
            {
                FolderPath = dir,
                OnError = rng.Next(3) == 0 ? DataErrorPolicy.Fail : DataErrorPolicy.Skip,
                CaptionExt = rng.Next(10) == 0 ? "md" : "txt",
                Buckets = rng.Next(2) == 0,
                Resolution = [16 * rng.Next(1, 5)],
            };
            FuzzCase.Check($"seed 13 case {i}: {dir}", dir,
                () => FuzzCase.Direct("train", () => DatasetScanner.Scan([config], 16)), dir);
        }
    }

    static void DamageDataset(string dir, byte[] png, Random rng)
    {
        int k = rng.Next(3);
        var image = Path.Combine(dir, $"img{k}.png");
        var caption = Path.Combine(dir, $"img{k}.txt");
        foreach (var p in new[] { image, caption }) // undo an earlier link or folder, so files can be written
            if (new FileInfo(p).LinkTarget is not null) File.Delete(p);
            else if (Directory.Exists(p)) Directory.Delete(p, true);
        void Replace(string path, Action make) { File.Delete(path); make(); }
        switch (rng.Next(12))
        {
            case 0: File.WriteAllBytes(image, png[..rng.Next(png.Length)]); break;
            case 1: File.WriteAllBytes(image, []); break;
            case 2:
                {
                    var copy = (byte[])png.Clone();
                    for (int n = 0; n < 8; n++) copy[rng.Next(copy.Length)] = (byte)rng.Next(256);
                    File.WriteAllBytes(image, copy);
                    break;
                }
            case 3: // a header claiming 30000x30000 (width and height at bytes 16..23)
                {
                    var copy = (byte[])png.Clone();
                    byte[] big = [0, 0, 0x75, 0x30];
                    big.CopyTo(copy, 16); big.CopyTo(copy, 20);
                    File.WriteAllBytes(image, copy);
                    break;
                }
            case 4: Replace(image, () => File.CreateSymbolicLink(image, "/dev/zero")); break;
            case 5: Replace(caption, () => File.CreateSymbolicLink(caption, "/dev/zero")); break;
            case 6:
                Replace(caption, () =>
                {
                    using var p = Process.Start("mkfifo", caption);
                    p.WaitForExit();
                });
                break;
            case 7: Replace(caption, () => Directory.CreateDirectory(caption)); break;
            case 8: Replace(caption, () => File.WriteAllBytes(caption, [0xFF, 0xFE, 0x00, 0xC3, 0x28, 0x0A])); break;
            case 9:
                Replace(caption, () =>
                {
                    using var f = File.Create(caption);
                    f.SetLength(DatasetScanner.MaxCaptionBytes + 1);
                });
                break;
            case 10: Replace(image, () => File.CreateSymbolicLink(image, image)); break; // a link loop
            default: Directory.CreateDirectory(Path.Combine(dir, "folder.png")); break;
        }
    }

    // ---------------------------------------------------------------- run folders

    const string Name = "fuzz_lora";

    /// <summary>A state as the trainer writes it (the loop's and the task's values), with small tensors.</summary>
    void WriteCheckpoint(string run, int step, bool final)
    {
        var stem = final ? Name : $"{Name}_{step:D9}";
        using var state = new TrainingState();
        state.Put("step", step);
        state.Put("epoch", 0);
        state.Put("param.count", 1);
        using (var p = Randn(2, 8)) state.PutTensor("param.0", p);
        state.Put("task.rng", new ulong[] { 1, 2, 3, (ulong)step });
        state.Put("task.data_order", new BatchOrder.Position(0, [[0, 1], [2, 3]]));
        state.Put("task.network", "lora r4");
        TrainingStateFile.Write(Path.Combine(run, stem + TrainingStateFile.Extension), state);
        using var a = Randn(4, 8);
        SafetensorsWriter.Write(Path.Combine(run, stem + ".safetensors"), new Dictionary<string, Tensor>
        {
            [Q + ".lora_A.weight"] = a,
        });
    }

    [Fact]
    public void RunFolderMutations()
    {
        TorchRuntime.EnsureLoaded();
        var root = NewRoot();
        using var bystanders = new FuzzCase.Bystanders(root);
        var rng = new Random(17);
        var items = Enumerable.Range(0, 4).Select(k => new DatasetItem($"img{k}.png", "", 32, 32, false, false, 0,
            null)).ToList();
        for (int i = 0; i < 200; i++)
        {
            var dir = CaseFolder(root, "run", i);
            var run = Path.Combine(dir, Name);
            Directory.CreateDirectory(run);
            WriteCheckpoint(run, 2, final: false);
            WriteCheckpoint(run, 4, final: rng.Next(2) == 0);
            for (int k = rng.Next(1, 4); k > 0; k--) DamageRun(run, rng);
            var checkpoints = FuzzCase.Snapshot(run).Where(kv => kv.Key.EndsWith(".safetensors")
                && !kv.Key.Contains(".tmp")).Select(kv => kv.Value).ToList();
            FuzzCase.Check($"seed 17 case {i}: {run}", dir, () => FuzzCase.Direct("train", () =>
            {
                RunFolder.RemoveStaleTempFiles(run, Name);
                RunFolder.CheckOutputs(run, Name);
                var skipped = new List<RunFolder.Skipped>();
                var latest = RunFolder.Latest(run, Name, skipped);
                if (skipped.Count > 0)
                    RunFolder.MoveAside(run, skipped
                        .SelectMany(s => new[] { s.Path, TrainingStateFile.LoraPathFor(s.Path) }).ToList());
                if (latest is null) return;
                using var state = TrainingStateFile.Read(latest.Value.Path);
                try
                {
                    _ = state.Get<ulong[]>("task.rng");
                    BatchRegrouping.Regroup(state.Get<BatchOrder.Position>("task.data_order"), items, 2);
                }
                catch (InvalidDataException e) { throw new InvalidDataException($"{latest.Value.Path}: {e.Message}"); }
            }), run);
            var after = FuzzCase.Snapshot(run).Values.ToHashSet();
            foreach (var c in checkpoints)
                Assert.True(after.Contains(c), $"case {i}: a checkpoint was overwritten or deleted");
        }
    }

    static void DamageRun(string run, Random rng)
    {
        var states = Directory.GetFiles(run, "*" + TrainingStateFile.Extension);
        var state = states.Length > 0 ? states[rng.Next(states.Length)] : null;
        switch (rng.Next(10))
        {
            case 0 when state is not null:
                {
                    var bytes = File.ReadAllBytes(state);
                    File.WriteAllBytes(state, bytes[..rng.Next(bytes.Length)]);
                    break;
                }
            case 1 when state is not null:
                {
                    var bytes = File.ReadAllBytes(state);
                    bytes[rng.Next(bytes.Length)] ^= (byte)(1 << rng.Next(8));
                    File.WriteAllBytes(state, bytes);
                    break;
                }
            case 2 when state is not null: // a value replaced, the file rewritten with a valid checksum
            case 3 when state is not null:
                {
                    string[] keys = ["step", "task.rng", "task.data_order", "epoch", "param.count"];
                    string[] values =
                    [
                        "{not json", "[1, 2]", "\"x\"", "-1", "[0, 0, 0, 0]", """{"Epoch": 0, "Pending": [[99]]}""",
                        """{"Epoch": 0, "Pending": [[-5, 0]]}""", """{"Epoch": 0, "Pending": null}""", "null",
                        "99999999999", "1e309", """{"Epoch": 0, "Pending": [[0], [1, 2, 3]]}""",
                    ];
                    SafetensorsFile file;
                    try { file = SafetensorsFile.Open(state); }
                    catch (SafetensorsException) { break; } // already damaged by an earlier mutation
                    var meta = file.Metadata.ToDictionary(kv => kv.Key, kv => kv.Value);
                    meta[keys[rng.Next(keys.Length)]] = values[rng.Next(values.Length)];
                    meta.Remove(TrainingStateFile.ChecksumKey);
                    var tensors = file.Keys.ToDictionary(k => k, k => file.Read(k));
                    file.Dispose();
                    SafetensorsWriter.Write(state, tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal), meta);
                    foreach (var t in tensors.Values) t.Dispose();
                    break;
                }
            case 4 when state is not null: File.Delete(state); break; // a LoRA without its state
            case 5:
                File.WriteAllText(Path.Combine(run, $".{Name}.safetensors.{Guid.NewGuid():N}.tmp"), "half");
                break;
            case 6: File.WriteAllText(Path.Combine(run, "run.sqlite"), "not a database"); break;
            case 7: Directory.CreateDirectory(Path.Combine(run, "eval.json")); break;
            case 8: File.WriteAllText(Path.Combine(run, "samples"), "a file where a folder goes"); break;
            default: Directory.CreateDirectory(Path.Combine(run, RunFolder.PreviousPrefix + "20260101-000000")); break;
        }
    }
}
