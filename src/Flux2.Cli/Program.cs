using Flux2.Cli;
using Flux2.Cli.Commands;
using Flux2.IO;
using Flux2.Native;
using Flux2.Nn;

return Flux2Cli.Run(args, Console.Out, Console.Error);

namespace Flux2.Cli
{
    /// <summary>Entry point of the <c>flux2</c> command: dispatch, and user errors printed without stack
    /// traces.</summary>
    public static class Flux2Cli
    {
        static readonly (string name, string summary, string help, Func<CliArgs, TextWriter, int> run)[] Commands =
        {
            ("generate", "prompt -> image with any FLUX.2 model (tiny-random, a folder, a cached repo)",
                GenerateCommand.Help, GenerateCommand.Run),
            ("verify-reference", "compare every component with reference outputs (fixture format)",
                VerifyReferenceCommand.Help, VerifyReferenceCommand.Run),
            ("download", "download a Hugging Face repo into the HF cache (resumable, gated-aware)",
                DownloadCommand.Help, DownloadCommand.Run),
            ("pretrain-micro", "reproduce the embedded FLUX.2-micro weights from the procedural corpus",
                PretrainMicroCommand.Help, PretrainMicroCommand.Run),
            ("train", "LoRA training from an ai-toolkit job YAML (progress, samples, checkpoints)", TrainCommand.Help,
                TrainCommand.Run),
            ("bench",
                "time transformer forwards, LoRA training steps (TFLOP/s, MFU) and text-encoder forwards at full " +
                "size; AdamW vs AdamW8bit", BenchCommand.Help, BenchCommand.Run),
            ("eval", "trigger strength and bleed of a LoRA on fixed prompts and seeds (eval.json, eval.md)",
                EvalCommand.Help, EvalCommand.Run),
            ("eval-base", "base-model sanity: do simple shape prompts give the asked colours and shape?",
                EvalBaseCommand.Help, EvalBaseCommand.Run),
            ("lora",
             "convert LoRA files between ComfyUI/ai-toolkit and diffusers layouts (exact); show what a file holds",
             LoraCommand.Help, LoraCommand.Run),
            ("synth-dataset", "generate the procedural shape datasets (LoRA samples in datasets-sample/, corpus)",
                DatasetsCommand.Help, DatasetsCommand.Run),
        };

        public static int Run(string[] argv, TextWriter output, TextWriter error)
        {
            if (argv.Length == 0 || argv[0] is "help" or "--help" or "-h")
            {
                var topic = argv.Length > 1 ? Commands.FirstOrDefault(c => c.name == argv[1]) : default;
                if (topic.name != null) { output.WriteLine(topic.help); return 0; }
                output.WriteLine("usage: ./flux2 <command> [options]\n\ncommands:");
                foreach (var c in Commands) output.WriteLine($"  {c.name,-18} {c.summary}");
                output.WriteLine("\n./flux2 help <command> shows a command's options.");
                return argv.Length == 0 ? 2 : 0;
            }
            var cmd = Commands.FirstOrDefault(c => c.name == argv[0]);
            if (cmd.name == null)
            {
                error.WriteLine($"flux2: unknown command '{argv[0]}'. Commands: " +
                    $"{string.Join(", ", Commands.Select(c => c.name))}");
                return 2;
            }
            try { return cmd.run(new CliArgs(cmd.name, argv.Skip(1)), output); }
            catch (Exception e) { return Fail(cmd.name, e, error); }
        }

        /// <summary>Reports an exception that ended <paramref name="command"/>: a user error as one line (exit 2),
        /// anything else as a bug with its stack trace (exit 1).</summary>
        public static int Fail(string command, Exception e, TextWriter error)
        {
            if (IsUserError(e))
            {
                error.WriteLine($"flux2 {command}: {e.Message}");
                return 2;
            }
            error.WriteLine($"flux2 {command}: internal error; this is a bug, please report it with the command line " +
                            $"and this output:\n{e}");
            return 1;
        }

        /// <summary>Errors caused by input (files, arguments, environment) rather than by a bug. Argument, key and
        /// not-supported exceptions are not among them: code raises those for its own mistakes, and a user error
        /// that surfaces as one is turned into a <see cref="UserError"/> where the input is known.</summary>
        static bool IsUserError(Exception e) => e is UserError or InvalidDataException or FileNotFoundException
            or DirectoryNotFoundException or ConfigException or SafetensorsException or WeightLoadException
            or TorchLoadException or PickleRefusedException or Flux2.IO.Hub.HubException or OutputWriteException;
    }
}
