using System.Runtime.InteropServices;

namespace Flux2.Native;

/// <summary>
/// P/Invoke to NCCL's C API (nccl.h), the collective engine behind torch.distributed: TorchSharp 0.107 has no
/// torch.distributed, so data-parallel training binds the <c>libnccl.so.2</c> that
/// ships with PyTorch's CUDA wheels (<c>site-packages/nvidia/nccl/lib</c>). Discovery mirrors
/// <see cref="TorchRuntime"/>:
/// <c>FLUX2_NCCL_LIB</c> (a file or its folder), then the libnccl libtorch_cuda already loaded, then
/// <c>nvidia/nccl/lib</c> beside the torch/lib in use, then the default loader path.
/// Only the calls the gradient all-reduce needs are bound; all take the stream handle 0 = CUDA's legacy default stream,
/// the one libtorch runs its kernels on, so NCCL work is ordered after backward and before the optimizer.
/// </summary>
public static class Nccl
{
    public const string LibEnv = "FLUX2_NCCL_LIB";
    public const int UniqueIdBytes = 128; // NCCL_UNIQUE_ID_BYTES
    const string Soname = "libnccl.so.2";

    public enum Result
    {
        Success = 0, UnhandledCudaError = 1, SystemError = 2, InternalError = 3, InvalidArgument = 4,
        InvalidUsage = 5, RemoteError = 6, InProgress = 7
    }
    public enum DataType { Float32 = 7 }
    public enum RedOp { Sum = 0, Avg = 4 }

    static readonly object Gate = new();
    static IntPtr handle;

    /// <summary>Where libnccl was loaded from (after <see cref="EnsureLoaded"/>).</summary>
    public static string? LoadedFrom { get; private set; }

    public static void EnsureLoaded()
    {
        lock (Gate)
        {
            if (handle != IntPtr.Zero) return;
            var tried = new List<string>();
            foreach (var candidate in Candidates())
            {
                tried.Add(candidate);
                if (NativeLibrary.TryLoad(candidate, out handle)) { LoadedFrom = candidate; break; }
            }
            if (handle == IntPtr.Zero)
                throw new TorchLoadException(
                    $"NCCL (libnccl.so.2) was not found (tried: {string.Join(", ", tried)}). Multi-GPU training " +
                    $"needs the NCCL that ships with PyTorch's CUDA wheels (pip install torch; " +
                    $"site-packages/nvidia/nccl/lib) or set {LibEnv}=/path/to/libnccl.so.2.");
            // The [DllImport] declarations below name the soname; once a libnccl.so.2 is loaded, dlopen of that soname
            // returns it, so they bind to the library found here (no assembly-wide import resolver needed).
            int version = 0;
            Check(ncclGetVersion(ref version), "ncclGetVersion");
            Version = version;
        }
    }

    /// <summary>NCCL_VERSION_CODE of the loaded library, e.g. 22703 for 2.27.3.</summary>
    public static int Version { get; private set; }

    /// <summary>The override, then <c>nvidia/nccl/lib</c> beside the torch package in use or found, then the
    /// soname.</summary>
    static IEnumerable<string> Candidates()
    {
        if (Environment.GetEnvironmentVariable(LibEnv) is { Length: > 0 } env)
        {
            yield return Directory.Exists(env) ? Path.Combine(env, "libnccl.so.2") : env;
            yield break;
        }
        // libtorch_cuda links NCCL itself (RPATH into nvidia/nccl/lib): the copy already in the process is the right
        // one.
        if (CudaRuntime.LoadedLibrary("libnccl.so") is { } loaded) yield return loaded;
        var torchLib = Environment.GetEnvironmentVariable(TorchRuntime.TorchLibEnv);
        if (string.IsNullOrEmpty(torchLib) && TorchRuntime.LibTorchSource.StartsWith('/')) torchLib =
            TorchRuntime.LibTorchSource;
        if (string.IsNullOrEmpty(torchLib)) torchLib = TorchRuntime.FindPyTorchLib();
        if (torchLib is not null)
        {
            // <site-packages>/torch/lib -> <site-packages>/nvidia/nccl/lib
            var sitePackages = Path.GetFullPath(Path.Combine(torchLib, "..", ".."));
            yield return Path.Combine(sitePackages, "nvidia", "nccl", "lib", "libnccl.so.2");
            yield return Path.Combine(torchLib, "libnccl.so.2");
        }
        yield return "libnccl.so.2";
    }

