using Flux2.IO.Hub;
using Xunit;

namespace Flux2.Tests.Hub;

public class HfTokenTests
{
    /// <summary>A home folder with a token file from `huggingface-cli login`, a project folder, and given
    /// variables.</summary>
    sealed class Setup
    {
        public string Home { get; } = TestPaths.TempDir();
        public string Project { get; } = TestPaths.TempDir();
        public Dictionary<string, string> Vars { get; } = new();
        public HubEnvironment Env => HubEnvironment.With(Vars, Home, Project);

        public Setup WithLoginFile(string token)
        {
            var dir = Path.Combine(Home, ".cache", "huggingface");
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, "token"), token + "\n");
            return this;
        }

        public Setup WithDotEnv(string text)
        {
            File.WriteAllText(Path.Combine(Project, ".env"), text);
            return this;
        }
    }

    [Fact]
    public void NothingConfiguredFindsNoToken() => Assert.Null(HfToken.Find(new Setup().Env));

    [Fact]
    public void EnvironmentBeatsDotEnvAndLoginFile()
    {
        var s = new Setup().WithLoginFile("hf_file").WithDotEnv("HF_TOKEN=hf_dotenv");
        s.Vars["HUGGING_FACE_HUB_TOKEN"] = "hf_legacy";
        s.Vars["HF_TOKEN"] = "hf_env";

        var t = HfToken.Find(s.Env)!;

        Assert.Equal("hf_env", t.Value);
        Assert.Equal("environment variable HF_TOKEN", t.Source);
    }

    [Fact]
    public void LegacyVariableIsUsedWhenHfTokenIsUnsetOrBlank()
    {
        var s = new Setup().WithDotEnv("HF_TOKEN=hf_dotenv");
        s.Vars["HF_TOKEN"] = "  ";
        s.Vars["HUGGING_FACE_HUB_TOKEN"] = "hf_legacy";

        Assert.Equal("hf_legacy", HfToken.Find(s.Env)!.Value);
    }

    [Fact]
    public void DotEnvBeatsLoginFile()
    {
        var s = new Setup().WithLoginFile("hf_file").WithDotEnv("HF_TOKEN=hf_dotenv\n");

        var t = HfToken.Find(s.Env)!;

        Assert.Equal("hf_dotenv", t.Value);
        Assert.Equal($".env file {Path.Combine(s.Project, ".env")}", t.Source);
    }

    [Theory]
    [InlineData("HF_TOKEN=\"hf_quoted\"", "hf_quoted")]
    [InlineData("HF_TOKEN='hf_single' # mine", "hf_single")]
    [InlineData("export HF_TOKEN=hf_exported", "hf_exported")]
    [InlineData("# HF_TOKEN=hf_commented\nOTHER=1\nHF_TOKEN = hf_spaced # note", "hf_spaced")]
    [InlineData("HF_TOKEN_PATH=/x\nMY_HF_TOKEN=hf_other", null)]
    public void DotEnvLinesAreParsedLikeShellAssignments(string text, string? expected)
    {
        var s = new Setup().WithDotEnv(text);
        Assert.Equal(expected, HfToken.Find(s.Env)?.Value);
    }

    [Fact]
    public void LoginFileFollowsHfTokenPathThenHfHome()
    {
        var s = new Setup().WithLoginFile("hf_default");
        Assert.Equal("hf_default", HfToken.Find(s.Env)!.Value);

        var hfHome = TestPaths.TempDir();
        File.WriteAllText(Path.Combine(hfHome, "token"), "hf_home");
        s.Vars["HF_HOME"] = hfHome;
        Assert.Equal("hf_home", HfToken.Find(s.Env)!.Value);

        var explicitPath = Path.Combine(TestPaths.TempDir(), "my-token");
        File.WriteAllText(explicitPath, "hf_explicit");
        s.Vars["HF_TOKEN_PATH"] = explicitPath;
        var t = HfToken.Find(s.Env)!;
        Assert.Equal("hf_explicit", t.Value);
        Assert.Equal($"token file {explicitPath}", t.Source);
    }

    [Fact]
    public void PrintingTheTokenShowsOnlyWhereItCameFrom()
    {
        var t = new HfToken("hf_secret", "environment variable HF_TOKEN");
        Assert.DoesNotContain("hf_secret", t.ToString());
        Assert.Contains("HF_TOKEN", t.ToString());
    }
}
