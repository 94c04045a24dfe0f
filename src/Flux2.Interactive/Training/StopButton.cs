using System.Net;
using System.Net.Sockets;

namespace Flux2.Interactive.Training;

/// <summary>
/// The Stop control of a notebook training run: while the run trains, a local HTTP endpoint
/// (<c>http://127.0.0.1:PORT/SECRET/stop</c>, loopback only, a random secret per run) whose request cancels the run the
/// way Ctrl-C does on the CLI: the trainer finishes the current step, saves a checkpoint with its training state and
/// returns, and the kernel with its variables stays alive. The button in the cell's output requests it.
/// The front end's Interrupt does the same where it sends SIGINT (<see cref="InterruptStop"/>); the button also
/// serves front ends that do not, and a kernelspec with interrupt_mode "message", whose interrupt_request the .NET
/// kernel (Microsoft.dotnet-interactive 1.0.712001) does not act on while a cell runs.
/// </summary>
public sealed class StopButton : IDisposable
{
    readonly HttpListener listener;
    readonly CancellationTokenSource stop;

    /// <summary>The endpoint; a GET or POST to it stops the run.</summary>
    public string Url { get; }

    public StopButton(CancellationTokenSource stop)
    {
        this.stop = stop;
        var secret = Guid.NewGuid().ToString("N");
        for (int attempt = 0; ; attempt++)
        {
            int port = FreeLoopbackPort();
            var l = new HttpListener();
            l.Prefixes.Add($"http://127.0.0.1:{port}/{secret}/");
            try { l.Start(); listener = l; Url = $"http://127.0.0.1:{port}/{secret}/stop"; break; }
            catch (HttpListenerException) when (attempt < 5) { l.Close(); } // the port was taken meanwhile
        }
        _ = Serve();
    }

    /// <summary>The button: a request to <see cref="Url"/> from the browser that shows the notebook (the kernel runs
    /// on the same machine, as with a local Jupyter or VS Code).</summary>
    public string Html() =>
        $"<button data-flux2-stop=\"{WebUtility.HtmlEncode(Url)}\" style=\"font-size:13px\" " +
        "onclick=\"fetch(this.dataset.flux2Stop, {method: 'POST', mode: 'no-cors'}).then(() => " +
        "{ this.disabled = true; this.textContent = 'stopping after this step…'; })\">Stop training</button>" +
        "<span style=\"font-family:sans-serif;font-size:12px;color:#666\"> finishes the step, saves a checkpoint; " +
        "running the cell again resumes</span>";

    async Task Serve()
    {
        while (listener.IsListening)
        {
            HttpListenerContext context;
            try { context = await listener.GetContextAsync(); }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException) { return; }
            bool isStop = context.Request.Url?.AbsolutePath.EndsWith("/stop", StringComparison.Ordinal) == true;
            if (isStop) stop.Cancel();
            context.Response.StatusCode = isStop ? 200 : 404;
            context.Response.AddHeader("Access-Control-Allow-Origin", "*");
            context.Response.Close();
        }
    }

    static int FreeLoopbackPort()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        try { return ((IPEndPoint)probe.LocalEndpoint).Port; }
        finally { probe.Stop(); }
    }

    public void Dispose() => listener.Close();
}
