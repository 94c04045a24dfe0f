using System.Diagnostics;
using System.Runtime.InteropServices;
using TorchSharp;

namespace Flux2.Native;

/// <summary>
/// Makes TorchSharp loadable with no manual step, on CPU with the NuGet libtorch and on CUDA with an installed PyTorch:
/// 1. applies the GLIBCXX weak-version fix to the libLibTorchSharp.so that will be loaded (build output, test output,
///    or the NuGet cache when a notebook pulls TorchSharp by package);
/// 2. finds libtorch: the CPU package next to TorchSharp.dll, or an installed PyTorch's <c>torch/lib</c>
///    (override with <c>FLUX2_TORCH_LIB=/path/to/torch/lib</c>), preloading its libraries by full path;
/// 3. turns load failures into one clear message saying what to do.
/// Call <see cref="EnsureLoaded"/> before the first torch call; it is idempotent and thread-safe.
/// </summary>
public static class TorchRuntime
{
    public const string TorchLibEnv = "FLUX2_TORCH_LIB";
    static readonly object Gate = new();
    static bool loaded;

    public const string AllocatorConfEnv = "PYTORCH_CUDA_ALLOC_CONF", DefaultAllocatorConf = "expandable_segments:True";

    /// <summary>Where libtorch came from: "cpu-package" or the torch/lib folder used.</summary>
    public static string LibTorchSource { get; private set; } = "not loaded";

    public static void EnsureLoaded()
    {
        lock (Gate)
        {
            if (loaded) return;
            // libgomp reads OMP_WAIT_POLICY once, when libtorch loads. Its default busy-waits between parallel regions,
            // which on a 2-core machine shared with other work (CI, a notebook kernel, parallel tests) slowed torch ops
            // more than 20x; PASSIVE sleeps instead. Set natively (the .NET environment does not reach native getenv)
            // and only when the user has not chosen.
            if (Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is null) setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
            // libtorch's CUDA caching allocator reads this on its first allocation. Expandable segments grow one
            // mapping instead of caching fixed-size segments, so blocks freed between training phases are reused
            // without fragmentation: FLUX.2-dev tier C at 1024² peaks 0.7 GiB lower with them (docs/performance.md).
            // The user's own setting wins.
            if (Environment.GetEnvironmentVariable(AllocatorConfEnv) is null)
                setenv(AllocatorConfEnv, DefaultAllocatorConf, 0);
            var torchSharpDir = Path.GetDirectoryName(typeof(torch).Assembly.Location)!;
            var bridge = FindLibTorchSharp(torchSharpDir);
            if (bridge != null) PatchIfNeeded(bridge);

            var torchLib = Environment.GetEnvironmentVariable(TorchLibEnv);
            if (string.IsNullOrEmpty(torchLib) && File.Exists(Path.Combine(torchSharpDir, "libtorch_cpu.so")))
                LibTorchSource = "cpu-package";
            else
            {
                torchLib = string.IsNullOrEmpty(torchLib) ? FindPyTorchLib() : torchLib;
                if (torchLib == null || !File.Exists(Path.Combine(torchLib, "libtorch.so")))
                    throw new TorchLoadException(
                        "libtorch was not found. This build has no CPU libtorch (built with " +
                        "-p:Flux2CpuLibTorch=false) and no " +
                        "PyTorch install was discovered. Install PyTorch (pip install torch) or set " + TorchLibEnv +
                        "=<site-packages>/torch/lib; or rebuild without " +
                        "-p:Flux2CpuLibTorch=false. See environment.md.");
                PreloadPyTorch(torchLib);
                LibTorchSource = torchLib;
            }
            try
            {
                if (bridge != null) NativeLibrary.Load(bridge);
                torch.InitializeDeviceType(DeviceType.CPU);
            }
            catch (Exception e)
            {
                throw new TorchLoadException(
                    $"TorchSharp failed to load its native library ({bridge ?? "libLibTorchSharp.so not found"}; " +
                    $"libtorch from {LibTorchSource}): {Innermost(e).Message}. If the message names GLIBCXX, the " +
                    "automatic libstdc++ fix could not be applied (is the file writable?). See environment.md, " +
                    "'Troubleshooting'.", e);
            }
            loaded = true;
        }
    }

