using System.Text.RegularExpressions;
using Flux2.Cli;
using Flux2.IO;
using Flux2.IO.Hub;
using Flux2.Models.TextEncoder;
using Flux2.Native;
using Flux2.Pipeline;
using SkiaSharp;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Flux2.Tests.Cli;

/// <summary>Runs <see cref="Flux2Cli.Run"/> in-process and captures what it prints.</summary>
static class CliRunner
{
    public sealed record Result(int Exit, string Out, string Err)
    {
        public override string ToString() => $"exit {Exit}\n--- stdout ---\n{Out}\n--- stderr ---\n{Err}";
    }

    public static Result Run(params string[] argv)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = Flux2Cli.Run(argv, o, e);
        return new Result(code, o.ToString(), e.ToString());
    }

    /// <summary>Exit 2, a message in the error output, and no stack trace anywhere.</summary>
    public static Result AssertUserError(Result r, params string[] mustContain)
    {
        Assert.True(r.Exit == 2, r.ToString());
        Assert.False(string.IsNullOrWhiteSpace(r.Err), r.ToString());
        Assert.DoesNotContain("   at ", r.Err);
        Assert.DoesNotContain("   at ", r.Out);
        foreach (var s in mustContain) Assert.True(r.Err.Contains(s, StringComparison.OrdinalIgnoreCase),
            $"'{s}' not in:\n{r}");
        return r;
    }
}

/// <summary><c>./flux2</c> dispatch, help, verify-reference and argument errors.</summary>
public class CliTests(ITestOutputHelper output)
{
    // ---------------------------------------------------------------- help / dispatch

    [Fact]
    public void HelpListsTheCommands()
    {
        var r = CliRunner.Run("help");
        Assert.True(r.Exit == 0, r.ToString());
        foreach (var c in new[] { "generate", "verify-reference", "download", "bench" }) Assert.Contains(c, r.Out);
        Assert.Contains("./flux2 help <command>", r.Out);
    }

    [Fact]
    public void HelpGeneratePrintsTheGenerateOptions()
    {
        var r = CliRunner.Run("help", "generate");
        Assert.True(r.Exit == 0, r.ToString());
        foreach (var opt in new[] { "--prompt", "--model", "--out", "--width", "--height", "--steps", "--guidance",
            "--seed", "--lora", "--device", "--dtype" })
            Assert.Contains(opt, r.Out);
    }

    [Fact]
    public void NoArgumentsPrintsUsageAndExits2()
    {
        var r = CliRunner.Run();
        Assert.Equal(2, r.Exit);
        Assert.Contains("generate", r.Out);
    }

    [Fact]
    public void UnknownCommandExits2AndListsTheCommands()
    {
        var r = CliRunner.AssertUserError(CliRunner.Run("frobnicate"), "frobnicate");
        foreach (var c in new[] { "generate", "verify-reference", "download", "bench" }) Assert.Contains(c, r.Err);
    }

    [Theory]
    [InlineData(typeof(ArgumentException))]
    [InlineData(typeof(KeyNotFoundException))]
    [InlineData(typeof(NotSupportedException))]
    [InlineData(typeof(InvalidOperationException))]
    public void AnExceptionThatIsNotAUserErrorIsReportedAsABugWithItsStackTrace(Type type)
    {
        Exception thrown;
        try { throw (Exception)Activator.CreateInstance(type, "internal detail")!; }
        catch (Exception e) { thrown = e; }
        var err = new StringWriter();
        Assert.Equal(1, Flux2Cli.Fail("train", thrown, err));
        Assert.Contains("this is a bug, please report it", err.ToString());
        Assert.Contains("internal detail", err.ToString());
        Assert.Contains("   at ", err.ToString());
    }

    [Fact]
    public void AUserErrorIsOneLineWithoutAStackTrace()
    {
        Exception thrown;
        try { throw new UserError("config.name: use my_lora"); }
        catch (Exception e) { thrown = e; }
        var err = new StringWriter();
        Assert.Equal(2, Flux2Cli.Fail("train", thrown, err));
        Assert.Equal("flux2 train: config.name: use my_lora", err.ToString().Trim());
    }

