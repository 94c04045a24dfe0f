using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Flux2.Tests.Hub;

/// <summary>A loopback imitation of the Hugging Face hub on a raw socket (so a test can cut a response midway):
/// the listing API, resolve URLs with ETag/X-Repo-Commit, 302 to a "CDN" on another host name (localhost instead of
/// 127.0.0.1, same server), 401 for gated repos, 404 with X-Error-Code, and Range requests answered with 206.</summary>
public sealed class FakeHub : IDisposable
{
    public sealed record SeenRequest(string Method, string Path, IReadOnlyDictionary<string, string> Headers);

    readonly TcpListener listener = new(IPAddress.Loopback, 0);
    readonly CancellationTokenSource stop = new();

    public Dictionary<string, FakeRepo> Repos { get; } = new();
    public ConcurrentQueue<SeenRequest> Requests { get; } = new();
    /// <summary>Cut the connection after this many body bytes of the next CDN download (once).</summary>
    public int? DropNextCdnBodyAfter { get; set; }
    /// <summary>Answer Range requests with 200 and the whole file, as some servers do.</summary>
    public bool IgnoreRange { get; set; }
    /// <summary>Leave out X-Error-Code on 404s, so the client must work out what is missing itself.</summary>
    public bool OmitErrorCodes { get; set; }
    /// <summary>Announce LFS files this many bytes larger than they are (a truncated upload or a broken
    /// mirror).</summary>
    public int OverstateLinkedSizeBy { get; set; }

    public int Port => ((IPEndPoint)listener.LocalEndpoint).Port;
    public string Endpoint => $"http://127.0.0.1:{Port}";
    string CdnBase => $"http://localhost:{Port}";

    public FakeHub()
    {
        listener.Start();
        _ = AcceptLoop();
    }

    public IEnumerable<SeenRequest> RequestsTo(string pathPrefix) => Requests.Where(r =>
        r.Path.StartsWith(pathPrefix, StringComparison.Ordinal));

