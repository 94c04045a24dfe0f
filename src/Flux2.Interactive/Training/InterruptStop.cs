using System.Collections;
using System.Reflection;
using System.Runtime.InteropServices;

namespace Flux2.Interactive.Training;

/// <summary>
/// The front end's Interrupt during a notebook training run. Jupyter interrupts a kernel whose kernelspec has
/// interrupt_mode "signal" (the kernelspec scripts/setup-notebooks.sh installs) with a SIGINT to the kernel process.
/// While the run trains, this SIGINT only cancels the run the way the Stop button and Ctrl-C on the CLI do: the trainer
/// finishes the current step, saves a checkpoint with its training state and returns, and the kernel with its
/// variables stays alive. Outside a run SIGINT does what the kernel itself does with it: the .NET kernel
/// (Microsoft.dotnet-interactive 1.0.712001) runs in a generic host whose console lifetime stops the process.
/// </summary>
/// <remarks>
/// A SIGINT handler of its own cannot keep the process alive: the runtime calls every handler registered with
/// <see cref="PosixSignalRegistration"/>, the host's included, and the public API cannot unregister another's
/// handler. So while the run trains, the other SIGINT handlers are taken out of the runtime's table of registrations
/// (its private static <c>s_registrations</c>: signal number → handlers, locked on itself) and put back, in front of
/// the run's own, when it ends. On a runtime without that table nothing is taken over and Interrupt does what the
/// kernel does; the Stop button still stops the run.
/// </remarks>
sealed class InterruptStop : IDisposable
{
    const int SigInt = 2; // Linux and macOS

    static readonly FieldInfo? Registrations =
        typeof(PosixSignalRegistration).GetField("s_registrations", BindingFlags.NonPublic | BindingFlags.Static);

    readonly IDictionary table;
    readonly PosixSignalRegistration registration;
    readonly object?[] others;

    InterruptStop(IDictionary table, CancellationTokenSource stop)
    {
        this.table = table;
        lock (table)
        {
            others = table[SigInt] is IList before ? before.Cast<object?>().ToArray() : [];
            registration = PosixSignalRegistration.Create(PosixSignal.SIGINT, context =>
            {
                context.Cancel = true;
                stop.Cancel();
            });
            var handlers = (IList)table[SigInt]!;
            foreach (var other in others) handlers.Remove(other);
        }
    }

    /// <summary>Makes SIGINT cancel <paramref name="stop"/> until disposed; null where the runtime's table of
    /// registrations is not the one this expects.</summary>
    public static InterruptStop? TryStart(CancellationTokenSource stop) =>
        Registrations?.GetValue(null) is IDictionary table
        && table.GetType().GetGenericArguments() is [var key, var value]
        && key == typeof(int) && typeof(IList).IsAssignableFrom(value)
            ? new InterruptStop(table, stop)
            : null;

    public void Dispose()
    {
        lock (table)
        {
            var handlers = (IList)table[SigInt]!;
            for (int i = 0; i < others.Length; i++) handlers.Insert(i, others[i]);
            registration.Dispose();
        }
    }
}