    // ---------------------------------------------------------------- verify-reference

    static readonly Regex Summary = new(@"^(\d+) of (\d+) checks passed");

    /// <summary>Check lines of a verify-reference report: everything between the header and the summary.</summary>
    static (List<string> checks, int passed, int total) ParseReport(string text)
    {
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToList();
        int header = lines.FindIndex(l => l.StartsWith("check ") && l.TrimEnd().EndsWith("result"));
        int summary = lines.FindIndex(l => Summary.IsMatch(l));
        Assert.True(header >= 0 && summary > header, "no header/summary in:\n" + text);
        Assert.Equal(lines.Count - 1, summary); // the summary is the last line
        var m = Summary.Match(lines[summary]);
        return (lines.GetRange(header + 1, summary - header - 1), int.Parse(m.Groups[1].Value),
            int.Parse(m.Groups[2].Value));
    }

    static string Verdict(string checkLine) => Regex.Match(checkLine, @"\s(PASS|FAIL)(\s|$)").Groups[1].Value;
    static string CheckName(string checkLine) => checkLine.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];

    [Fact]
    public void VerifyReferenceOnTheFixturePassesEveryCheck()
    {
        var r = CliRunner.Run("verify-reference", TestPaths.Tiny);
        output.WriteLine(r.ToString());
        Assert.True(r.Exit == 0, r.ToString());
        Assert.Equal("", r.Err);
        var (checks, passed, total) = ParseReport(r.Out);
        Assert.True(checks.Count >= 20, $"only {checks.Count} check lines");
        Assert.All(checks, l => Assert.Equal("PASS", Verdict(l)));
        Assert.Equal(checks.Count, total);
        Assert.Equal(total, passed);
        Assert.Contains($"{total} of {total} checks passed", r.Out);
        Assert.Equal(checks.Count, checks.Select(CheckName).Distinct().Count()); // one line per check
        foreach (var name in new[] { "transformer.output", "transformer.output_with_lora", "vae.decoded",
            "pipeline.images" })
            Assert.Contains(name, checks.Select(CheckName));
    }

    /// <summary>A copy of <paramref name="fixture"/> (links to its entries) whose <paramref name="file"/> has
    /// <paramref name="key"/> shifted by 1e-2, far above the 1e-4 tolerance.</summary>
    static string PerturbedCopy(string fixture, string file, string key)
    {
        TorchRuntime.EnsureLoaded();
        var dir = TestPaths.TempDir();
        foreach (var entry in Directory.EnumerateFileSystemEntries(fixture))
        {
            var name = Path.GetFileName(entry);
            if (name == file) continue;
            var link = Path.Combine(dir, name);
            if (Directory.Exists(entry)) Directory.CreateSymbolicLink(link, entry);
            else File.CreateSymbolicLink(link, entry);
        }
        using var io = SafetensorsSource.OpenFile(Path.Combine(fixture, file));
        var tensors = io.Keys.OrderBy(k => k).ToDictionary(k => k, k => io.Read(k));
        Assert.Contains(key, tensors.Keys);
        var original = tensors[key];
        tensors[key] = original + 1e-2f;
        SafetensorsWriter.Write(Path.Combine(dir, file), tensors);
        original.Dispose();
        foreach (var t in tensors.Values) t.Dispose();
        return dir;
    }

    [Fact]
    public void VerifyReferenceWithAPerturbedTransformerOutputFailsThatCheckOnly()
    {
        var dir = PerturbedCopy(TestPaths.Tiny, "transformer_io.safetensors", "output");
        var r = CliRunner.Run("verify-reference", dir);
        output.WriteLine(r.ToString());
        Assert.True(r.Exit == 1, r.ToString());
        Assert.DoesNotContain("   at ", r.Out + r.Err);
        var (checks, passed, total) = ParseReport(r.Out);
        Assert.True(checks.Count >= 20, $"only {checks.Count} check lines");
        Assert.Equal(checks.Count, total);
        Assert.Equal(total - 1, passed);
        foreach (var line in checks)
            Assert.Equal(CheckName(line) == "transformer.output" ? "FAIL" : "PASS", Verdict(line));
        Assert.Single(checks, l => CheckName(l) == "transformer.output");
        // the reported error is the perturbation, not a load failure
        var err = double.Parse(checks.Single(l => CheckName(l) == "transformer.output")
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1],
                               System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(err, 0.9e-2, 1.1e-2);
    }

    [Fact]
    public void VerifyReferenceOnTheKleinFixturePassesEveryCheck()
    {
        var r = CliRunner.Run("verify-reference", TestPaths.Klein);
        output.WriteLine(r.ToString());
        Assert.True(r.Exit == 0, r.ToString());
        Assert.Equal("", r.Err);
        var (checks, passed, total) = ParseReport(r.Out);
        Assert.All(checks, l => Assert.Equal("PASS", Verdict(l)));
        Assert.Equal((checks.Count, total), (total, passed));
        Assert.Equal(checks.Count, checks.Select(CheckName).Distinct().Count());
        // transformer ± LoRA (guidance None), VAE, Qwen3 prompt embeds, the CFG pipeline: nothing skipped
        Assert.Equal(new[] { "pipeline.images", "text_encoder.prompt_embeds", "transformer.output",
            "transformer.output_with_lora", "vae.decoded", "vae.latent_mean", "vae.latent_patchified_normalized",
            "vae.latent_std" }, checks.Select(CheckName).Order());
    }

    [Theory]
    [InlineData("transformer_io.safetensors", "output_with_lora", "transformer.output_with_lora")]
    [InlineData("text_encoder_io.safetensors", "prompt_embeds", "text_encoder.prompt_embeds")]
    [InlineData("pipeline_io.safetensors", "images", "pipeline.images")]
    public void VerifyReferenceWithAPerturbedKleinOutputFailsThatCheckOnly(string file, string key, string check)
    {
        var r = CliRunner.Run("verify-reference", PerturbedCopy(TestPaths.Klein, file, key));
        output.WriteLine(r.ToString());
        Assert.True(r.Exit == 1, r.ToString());
        var (checks, passed, total) = ParseReport(r.Out);
        Assert.Equal(total - 1, passed);
        foreach (var line in checks) Assert.Equal(CheckName(line) == check ? "FAIL" : "PASS", Verdict(line));
        var err = double.Parse(checks.Single(l => CheckName(l) == check)
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(err, 0.9e-2, 1.1e-2); // the perturbation, not a load failure
    }

    [Fact]
    public void VerifyReferenceOnAMissingFolderIsAUserError()
    {
        var missing = Path.Combine(TestPaths.TempDir(), "no-such-reference");
        CliRunner.AssertUserError(CliRunner.Run("verify-reference", missing), missing);
    }

    [Fact]
    public void VerifyReferenceOnAFolderWithoutFixtureJsonIsAUserError()
    {
        var dir = TestPaths.TempDir();
        Directory.CreateSymbolicLink(Path.Combine(dir, "transformer"), Path.Combine(TestPaths.Tiny, "transformer"));
        CliRunner.AssertUserError(CliRunner.Run("verify-reference", dir), dir, "fixture.json");
    }

    [Fact]
    public void VerifyReferenceWithoutAFolderIsAUserError() =>
        CliRunner.AssertUserError(CliRunner.Run("verify-reference"), "reference folder");

    // ---------------------------------------------------------------- generate: user errors

    [Fact]
    public void UnknownOptionIsNamed()
    {
        var out_ = Path.Combine(TestPaths.TempDir(), "a.png");
        CliRunner.AssertUserError(CliRunner.Run("generate", "--prompt", "x", "--bogus", "1", "--out", out_), "--bogus");
        Assert.False(File.Exists(out_));
    }

    [Fact]
    public void MissingPromptIsAUserError() =>
        CliRunner.AssertUserError(CliRunner.Run("generate", "--model", "tiny-random", "--steps", "1"), "--prompt");

    [Fact]
    public void PromptWithoutValueIsAUserError() =>
        CliRunner.AssertUserError(CliRunner.Run("generate", "--prompt"), "--prompt");

    [Fact]
    public void NonIntegerWidthIsAUserError() =>
        CliRunner.AssertUserError(CliRunner.Run("generate", "--prompt", "x", "--width", "wide"), "--width", "wide");

    [Fact]
    public void WidthNotAMultipleOfPixelsPerTokenIsAUserError()
    {
        TorchRuntime.EnsureLoaded();
        int f;
        using (var m = Flux2Models.CreateTinyRandom(0)) f = m.Pipeline.PixelsPerToken;
        Assert.True(f >= 2);
        int width = 12 * f + 1;
        var out_ = Path.Combine(TestPaths.TempDir(), "a.png");
        CliRunner.AssertUserError(CliRunner.Run("generate", "--prompt", "x", "--model", "tiny-random", "--width",
                                                width.ToString(), "--height", (8 * f).ToString(), "--steps", "1",
                                                "--out", out_),
                                  width.ToString(), $"multiples of {f}");
        Assert.False(File.Exists(out_));
    }

    [Fact]
    public void PickleLoraIsRefused()
    {
        var dir = TestPaths.TempDir();
        var pt = Path.Combine(dir, "some.pt");
        File.WriteAllBytes(pt, Array.Empty<byte>());
        var r = CliRunner.AssertUserError(CliRunner.Run("generate", "--prompt", "x", "--width", "32", "--height", "32",
                                                        "--steps", "1", "--lora", pt, "--out",
                                                        Path.Combine(dir, "a.png")),
                                          "some.pt", "pickle", "arbitrary code");
        Assert.False(File.Exists(Path.Combine(dir, "a.png")));
    }

    [Fact]
    public void MissingLoraFileIsNamed()
    {
        var dir = TestPaths.TempDir();
        var missing = Path.Combine(dir, "missing.safetensors");
        CliRunner.AssertUserError(CliRunner.Run("generate", "--prompt", "x", "--width", "32", "--height", "32",
                                                "--steps", "1", "--lora", missing, "--out",
                                                Path.Combine(dir, "a.png")), missing);
        Assert.False(File.Exists(Path.Combine(dir, "a.png")));
    }

    [Fact]
    public void ModelRepoNotInTheCacheExplainsHowToDownloadIt()
    {
        var r = CliRunner.AssertUserError(CliRunner.Run("generate", "--prompt", "x", "--model", "not/existing-repo",
                                                        "--steps", "1"),
                                          "not/existing-repo", "not in the Hugging Face cache",
                                          "./flux2 download not/existing-repo");
        output.WriteLine(r.Err);
    }

    [Fact]
    public void ModelThatIsNeitherFolderNorRepoIdIsAUserError()
    {
        var missing = Path.Combine(TestPaths.TempDir(), "no", "such", "model");
        CliRunner.AssertUserError(CliRunner.Run("generate", "--prompt", "x", "--model", missing, "--steps", "1"),
            missing, "tiny-random");
    }

    [Fact]
    public void BadDtypeIsAUserError() =>
        CliRunner.AssertUserError(CliRunner.Run("generate", "--prompt", "x", "--dtype", "fp8"), "--dtype", "fp8");

    [Fact]
    public void ZeroStepsIsAUserError() =>
        CliRunner.AssertUserError(CliRunner.Run("generate", "--prompt", "x", "--steps", "0"), "--steps");

    // ---------------------------------------------------------------- loading a repo id from an HF cache

    const string FakeCommit = "0123456789abcdef0123456789abcdef01234567";
    static readonly string[] FixtureComponents = { "transformer", "vae", "text_encoder", "scheduler" };

    /// <summary>A temp HF cache holding <c>test/flux2-tiny</c>: refs/main → a fake commit whose snapshot links to the
    /// fixture's component folders, plus a byte-level tokenizer (the fixture has none).</summary>
    static (HfCache cache, string snapshot) BuildCache()
    {
        var cache = new HfCache(TestPaths.TempDir());
        const string repo = "test/flux2-tiny";
        var repoDir = Path.Combine(cache.Root, "models--test--flux2-tiny");
        Assert.Equal(repoDir, cache.RepoFolder(repo));
        Directory.CreateDirectory(Path.Combine(repoDir, "refs"));
        File.WriteAllText(Path.Combine(repoDir, "refs", "main"), FakeCommit);
        var snapshot = Path.Combine(repoDir, "snapshots", FakeCommit);
        Directory.CreateDirectory(snapshot);
        foreach (var c in FixtureComponents)
            Directory.CreateSymbolicLink(Path.Combine(snapshot, c), Path.Combine(TestPaths.Tiny, c));
        Directory.CreateDirectory(Path.Combine(snapshot, "tokenizer"));
        File.WriteAllText(Path.Combine(snapshot, "tokenizer", "tokenizer.json"),
            ByteLevelBpeTokenizer.ByteOnlyTokenizerJson());
        return (cache, snapshot);
    }

    /// <summary>As <see cref="BuildCache"/>, but laid out exactly like huggingface_hub does: every snapshot file is a
    /// relative symlink <c>../../blobs/{etag}</c> (here the blob itself links to the fixture file, so nothing is
    /// copied).</summary>
    static (HfCache cache, string snapshot) BuildBlobCache()
    {
        var cache = new HfCache(TestPaths.TempDir());
        const string repo = "test/flux2-tiny";
        var snapshot = cache.SnapshotFolder(repo, FakeCommit);
        var blobs = Path.Combine(cache.RepoFolder(repo), "blobs");
        Directory.CreateDirectory(blobs);
        int n = 0;
        void Add(string relative, string? fixtureFile, string? content = null)
        {
            var etag = $"{n++:x4}" + new string('e', 36);
            var blob = Path.Combine(blobs, etag);
            if (fixtureFile != null) File.CreateSymbolicLink(blob, fixtureFile);
            else File.WriteAllText(blob, content);
            var pointer = Path.Combine(snapshot, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(pointer)!);
            File.CreateSymbolicLink(pointer, Path.GetRelativePath(Path.GetDirectoryName(pointer)!, blob));
        }
        foreach (var c in FixtureComponents)
            foreach (var f in Directory.EnumerateFiles(Path.Combine(TestPaths.Tiny, c)))
                Add(Path.Combine(c, Path.GetFileName(f)), f);
        Add(Path.Combine("tokenizer", "tokenizer.json"), null, ByteLevelBpeTokenizer.ByteOnlyTokenizerJson());
        Directory.CreateDirectory(Path.Combine(cache.RepoFolder(repo), "refs"));
        File.WriteAllText(cache.RefPath(repo, "main"), FakeCommit);
        return (cache, snapshot);
    }

    /// <summary>Regression: SafetensorsFile took the file size from <c>FileInfo.Length</c>, which for a symlink is the
    /// length of the link's target path, so every safetensors file of a real HF cache snapshot was
    /// "truncated".</summary>
    [Fact]
    public void RepoIdInACacheWhoseSnapshotFilesLinkToBlobsLoads()
    {
        TorchRuntime.EnsureLoaded();
        var (cache, snapshot) = BuildBlobCache();
        var weights = Path.Combine(snapshot, "transformer", "diffusion_pytorch_model.safetensors");
        Assert.NotNull(new FileInfo(weights).LinkTarget);
        using var reference = SafetensorsSource.OpenFile(Path.Combine(TestPaths.Tiny, "transformer_io.safetensors"));
        using var expected = reference.Read("output");
        using var models = Flux2Models.Load("test/flux2-tiny", cache: cache);
        Assert.Equal(snapshot, models.Origin);
        using var outp = RunTransformerOnFixture(models);
        var err = MaxAbs(outp, expected);
        output.WriteLine($"blob-linked cache: max abs error {err:E3}");
        Assert.True(err <= 1e-4, $"max abs error {err}");
    }

    static Tensor RunTransformerOnFixture(Flux2Models models)
    {
        using var io = SafetensorsSource.OpenFile(Path.Combine(TestPaths.Tiny, "transformer_io.safetensors"));
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        return models.Transformer.Forward(io.Read("hidden_states"), io.Read("encoder_hidden_states"),
                                          io.Read("timestep"), io.Read("guidance"), io.Read("img_ids"),
                                          io.Read("txt_ids"))
                                              .MoveToOuterDisposeScope();
    }

    static double MaxAbs(Tensor a, Tensor b)
    {
        using var d = (a.to(ScalarType.Float64) - b.to(ScalarType.Float64)).abs().max();
        return d.item<double>();
    }

    [Fact]
    public void RepoIdInTheCacheLoadsThroughTheSameLoadersAsAFolder()
    {
        TorchRuntime.EnsureLoaded();
        var (cache, snapshot) = BuildCache();
        using var reference = SafetensorsSource.OpenFile(Path.Combine(TestPaths.Tiny, "transformer_io.safetensors"));
        using var expected = reference.Read("output");

        var log = new List<string>();
        using var fromCache = Flux2Models.Load("test/flux2-tiny", log: log.Add, cache: cache);
        Assert.Equal(snapshot, fromCache.Origin);
        Assert.Contains(log, l => l.Contains(snapshot));
        using var outCache = RunTransformerOnFixture(fromCache);
        var errCache = MaxAbs(outCache, expected);
        output.WriteLine($"cache: max abs error {errCache:E3}");
        Assert.True(errCache <= 1e-4, $"max abs error {errCache}");

        using var fromFolder = Flux2Models.Load(snapshot);
        Assert.Equal(snapshot, fromFolder.Origin);
        using var outFolder = RunTransformerOnFixture(fromFolder);
        Assert.True(MaxAbs(outFolder, expected) <= 1e-4);
        Assert.Equal(0.0, MaxAbs(outFolder, outCache)); // same files, same loaders: bit-identical

        // the whole prompt path works on what was loaded (tokenizer from the snapshot, text encoder from the fixture)
        using var embeds = fromCache.EncodePrompts(new[] { "a red circle" });
        Assert.Equal(fromCache.Transformer.Config.JointAttentionDim, embeds.shape[^1]);
    }

    [Fact]
    public void RepoIdMissingFromAGivenCacheNamesThatCache()
    {
        var cache = new HfCache(TestPaths.TempDir());
        var e = Assert.Throws<HubCacheMissException>(() => Flux2Models.Load("test/flux2-tiny", cache: cache));
        Assert.Contains(cache.Root, e.Message);
        Assert.Contains("./flux2 download test/flux2-tiny", e.Message);
    }

    [Fact]
    public void GenerateWithAFixtureSnapshotFolderWritesAnImage()
    {
        var (_, snapshot) = BuildCache();
        var png = Path.Combine(TestPaths.TempDir(), "out", "fixture.png");
        var r = CliRunner.Run("generate", "--prompt", "a red circle", "--model", snapshot, "--width", "32", "--height",
                              "16", "--steps", "2", "--out", png, "--device", "cpu");
        output.WriteLine(r.ToString());
        Assert.True(r.Exit == 0, r.ToString());
        using var bmp = SKBitmap.Decode(png);
        Assert.NotNull(bmp);
        Assert.Equal((32, 16), (bmp.Width, bmp.Height));
    }
}

