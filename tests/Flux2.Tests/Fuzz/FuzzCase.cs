using System.Diagnostics;
using System.Security.Cryptography;
using Flux2.Cli;
using Flux2.Training.Config;
using Xunit;

namespace Flux2.Tests.Fuzz;

/// <summary>What every fuzz case must satisfy, however it ends: exit 0 or 2, no stack trace or "internal error",
/// done within <see cref="TimeLimit"/>, a refusal's message names the file, key or option, and nothing outside the
/// case's own folder changed.</summary>
static class FuzzCase
{
    public static readonly TimeSpan TimeLimit = TimeSpan.FromSeconds(20);

    /// <summary>The outcome of one case: the exit code the CLI gives and what it printed.</summary>
    public sealed record Outcome(int Exit, string Out, string Err)
    {
        public override string ToString() => $"exit {Exit}\n--- stdout ---\n{Out}\n--- stderr ---\n{Err}";
    }

    /// <summary>Runs <c>./flux2 argv</c> in-process.</summary>
    public static Outcome Cli(params string[] argv)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = Flux2Cli.Run(argv, o, e);
        return new Outcome(code, o.ToString(), e.ToString());
    }

    /// <summary>Runs <paramref name="action"/> as the named command would (a parse/validate path called
    /// directly): an exception is reported through the CLI's own classification.</summary>
    public static Outcome Direct(string command, Action action)
    {
        try { action(); return new Outcome(0, "", ""); }
        catch (Exception ex)
        {
            var e = new StringWriter();
            // train turns a job file's JobConfigException into a UserError the same way
            int code = Flux2Cli.Fail(command, ex is JobConfigException j ? new UserError(j.Message) : ex, e);
            return new Outcome(code, "", e.ToString());
        }
    }

    /// <summary>Runs one case with the checks above. <paramref name="named"/>: strings of which a refusal must
    /// contain at least one (the case's file, folder, key or option).</summary>
    public static Outcome Check(string description, string caseFolder, Func<Outcome> run, params string[] named)
    {
        var sw = Stopwatch.StartNew();
        var task = Task.Run(run);
        if (!task.Wait(TimeLimit)) Assert.Fail($"{description}: no answer after {TimeLimit.TotalSeconds} s (hang)");
        var r = task.Result;
        string where = $"{description}\n{r}";
        Assert.True(r.Exit is 0 or 2, where);
        foreach (var text in new[] { r.Out, r.Err })
        {
            Assert.DoesNotContain("Unhandled exception", text);
            Assert.DoesNotContain("internal error", text);
            Assert.DoesNotContain("   at ", text);
        }
        if (r.Exit != 0)
            Assert.True(named.Any(n => r.Err.Contains(n, StringComparison.Ordinal)),
                $"{where}\nthe message names none of: {string.Join(", ", named)}");
        Assert.True(sw.Elapsed < TimeLimit, where);
        return r;
    }

    /// <summary>SHA-256 of every file under <paramref name="folder"/> by relative path.</summary>
    public static Dictionary<string, string> Snapshot(string folder)
    {
        var result = new Dictionary<string, string>();
        if (!Directory.Exists(folder)) return result;
        foreach (var f in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories))
        {
            var info = new FileInfo(f);
            if (info.LinkTarget is not null)
            {
                result[Path.GetRelativePath(folder, f)] = "-> " + info.LinkTarget;
                continue;
            }
            using var s = File.OpenRead(f);
            result[Path.GetRelativePath(folder, f)] = Convert.ToHexString(SHA256.HashData(s));
        }
        return result;
    }

    /// <summary>A bystander folder next to the cases and the working directory: the suite asserts that no case
    /// touched either.</summary>
    public sealed class Bystanders : IDisposable
    {
        readonly string neighbour;
        readonly Dictionary<string, string> before;
        readonly HashSet<string> cwdBefore;

        public Bystanders(string root)
        {
            neighbour = Path.Combine(root, "neighbour");
            Directory.CreateDirectory(neighbour);
            File.WriteAllText(Path.Combine(neighbour, "notes.txt"), "not part of any case");
            File.WriteAllBytes(Path.Combine(neighbour, "model.safetensors"), new byte[64]);
            before = Snapshot(neighbour);
            cwdBefore = Directory.EnumerateFileSystemEntries(Environment.CurrentDirectory).ToHashSet();
        }

        public void Dispose()
        {
            Assert.Equal(before, Snapshot(neighbour));
            var added = Directory.EnumerateFileSystemEntries(Environment.CurrentDirectory)
                .Where(e => !cwdBefore.Contains(e)).ToList();
            Assert.True(added.Count == 0, "cases wrote into the working directory: " + string.Join(", ", added));
        }
    }
}
