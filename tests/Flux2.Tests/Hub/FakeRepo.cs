using System.Security.Cryptography;

namespace Flux2.Tests.Hub;

/// <summary>One repo served by <see cref="FakeHub"/>. Files listed in <see cref="Lfs"/> behave like LFS files on the
/// real hub: the resolve URL answers 302 to a CDN URL, with the sha256 as X-Linked-Etag.</summary>
public sealed class FakeRepo
{
    public string Commit { get; init; } = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(20));
    public Dictionary<string, byte[]> Files { get; } = new();
    public HashSet<string> Lfs { get; } = new();
    /// <summary>When set, file downloads need <c>Authorization: Bearer {GateToken}</c> (the listing stays public, as on
    /// the hub).</summary>
    public string? GateToken { get; init; }

    public static byte[] RandomBytes(int n, int seed)
    {
        var b = new byte[n];
        new Random(seed).NextBytes(b);
        return b;
    }

    public static string Sha256(byte[] data) => Convert.ToHexStringLower(SHA256.HashData(data));
    public static string Sha1(byte[] data) => Convert.ToHexStringLower(SHA1.HashData(data));
}
