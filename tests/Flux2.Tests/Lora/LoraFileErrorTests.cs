using System.Text;
using Flux2.IO;
using Flux2.Native;
using Flux2.Tests.Cli;
using Flux2.Tests.IO;
using Xunit;
using static TorchSharp.torch;

namespace Flux2.Tests.Lora;

/// <summary>Damaged or hostile LoRA files: <c>lora info</c> (which reads them as <c>generate --lora</c> does) exits 2
/// with one line naming the file, never a stack trace or an exit 0 that would give a garbage image.</summary>
public class LoraFileErrorTests
{
    readonly string dir = TestPaths.TempDir();
    const string Q = "transformer.transformer_blocks.0.attn.to_q";

    public LoraFileErrorTests() => TorchRuntime.EnsureLoaded();

    string Lora(string name, Tensor down, Tensor up, Dictionary<string, string>? metadata = null,
        Tensor? alpha = null)
    {
        var path = Path.Combine(dir, name);
        var tensors = new Dictionary<string, Tensor> { [Q + ".lora_A.weight"] = down, [Q + ".lora_B.weight"] = up };
        if (alpha is not null) tensors[Q + ".alpha"] = alpha;
        SafetensorsWriter.Write(path, tensors, metadata);
        return path;
    }

    static void Refused(string path, params string[] phrases)
        => CliRunner.AssertUserError(CliRunner.Run("lora", "info", path), [path, .. phrases]);

    static Dictionary<string, string> Peft(string json) => new() { ["lora_adapter_metadata"] = json };

    [Fact]
    public void AWellFormedFileIsRead()
    {
        var r = CliRunner.Run("lora", "info", Lora("ok.safetensors", ones(2, 8), ones(8, 2)));
        Assert.True(r.Exit == 0, r.ToString());
    }

    [Fact]
    public void AShapeWhoseSizeOverflowsInt64IsRefused()
    {
        var path = RawSafetensors.Write(dir, "big.safetensors",
            """{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}""", []);
        Refused(path, "64-bit");
    }

    [Fact]
    public void AHeaderThatIsNotUtf8IsRefused()
    {
        var header = Encoding.UTF8.GetBytes("""{"a\u00e9":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}""");
        header[3] = 0xFF;
        var path = Path.Combine(dir, "latin.safetensors");
        File.WriteAllBytes(path, [.. BitConverter.GetBytes((long)header.Length), .. header, 7]);
        Refused(path, "UTF-8");
    }

    [Theory]
    [InlineData("{not json", "not valid JSON")]
    [InlineData("[1, 2]", "not a JSON object")]
    [InlineData("""{"r": 0, "lora_alpha": 4}""", "'r' must be a positive integer")]
    [InlineData("""{"r": 4, "lora_alpha": -5}""", "'lora_alpha' must be a finite number")]
    [InlineData("""{"r": "four"}""", "'r' must be a positive integer")]
    [InlineData("""{"rank_pattern": [1]}""", "'rank_pattern' must be an object")]
    [InlineData("""{"alpha_pattern": {"to_q": "x"}}""", "alpha_pattern['to_q']")]
    public void AMalformedPeftConfigIsRefused(string json, string phrase)
        => Refused(Lora("peft.safetensors", ones(2, 8), ones(8, 2), Peft(json)), "lora_adapter_metadata", phrase);

    [Fact]
    public void AnAlphaOfMoreThanOneNumberIsRefused()
        => Refused(Lora("alpha.safetensors", ones(2, 8), ones(8, 2), alpha: ones(3)), ".alpha", "one number");

    [Fact]
    public void ANonFiniteAlphaIsRefused()
        => Refused(Lora("alpha.safetensors", ones(2, 8), ones(8, 2), alpha: tensor(float.NaN)), "finite");

    [Fact]
    public void ARankZeroLoraIsRefused()
        => Refused(Lora("r0.safetensors", zeros(0, 8), zeros(8, 0)), "rank");

    [Fact]
    public void IntegerAndBoolWeightsAreRefused()
    {
        Refused(Lora("i64.safetensors", ones(2, 8, ScalarType.Int64), ones(8, 2)), "dtype I64");
        Refused(Lora("bool.safetensors", ones(2, 8), ones(8, 2, ScalarType.Bool)), "dtype BOOL");
    }

    [Fact]
    public void NanInfAndOverflowingWeightsAreRefused()
    {
        Refused(Lora("nan.safetensors", full(2, 8, float.NaN), ones(8, 2)), "NaN");
        Refused(Lora("inf.safetensors", ones(2, 8), full(8, 2, float.PositiveInfinity)), "NaN or infinite");
        Refused(Lora("huge.safetensors", full(2, 8, 3e38f), full(8, 2, 3e38f)), "too large");
    }
}