/// <summary>Files from <c>generate</c> must depend only on the arguments. tiny-random's VAE convolutions take
/// TorchSharp's process-wide default generator at construction (after <c>manual_seed</c>), so another test drawing
/// from it on a parallel thread could change the weights between two runs: these run alone.</summary>
[CollectionDefinition(nameof(CliGenerateCollection), DisableParallelization = true)]
public sealed class CliGenerateCollection;

[Collection(nameof(CliGenerateCollection))]
public class CliGenerateTests(ITestOutputHelper output)
{
    static readonly byte[] PngSignature = { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A };

    byte[] Generate(string path, int seed)
    {
        var r = CliRunner.Run("generate", "--prompt", "x", "--model", "tiny-random", "--out", path,
                        "--width", "48", "--height", "32", "--steps", "2", "--seed", seed.ToString());
        output.WriteLine(r.ToString());
        Assert.True(r.Exit == 0, r.ToString());
        Assert.Equal("", r.Err);
        Assert.Contains("wrote " + path, r.Out);
        Assert.True(File.Exists(path));
        return File.ReadAllBytes(path);
    }

    [Fact]
    public void TinyRandomWritesAPngOfTheRequestedSize()
    {
        var dir = TestPaths.TempDir();
        var bytes = Generate(Path.Combine(dir, "a.png"), seed: 0);
        Assert.True(bytes.Length > PngSignature.Length);
        Assert.Equal(PngSignature, bytes[..PngSignature.Length]);
        using var bmp = SKBitmap.Decode(bytes);
        Assert.NotNull(bmp);
        Assert.Equal(48, bmp.Width);
        Assert.Equal(32, bmp.Height);
        Assert.True(bmp.Pixels.Distinct().Count() > 10, "the image is (nearly) one flat colour"); // not black/saturated
        Assert.Empty(Directory.GetFiles(dir, ".*.tmp")); // the temporary file was renamed into place
    }