    /// <summary>Throws <see cref="NcclException"/> for anything but success (and in-progress, which non-blocking
    /// communicators return while work is being queued).</summary>
    public static Result Check(Result r, string call)
    {
        if (r is Result.Success or Result.InProgress) return r;
        throw new NcclException(r, $"{call} failed: {ErrorString(r)} ({r}){LastError()}");
    }

    public static string ErrorString(Result r)
    {
        try { return Marshal.PtrToStringAnsi(ncclGetErrorString(r)) ?? r.ToString(); }
        catch { return r.ToString(); }
    }

    static string LastError()
    {
        try { return Marshal.PtrToStringAnsi(ncclGetLastError(IntPtr.Zero)) is { Length: > 0 } s ? $": {s}" : ""; }
        catch (EntryPointNotFoundException) { return ""; }
    }

    /// <summary>ncclConfig_t as of NCCL 2.14 (the first release with ncclCommInitRankConfig). Later libraries read a
    /// config by its <c>version</c> field, so this older layout stays valid; fields left at
    /// NCCL_CONFIG_UNDEF_INT.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Config
    {
        public nuint Size;
        public uint Magic;
        public uint Version;
        public int Blocking;
        public int CgaClusterSize, MinCTAs, MaxCTAs;
        public IntPtr NetName;

        public static Config NonBlocking()
        {
            const int undef = int.MinValue;
            return new Config
            {
                Size = (nuint)Marshal.SizeOf<Config>(),
                Magic = 0xcafebeef,
                Version = 21400,
                Blocking = 0,
                CgaClusterSize = undef,
                MinCTAs = undef,
                MaxCTAs = undef,
                NetName = IntPtr.Zero,
            };
        }
    }

    [DllImport(Soname)] public static extern Result ncclGetVersion(ref int version);
    [DllImport(Soname)] public static extern Result ncclGetUniqueId(byte[] uniqueId);
    /// <summary>ncclUniqueId: 128 bytes that ncclCommInitRankConfig takes BY VALUE (on x86-64 the whole struct goes on
    /// the stack; passing a pointer instead shifts every later argument — NCCL then reads a garbage rank).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct UniqueId
    {
        public fixed byte Internal[UniqueIdBytes];

        public static UniqueId From(byte[] bytes)
        {
            if (bytes.Length != UniqueIdBytes)
                throw new ArgumentException($"an NCCL unique id has {UniqueIdBytes} bytes, got {bytes.Length}");
            var id = new UniqueId();
            for (int i = 0; i < UniqueIdBytes; i++) id.Internal[i] = bytes[i];
            return id;
        }
    }

    [DllImport(Soname)]
    public static extern Result ncclCommInitRankConfig(out IntPtr comm, int nranks,
        UniqueId commId, int rank, ref Config config);
    [DllImport(Soname)] public static extern Result ncclCommGetAsyncError(IntPtr comm, out Result asyncError);
    [DllImport(Soname)] public static extern Result ncclCommAbort(IntPtr comm);
    [DllImport(Soname)] public static extern Result ncclCommDestroy(IntPtr comm);
    [DllImport(Soname)]
    public static extern Result ncclAllReduce(IntPtr sendbuff, IntPtr recvbuff, nuint count,
        DataType datatype, RedOp op, IntPtr comm, IntPtr stream);
    [DllImport(Soname)]
    public static extern Result ncclBroadcast(IntPtr sendbuff, IntPtr recvbuff, nuint count,
        DataType datatype, int root, IntPtr comm, IntPtr stream);
    [DllImport(Soname)] public static extern Result ncclGroupStart();
    [DllImport(Soname)] public static extern Result ncclGroupEnd();
    [DllImport(Soname)] static extern IntPtr ncclGetErrorString(Result result);
    [DllImport(Soname)] static extern IntPtr ncclGetLastError(IntPtr comm);
}

/// <summary>An NCCL call failed; <see cref="Result"/> is its code.</summary>
public sealed class NcclException(Nccl.Result result, string message) : Exception(message)
{
    public Nccl.Result Result { get; } = result;
}
