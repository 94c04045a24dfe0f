using System.Text.RegularExpressions;
using Xunit;

namespace Flux2.Tests.Architecture;

/// <summary>
/// The C# sources stay within 120 columns (the limit in .editorconfig, which <c>dotnet format</c> does not enforce)
/// and their comments point only at things a clone of the repository contains: no issue numbers and no documents
/// kept outside it. Facts go where they are used or into docs/.
/// </summary>
public class SourceHygieneTests
{
    const int MaxColumns = 120;

    /// <summary>Written so that this file does not match itself: each pattern breaks the word it looks for with a
    /// character class or an escape, and the examples below are split in two.</summary>
    static readonly Regex OutsidePointer = new(
        @"[i]ssue *#?[0-9]|referenc[e] §|design\.md|ai-toolkit\.md|guid[e] §|\.\./shared",
        RegexOptions.IgnoreCase);

    [Fact]
    public void NoLineIsLongerThan120Columns()
    {
        var tooLong = Lines().Where(l => l.Text.Length > MaxColumns)
            .Select(l => $"{l.File}:{l.Number}: {l.Text.Length} columns").ToList();
        Assert.True(tooLong.Count == 0, $"{tooLong.Count} lines over {MaxColumns} columns:\n" +
            string.Join("\n", tooLong));
    }

    [Fact]
    public void CommentsPointOnlyInsideTheRepository()
    {
        var hits = Lines().Where(l => OutsidePointer.IsMatch(l.Text))
            .Select(l => $"{l.File}:{l.Number}: {l.Text.Trim()}").ToList();
        Assert.True(hits.Count == 0, "lines pointing at issue numbers or documents outside the repository:\n"
                                     + string.Join("\n", hits));
    }

    [Theory]
    [InlineData("// see iss" + "ue 6", true)]
    [InlineData("/// (referenc" + "e §2.12)", true)]
    [InlineData("// design" + ".md says so", true)]
    [InlineData("// ai-toolkit" + ".md §2", true)]
    [InlineData("// guid" + "e § 7.4", true)]
    [InlineData("// ../sha" + "red/fixtures", true)]
    [InlineData("// docs/flux2-model.md §2.12", false)]
    [InlineData("// the issue with pinned memory", false)]
    public void ThePatternFindsPointersOutsideTheRepository(string line, bool found) =>
        Assert.Equal(found, OutsidePointer.IsMatch(line));

    record Line(string File, int Number, string Text);

    static IEnumerable<Line> Lines()
    {
        foreach (var top in new[] { "src", "tests" })
        {
            var root = Path.Combine(TestPaths.RepoRoot, top);
            foreach (var path in Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories))
            {
                var rel = Path.GetRelativePath(TestPaths.RepoRoot, path).Replace('\\', '/');
                if (rel.Contains("/bin/") || rel.Contains("/obj/")) continue;
                var lines = File.ReadAllLines(path);
                for (int i = 0; i < lines.Length; i++) yield return new Line(rel, i + 1, lines[i]);
            }
        }
    }
}