    /// <summary>Regression: TorchSharp's GroupNorm starts with uninitialized weight/bias, and tiny-random kept them, so
    /// its VAE had garbage norms (up to 1e38) that changed from run to run: images were black and not
    /// reproducible.</summary>
    [Fact]
    public void TinyRandomIsReproducibleAndItsNormsStartAtOneAndZero()
    {
        TorchRuntime.EnsureLoaded();
        using var a = Flux2Models.CreateTinyRandom(0);
        using var b = Flux2Models.CreateTinyRandom(0);
        var norms = a.Vae.named_modules().Where(m => m.module is TorchSharp.Modules.GroupNorm).ToList();
        Assert.NotEmpty(norms);
        foreach (var (name, m) in norms)
        {
            var gn = (TorchSharp.Modules.GroupNorm)m;
            Assert.True(gn.weight!.eq(1).all().item<bool>(), $"{name}.weight");
            Assert.True(gn.bias!.eq(0).all().item<bool>(), $"{name}.bias");
        }
        foreach (var (x, y) in new (nn.Module, nn.Module)[] { (a.Transformer, b.Transformer), (a.Vae, b.Vae),
            (a.TextEncoder.Model, b.TextEncoder.Model) })
        {
            var sa = x.state_dict();
            var sb = y.state_dict();
            Assert.Equal(sa.Keys.OrderBy(k => k), sb.Keys.OrderBy(k => k));
            foreach (var k in sa.Keys) Assert.True(sa[k].eq(sb[k]).all().item<bool>(), k);
        }
    }

    [Fact]
    public void SameSeedGivesIdenticalFilesAndAnotherSeedADifferentOne()
    {
        var dir = TestPaths.TempDir();
        var a = Generate(Path.Combine(dir, "a.png"), seed: 7);
        var b = Generate(Path.Combine(dir, "b.png"), seed: 7);
        var c = Generate(Path.Combine(dir, "c.png"), seed: 8);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        // different in pixels, not only in bytes
        using var ba = SKBitmap.Decode(a);
        using var bc = SKBitmap.Decode(c);
        Assert.NotEqual(ba.Bytes, bc.Bytes);
    }
}
