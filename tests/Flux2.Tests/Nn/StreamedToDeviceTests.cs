using Flux2.Models.TextEncoder;
using Flux2.Nn;
using Flux2.Nn.Offload;
using Flux2.Nn.Quantization;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Flux2.Tests.Nn;

/// <summary>low_vram's text encoder: weights in CPU memory, each decoder layer on the GPU only while it computes
/// (<see cref="MistralTextModel.StreamLayersTo"/>). The embeddings must equal those of the encoder moved to the GPU
/// whole, and the weights must be back in CPU memory afterwards.</summary>
[Collection(Flux2.Tests.Training.TorchGlobalRngCollection.Name)]
public class StreamedToDeviceTests
{
    [CudaFact]
    public void AStreamedEncoderEncodesLikeAResidentOneAndKeepsItsWeightsOnTheCpu() => Compare(null);

    [CudaFact]
    public void AStreamedQuantizedEncoderEncodesLikeAResidentOne() => Compare(QuantType.Float8);

    static void Compare(QuantType? quant)
    {
        var cuda = new Device("cuda");
        using var streamed = new Flux2PromptEncoder(MistralConfig.Tiny, new[] { 1, 2, 3 }, CPU, ScalarType.Float32,
            quant);
        RandomInit.Apply(streamed.Model, seed: 4);
        using var resident = new Flux2PromptEncoder(MistralConfig.Tiny, new[] { 1, 2, 3 }, CPU, ScalarType.Float32,
            quant);
        using (no_grad())
            foreach (var ((_, a), (_, b)) in streamed.Model.named_parameters().Zip(resident.Model.named_parameters()))
                b.copy_(a);
        resident.Model.to(cuda);
        using var ids = randint(0, MistralConfig.Tiny.VocabSize, new long[] { 2, 7 }, ScalarType.Int64, device: cuda);
        using var mask = ones(new long[] { 2, 7 }, ScalarType.Int64, device: cuda);
        streamed.Model.StreamLayersTo = cuda;
        using var got = streamed.Encode(ids, mask);
        using var expected = resident.Encode(ids, mask);
        Assert.Equal(DeviceType.CUDA, got.device.type);
        Assert.True(got.eq(expected).all().item<bool>(), "streamed and resident encoders differ");
        Assert.All(streamed.Model.parameters(), p => Assert.Equal(DeviceType.CPU, p.device.type));
    }

    [Fact]
    public void NothingMovesWhenTheWeightsAreAlreadyThere()
    {
        Flux2.Native.TorchRuntime.EnsureLoaded();
        using var layer = new Flux2.Nn.Linear(4, 3);
        Assert.Null(StreamedToDevice.While(layer, CPU));
    }
}