    async Task AcceptLoop()
    {
        while (!stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await listener.AcceptTcpClientAsync(stop.Token); }
            catch { return; }
            _ = Task.Run(() => Serve(client));
        }
    }

    async Task Serve(TcpClient client)
    {
        using var _ = client;
        var stream = client.GetStream();
        try
        {
            var request = await ReadRequest(stream);
            if (request is null) return;
            Requests.Enqueue(request);
            await Route(request, stream);
        }
        catch (IOException) { }   // the client went away
    }

    static async Task<SeenRequest?> ReadRequest(NetworkStream stream)
    {
        var bytes = new List<byte>();
        var one = new byte[1];
        while (bytes.Count < 4 || !(bytes[^4] == '\r' && bytes[^3] == '\n' && bytes[^2] == '\r' && bytes[^1] == '\n'))
        {
            if (await stream.ReadAsync(one) == 0) return null;
            bytes.Add(one[0]);
        }
        var lines = Encoding.ASCII.GetString(bytes.ToArray()).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        var first = lines[0].Split(' ');
        var headers = lines.Skip(1).Select(l => l.Split(':', 2))
            .ToDictionary(p => p[0].Trim(), p => p[1].Trim(), StringComparer.OrdinalIgnoreCase);
        return new SeenRequest(first[0], Uri.UnescapeDataString(first[1].Split('?')[0]), headers);
    }

    async Task Route(SeenRequest r, NetworkStream s)
    {
        var parts = r.Path.TrimStart('/').Split('/');
        if (parts is ["api", "models", var o, var n, "revision", ..] && parts.Length >= 6)
            await Listing(s, r, $"{o}/{n}", string.Join('/', parts[5..]));
        else if (parts is ["api", "models", var o2, var n2])
            await Respond(s, r, Repos.ContainsKey($"{o2}/{n2}") ? 200 : 404, new(), Encoding.UTF8.GetBytes("{}"));
        else if (parts is [var o3, var n3, "resolve", _, ..] && parts.Length >= 5)
            await Resolve(s, r, $"{o3}/{n3}", string.Join('/', parts[4..]));
        else if (parts is ["cdn", var sha])
            await Cdn(s, r, sha);
        else await Respond(s, r, 404, new(), Array.Empty<byte>());
    }

    async Task Listing(NetworkStream s, SeenRequest r, string repoId, string revision)
    {
        if (!Repos.TryGetValue(repoId, out var repo)) { await Error(s, r, 404, "RepoNotFound"); return; }
        if (revision != "main" && revision != repo.Commit) { await Error(s, r, 404, "RevisionNotFound"); return; }
        var json = JsonSerializer.Serialize(new
        {
            id = repoId,
            sha = repo.Commit,
            siblings = repo.Files.Keys.Select(f => new { rfilename = f })
        });
        await Respond(s, r, 200, new() { ["Content-Type"] = "application/json" }, Encoding.UTF8.GetBytes(json));
    }

    async Task Resolve(NetworkStream s, SeenRequest r, string repoId, string file)
    {
        if (!Repos.TryGetValue(repoId, out var repo)) { await Error(s, r, 404, "RepoNotFound"); return; }
        if (repo.GateToken != null && r.Headers.GetValueOrDefault("Authorization") != $"Bearer {repo.GateToken}")
        {
            await Error(s, r, 401, "GatedRepo", "Access to this model is restricted. You must accept the conditions.");
            return;
        }
        if (!repo.Files.TryGetValue(file, out var data)) { await Error(s, r, 404, "EntryNotFound"); return; }
        if (repo.Lfs.Contains(file))
        {
            var sha = FakeRepo.Sha256(data);
            await Respond(s, r, 302, new()
            {
                ["Location"] = $"{CdnBase}/cdn/{sha}?signature=abc",
                ["X-Linked-Etag"] = $"\"{sha}\"",
                ["X-Linked-Size"] = (data.Length + OverstateLinkedSizeBy).ToString(),
                ["X-Repo-Commit"] = repo.Commit,
            }, Array.Empty<byte>());
            return;
        }
        await Content(s, r, data, new() { ["ETag"] = $"W/\"{FakeRepo.Sha1(data)}\"", ["X-Repo-Commit"] = repo.Commit });
    }

    async Task Cdn(NetworkStream s, SeenRequest r, string sha)
    {
        var data = Repos.Values.SelectMany(x => x.Files.Values).FirstOrDefault(d => FakeRepo.Sha256(d) == sha);
        if (data is null) { await Respond(s, r, 404, new(), Array.Empty<byte>()); return; }
        await Content(s, r, data, new() { ["ETag"] = $"\"cdn-{sha[..8]}\"" });
    }

    async Task Content(NetworkStream s, SeenRequest r, byte[] data, Dictionary<string, string> headers)
    {
        var from = 0;
        if (!IgnoreRange && r.Headers.TryGetValue("Range", out var range) && range.StartsWith("bytes=")
            && range.EndsWith('-'))
        {
            from = int.Parse(range[6..^1]);
            if (from >= data.Length)
            {
                await Respond(s, r, 416, new() { ["Content-Range"] = $"bytes */{data.Length}" },
                Array.Empty<byte>()); return;
            }
            headers["Content-Range"] = $"bytes {from}-{data.Length - 1}/{data.Length}";
        }
        var body = data[from..];
        var cut = r.Path.StartsWith("/cdn/") && r.Method == "GET" ? DropNextCdnBodyAfter : null;
        if (cut != null) DropNextCdnBodyAfter = null;
        await Respond(s, r, from > 0 ? 206 : 200, headers, body, cut);
    }

    Task Error(NetworkStream s, SeenRequest r, int status, string code, string? message = null)
    {
        var headers = new Dictionary<string, string>();
        if (!OmitErrorCodes) headers["X-Error-Code"] = code;
        if (message != null) headers["X-Error-Message"] = message;
        return Respond(s, r, status, headers, Encoding.UTF8.GetBytes(message ?? code));
    }

    static async Task Respond(NetworkStream s, SeenRequest r, int status, Dictionary<string, string> headers,
        byte[] body, int? cutAfter = null)
    {
        var head = new StringBuilder($"HTTP/1.1 {status} {Reason(status)}\r\n");
        foreach (var (k, v) in headers) head.Append($"{k}: {v}\r\n");
        head.Append($"Content-Length: {body.Length}\r\nConnection: close\r\n\r\n");
        await s.WriteAsync(Encoding.ASCII.GetBytes(head.ToString()));
        if (r.Method == "HEAD") return;
        await s.WriteAsync(body.AsMemory(0, cutAfter is { } c ? Math.Min(c, body.Length) : body.Length));
        await s.FlushAsync();
    }

    static string Reason(int status) => status switch
    {
        200 => "OK",
        206 => "Partial Content",
        302 => "Found",
        401 => "Unauthorized",
        404 => "Not Found",
        416 => "Range Not Satisfiable",
        _ => "Status",
    };

    public void Dispose()
    {
        stop.Cancel();
        listener.Stop();
    }
}
