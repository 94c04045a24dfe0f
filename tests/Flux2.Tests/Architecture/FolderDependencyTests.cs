using Xunit;

namespace Flux2.Tests.Architecture;

/// <summary>
/// The top folders of src/Flux2.Core, then the projects on top of it, form a dependency DAG that reads as the data
/// flow: a folder may use only folders listed before it.
/// </summary>
public class FolderDependencyTests
{
    /// <summary>Lowest first. Native (libtorch, CUDA, NCCL bindings) → IO (file formats, the hub, YAML key
    /// attributes) → Nn (layers, quantization, offloading, loading weights into modules) → Models (transformer,
    /// VAE, text encoder, the micro model's configs) → Diagnostics (GPU memory, FLOPs) → Sampling (the inference
    /// scheduler) → Pipeline (loading a model folder, text → image) → Lora (LoRA files) → Data (synthetic
    /// datasets) → Distributed (rendezvous, collectives) → Training → Evaluation → Micro (pretraining the micro
    /// model) → Verification; the CLI and the notebook kit use the core.</summary>
    public static readonly string[] Order =
    [
        "Native", "IO", "Nn", "Models", "Diagnostics", "Sampling", "Pipeline", "Lora", "Data", "Distributed",
        "Training", "Evaluation", "Micro", "Verification", "Cli", "Interactive",
    ];

    [Fact]
    public void SourceFoldersDependOnlyOnFoldersBeforeThem()
    {
        var files = RepoSources();
        var edges = FolderGraph.Edges(files, files.Select(f => f.Layer).ToHashSet());
        var problems = FolderGraph.Violations(edges, Order, files.Select(f => f.Layer));
        Assert.True(problems.Count == 0,
                    "folder dependencies break the declared order:\n" + string.Join("\n", problems));
    }

    [Fact]
    public void EveryCoreFolderHasFiles()
    {
        var layers = RepoSources().Select(f => f.Layer).ToHashSet();
        Assert.Equal(Order.Order(), layers.Order());
    }

    /// <summary>src/Flux2.Core/X/… → layer X; src/Flux2.Cli → Cli; src/Flux2.Interactive* →
    /// Interactive.</summary>
    static List<SourceFile> RepoSources()
    {
        var src = Path.Combine(TestPaths.RepoRoot, "src");
        var files = new List<SourceFile>();
        foreach (var path in Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories))
        {
            var rel = Path.GetRelativePath(src, path).Replace('\\', '/');
            var parts = rel.Split('/');
            if (parts.Contains("bin") || parts.Contains("obj")) continue;
            string? layer = parts[0] switch
            {
                "Flux2.Core" => parts.Length > 2 ? parts[1] : null,
                "Flux2.Cli" => "Cli",
                var project when project.StartsWith("Flux2.Interactive", StringComparison.Ordinal)
                    => "Interactive",
                _ => null,
            };
            if (layer is not null) files.Add(new SourceFile(layer, "src/" + rel, File.ReadAllText(path)));
        }
        return files;
    }
}

/// <summary>The checker itself, on small synthetic graphs: it finds what it must and nothing else.</summary>
public class FolderGraphTests
{
    static readonly string[] Layers = ["Low", "Mid", "High"];

    static IReadOnlyList<string> Check(params SourceFile[] files) =>
        FolderGraph.Violations(FolderGraph.Edges(files, Layers), Layers, files.Select(f => f.Layer));

    static SourceFile Low(string body = "") =>
        new("Low", "Low/A.cs", "namespace Flux2.Low;\npublic class LowType {}\n" + body);
    static SourceFile Mid(string body = "") =>
        new("Mid", "Mid/B.cs", "namespace Flux2.Mid.Inner;\npublic class MidType {}\n" + body);
    static SourceFile High(string body = "") =>
        new("High", "High/C.cs", "namespace Flux2.High;\npublic class HighType {}\n" + body);

    [Fact]
    public void EdgesDownTheOrderPass()
    {
        Assert.Empty(Check(Low(), Mid("using Flux2.Low;"), High("using Flux2.Mid.Inner;\nusing Flux2.Low;")));
    }

    [Fact]
    public void AnEdgeUpTheOrderIsNamedWithItsFile()
    {
        var problems = Check(Low("using Flux2.Mid.Inner;"), Mid(), High());
        Assert.Equal("Low/A.cs: Low -> Mid points up the order (Mid comes after Low)", Assert.Single(problems));
    }

    [Fact]
    public void ACycleIsNamedWithTheFilesOnBothSides()
    {
        var problems = Check(Low(), Mid("using Flux2.High;"), High("class X { Flux2.Mid.Inner.MidType m; }"));
        Assert.Contains("cycle between High, Mid: High -> Mid (High/C.cs); Mid -> High (Mid/B.cs)", problems);
        Assert.Contains("Mid/B.cs: Mid -> High points up the order (High comes after Mid)", problems);
    }

    [Theory]
    [InlineData("using static Flux2.High.HighType;")]
    [InlineData("using H = Flux2.High.HighType;")]
    [InlineData("class X { object o = new global::Flux2.High.HighType(); }")]
    [InlineData("class X { High.HighType h; }")]
    public void EveryFormOfReferenceCounts(string body)
    {
        Assert.Contains("Low/A.cs: Low -> High points up the order (High comes after Low)",
                        Check(Low(body), Mid(), High()));
    }

    [Theory]
    [InlineData("// using Flux2.High;")]
    [InlineData("/* Flux2.High.HighType */")]
    [InlineData("/// <see cref=\"Flux2.High.HighType\"/>")]
    [InlineData("class X { string s = \"Flux2.High.HighType\"; string v = @\"High.HighType\"; }")]
    [InlineData("class X { object High = 1; string s = High.ToString(); }")]
    public void CommentsStringsAndUnrelatedNamesDoNotCount(string body)
    {
        Assert.Empty(Check(Low(body), Mid(), High()));
    }

    [Fact]
    public void ANestedNamespaceOfTheSameNameShadowsTheLayer()
    {
        // Inside Flux2.Mid.Inner, "Low.LowType" is Flux2.Mid.Low.LowType when that namespace exists.
        var mid = Mid("class Z { Low.LowType t; }");
        Assert.Contains(FolderGraph.Edges([Low(), mid, High()], Layers), e => e.From == "Mid" && e.To == "Low");
        var shadow = new SourceFile("Mid", "Mid/Low/D.cs", "namespace Flux2.Mid.Low;\npublic class LowType {}\n");
        Assert.DoesNotContain(FolderGraph.Edges([Low(), shadow, mid, High()], Layers), e => e.From == "Mid");
    }

    [Fact]
    public void AFolderMissingFromTheOrderIsNamed()
    {
        var stray = new SourceFile("Stray", "Stray/F.cs", "namespace Flux2.Stray;\n");
        Assert.Contains("folder 'Stray' is not in the declared order", Check(Low(), stray));
    }
}
