using Flux2.Training.Data;
using Flux2.Training.State;
using Xunit;
using static TorchSharp.torch;

namespace Flux2.Tests.Distributed;

/// <summary>Data sharding for data-parallel training: N ranks x batch b see per step exactly the samples of 1 process
/// x batch N·b, and a resume with another GPU count continues the same global sample stream.</summary>
public class ShardingTests
{
    /// <summary>Items in bucket "a" (32x32) or "b" (64x32).</summary>
    static List<DatasetItem> Items(int count, Func<int, string>? bucket = null)
        => Enumerable.Range(0, count).Select(i => new DatasetItem($"img{i}.png", $"caption {i}",
            bucket?.Invoke(i) == "b" ? 64 : 32, 32, false, false, 0)).ToList();

    [Theory]
    [InlineData(2, 1, 7)]
    [InlineData(4, 2, 13)]
    [InlineData(3, 1, 10)]
    public void RanksTogetherDrawTheSingleProcessGlobalBatch(int ranks, int perRank, int datasetSize)
    {
        var items = Items(datasetSize, i => i % 3 == 0 ? "a" : "b");
        var single = new BatchOrder(items, ranks * perRank, new TrainerRandom(5));
        var perRankOrders = Enumerable.Range(0, ranks)
            .Select(r => (shard: new BatchShard(r, ranks), order: new BatchOrder(items,
                new BatchShard(r, ranks).GlobalBatch(perRank), new TrainerRandom(5))))
            .ToList();
        for (int step = 0; step < 20; step++)
        {
            var expected = single.Next();
            var slices = perRankOrders.Select(x => x.shard.Take(x.order.Next())).ToList();
            Assert.All(slices, s => Assert.Equal(perRank, s.Count));
            Assert.Equal(expected, slices.SelectMany(s => s).ToArray());
        }
    }

    [Fact]
    public void TensorSlicesConcatenateToTheGlobalBatch()
    {
        using var global = arange(24, ScalarType.Float32).view(4, 6);
        using var s0 = new BatchShard(0, 2).Slice(global);
        using var s1 = new BatchShard(1, 2).Slice(global);
        using var joined = cat(new[] { s0, s1 }, 0);
        Assert.True(joined.eq(global).all().item<bool>());
        Assert.Throws<ArgumentException>(() => new BatchShard(0, 3).Slice(global));
    }

    [Fact]
    public void ResumeOnFewerGpusSplitsTheSavedBatchesInOrder()
    {
        // Saved by 2 ranks x batch 1 (global 2), resumed on 1 GPU x batch 1 (global 1): same samples, same order.
        var items = Items(8);
        var order = new BatchOrder(items, 2, new TrainerRandom(9));
        order.Next();
        var saved = order.Cursor;
        var regrouped = BatchRegrouping.Regroup(saved, items, 1);
        Assert.Equal(saved.Epoch, regrouped.Epoch);
        Assert.Equal(saved.Pending.SelectMany(b => b), regrouped.Pending.SelectMany(b => b));
        Assert.All(regrouped.Pending, b => Assert.Single(b));
        var resumed = new BatchOrder(items, 1, new TrainerRandom(1)) { Cursor = regrouped };
        Assert.Equal(saved.Pending[0][1], (resumed.Next(), resumed.Next()).Item2[0]);
    }

    [Fact]
    public void ResumeOnMoreGpusKeepsEverySampleAndNeverMixesBuckets()
    {
        var items = Items(9, i => i < 5 ? "a" : "b");
        var order = new BatchOrder(items, 1, new TrainerRandom(3));
        order.Next(); order.Next();
        var saved = order.Cursor;
        var regrouped = BatchRegrouping.Regroup(saved, items, 2);
        Assert.All(regrouped.Pending, b => Assert.Equal(2, b.Length));
        Assert.All(regrouped.Pending, b => Assert.Single(b.Select(i => items[i].BucketKey).Distinct()));
        // every saved sample is still to come; the only extras are padding repeats within a bucket's last batch
        var before = saved.Pending.SelectMany(b => b).Order().ToArray();
        var after = regrouped.Pending.SelectMany(b => b).ToArray();
        Assert.Equal(before, after.Distinct().Order().ToArray());
        Assert.True(after.Length - before.Length <= 2, $"{after.Length - before.Length} padding items for 2 buckets");
        // within a bucket, the samples come in the saved order
        foreach (var bucket in new[] { "32x32", "64x32" })
            Assert.Equal(saved.Pending.SelectMany(b => b).Where(i => items[i].BucketKey == bucket),
                         after.Where(i => items[i].BucketKey == bucket).Distinct());
    }

    [Fact]
    public void SameGlobalBatchSizeLeavesTheCursorAlone()
    {
        var items = Items(6);
        var saved = new BatchOrder.Position(2, new[] { new[] { 1, 2 }, new[] { 3, 4 } });
        Assert.Same(saved, BatchRegrouping.Regroup(saved, items, 2));
    }
}