    /// <summary>Resolves a device string: "cpu", "cuda", "cuda:1", or "auto" (CUDA when available).</summary>
    public static torch.Device Device(string spec = "auto")
    {
        EnsureLoaded();
        if (spec == "auto") return torch.cuda.is_available() ? new torch.Device("cuda") : torch.CPU;
        if (spec.StartsWith("cuda"))
        {
            bool initialised;
            try { torch.InitializeDeviceType(DeviceType.CUDA); initialised = true; }
            catch (InvalidOperationException) { initialised = false; } // a CPU-only libtorch has no CUDA backend
            if (!initialised || !torch.cuda.is_available())
                throw new TorchLoadException($"device '{spec}' asked for, but CUDA is not available to this libtorch " +
                    $"({LibTorchSource}). Use a PyTorch CUDA install (environment.md) or device 'cpu'.");
        }
        try { return new torch.Device(spec); }
        catch (ArgumentException e)
        {
            throw new UserError($"device '{spec}' is not a device: use auto, cpu, cuda or cuda:N", e);
        }
    }

    static string? FindLibTorchSharp(string torchSharpDir)
    {
        var flat = Path.Combine(torchSharpDir, "libLibTorchSharp.so");
        if (File.Exists(flat)) return flat;
        // NuGet cache layout: <pkg>/lib/net*/TorchSharp.dll and <pkg>/runtimes/linux-x64/native/libLibTorchSharp.so
        var pkg = Path.GetFullPath(Path.Combine(torchSharpDir, "..", ".."));
        var nested = Path.Combine(pkg, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        return File.Exists(nested) ? nested : null;
    }

    static void PatchIfNeeded(string bridge)
    {
        if (GlibcxxWeakVersionPatch.SystemLibStdCxxHas() || !GlibcxxWeakVersionPatch.NeedsPatch(bridge)) return;
        try { GlibcxxWeakVersionPatch.Apply(bridge); }
        catch (UnauthorizedAccessException)
        {
            throw new TorchLoadException(
                $"{bridge} needs {GlibcxxWeakVersionPatch.MissingVersion}, which this system's libstdc++ " +
                "lacks (Debian 12 / Ubuntu 22.04), and the file is not writable so the automatic fix could " +
                "not be applied. Run once with write access: ./flux2 doctor --fix-native, or copy the " +
                "build output somewhere writable.");
        }
    }

    /// <summary>torch/lib of an installed PyTorch: virtualenv/conda, common site-packages, then python3
    /// itself.</summary>
    public static string? FindPyTorchLib()
    {
        var roots = new List<string>();
        foreach (var env in new[] { "VIRTUAL_ENV", "CONDA_PREFIX" })
            if (Environment.GetEnvironmentVariable(env) is { Length: > 0 } p) roots.Add(Path.Combine(p, "lib"));
        roots.AddRange(new[] { "/usr/local/lib", "/usr/lib",
            Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "lib") });
        foreach (var root in roots.Where(Directory.Exists))
            foreach (var py in Directory.EnumerateDirectories(root, "python3*"))
                foreach (var sp in new[] { "site-packages", "dist-packages" })
                {
                    var lib = Path.Combine(py, sp, "torch", "lib");
                    if (File.Exists(Path.Combine(lib, "libtorch.so"))) return lib;
                }
        try
        {
            var psi =
                new ProcessStartInfo("python3",
                    "-c \"import torch,os;print(os.path.join(os.path.dirname(torch.__file__),'lib'))\"")
                { RedirectStandardOutput = true, RedirectStandardError = true };
            using var proc = Process.Start(psi)!;
            var line = proc.StandardOutput.ReadToEnd().Trim();
            proc.WaitForExit(30_000);
            return proc.ExitCode == 0 && Directory.Exists(line) ? line : null;
        }
        catch { return null; }
    }

    static void PreloadPyTorch(string lib)
    {
        // Dependency order; a later dlopen("libtorch.so") by TorchSharp then finds these by soname.
        foreach (var name in new[] { "libc10.so", "libtorch_cpu.so", "libc10_cuda.so", "libtorch_cuda.so",
            "libtorch.so" })
        {
            var f = Path.Combine(lib, name);
            if (File.Exists(f)) NativeLibrary.Load(f);
        }
    }

    [DllImport("libc", CharSet = CharSet.Ansi)]
    static extern int setenv(string name, string value, int overwrite);
    [DllImport("libc", CharSet = CharSet.Ansi)]
    static extern IntPtr getenv(string name);

    /// <summary>The CUDA caching allocator's settings as libtorch sees them (the native environment, which .NET's
    /// <see cref="Environment"/> does not reflect after <see cref="EnsureLoaded"/> set the default).</summary>
    public static string AllocatorConf
    {
        get { EnsureLoaded(); return Marshal.PtrToStringAnsi(getenv(AllocatorConfEnv)) ?? ""; }
    }

    static Exception Innermost(Exception e) => e.InnerException == null ? e : Innermost(e.InnerException);
}

/// <summary>TorchSharp/libtorch could not be loaded; the message says why and what to do.</summary>
public sealed class TorchLoadException(string message, Exception? inner = null) : Exception(message, inner);
