class P{static int Main(string[] a){Flux2.Native.TorchRuntime.EnsureLoaded(); System.Console.WriteLine("ok"); return 0;}}
