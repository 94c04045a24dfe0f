using Flux2.Nn.Offload;
using Flux2.Pipeline;
using Flux2.Training.Config;
using Flux2.Training.Data;
using Flux2.Training.Network;
using Flux2.Training.Objective;
using Flux2.Training.Previews;
using Flux2.Training.State;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Flux2.Training;

/// <summary>
/// LoRA training of a FLUX.2 transformer (docs/ai-toolkit-compat.md §2.1): bucketed batches from the
/// latent cache, captions through <see cref="CaptionRules"/>, prompt embeds (cached per caption text when
/// shuffle_tokens is off, since the text encoder is frozen — dropout then only adds the trigger-only caption), t from
/// <see cref="TimestepDraw"/>, ε from a seeded CPU generator, <see cref="FlowMatchLoss"/>. Determinism: one
/// <see cref="TrainerRandom"/> (data order, dropout, timesteps) and one torch generator (noise), both from train.seed;
/// both, and the data-order cursor, go into the training state so a resumed run draws what the killed one would have.
/// </summary>
public sealed class Flux2LoraTask : ITrainingTask, IDisposable
{
    readonly Flux2Models models;
    readonly JobFile job;
    readonly ProcessConfig p;
    readonly DatasetScan scan;
    readonly LatentCache latents;
    readonly BatchOrder order;
    /// <summary>The items of training datasets and of regularization datasets (is_reg); each has its own
    /// order.</summary>
    readonly IReadOnlyList<DatasetItem> trainItems, regItems;
    readonly BatchOrder? regOrder;
    /// <summary>Whether some dataset sets a network_weight other than 1 (the adapters' multipliers are then set for
    /// every batch).</summary>
    readonly bool weighted;
    int lastStep, microIndex;
    readonly TrainerRandom rng;
    readonly Generator noiseGenerator;
    readonly TimestepDraw timesteps;
    readonly SampleGrid grid;
    readonly TextEmbeddingCache? textCache;
    readonly BatchShard shard;

    public LoraNetwork Network { get; }
    public string RunFolder { get; }
    public DatasetScan Dataset => scan;
    public IReadOnlyList<Parameter> TrainableParameters { get; }
    readonly CheckpointInputOffloader? inputOffloader;
    public int Epoch => order.Epoch;

    /// <param name="shard">this rank's slice of each global batch in data-parallel training
    /// (<see cref="BatchShard"/>).</param>
    public Flux2LoraTask(Flux2Models models, JobFile job, Action<string>? log = null, BatchShard? shard = null)
    {
        this.models = models;
        this.shard = shard ?? BatchShard.Single;
        this.job = job;
        p = job.Process;
        RunFolder = Path.Combine(p.TrainingFolder, job.Config.Name);
        var seed = p.Train.Seed;
        manual_seed(seed);
        rng = new TrainerRandom(seed);
        noiseGenerator = new Generator((ulong)seed);
        var pipe = models.Pipeline;
        scan = DatasetScanner.Scan(p.Datasets, pipe.PixelsPerToken);
        foreach (var problem in scan.Problems) log?.Invoke(problem.ToString());
        log?.Invoke("dataset: " + scan.Summary());
        var device = models.Transformer.Device;
        // Control images of edit pairs are encoded like targets (same bucket and flip), keyed by their own path.
        var toEncode = scan.Items.Concat(scan.Items.SelectMany(i => Enumerable.Range(0, i.Controls.Count)
            .Select(i.Control))).ToList();
        using (models.InUse(models.Vae))
            latents = LatentCache.Build(toEncode, p.Datasets.Select(d => d.CacheLatentsToDisk).ToList(), models.Vae,
                                        $"{models.Origin}|{models.Vae.Config.LatentChannels}|{pipe.PixelsPerToken}",
                                        device);
        log?.Invoke($"latents cached for " +
            $"{toEncode.Select(i => (i.ImagePath, i.Width, i.Height, i.FlipX, i.FlipY)).Distinct().Count()} image " +
            $"variants");
        trainItems = scan.Items.Where(i => !p.Datasets[i.DatasetIndex].IsReg).ToList();
        regItems = scan.Items.Where(i => p.Datasets[i.DatasetIndex].IsReg).ToList();
        if (trainItems.Count == 0)
            throw new UserError("no usable training images: every usable image is in an is_reg dataset");
        if (!p.Train.UnloadTextEncoder)
        {
            var overflows = CaptionWindow.Find(trainItems, p.TriggerWord, models.Tokenizer)
                .Concat(CaptionWindow.Find(regItems, p.TriggerWord, models.Tokenizer, addTrigger: false)).ToList();
            var warning = CaptionWindow.Warning(overflows, scan.Items.DistinctBy(i => i.ImagePath).Count(),
                models.Tokenizer.MaxLength);
            if (warning is not null) log?.Invoke(warning);
        }
        textCache = TextCachePolicy.Create(models, p, RunFolder, device, log);
        PrefillTextCache(log);
        order = new BatchOrder(trainItems, this.shard.GlobalBatch(p.Train.BatchSize), rng);
        if (regItems.Count > 0)
        {
            regOrder = new BatchOrder(regItems, this.shard.GlobalBatch(p.Train.BatchSize), rng);
            log?.Invoke($"regularization: {regItems.Count} images, every second micro-batch (not on save or sample " +
                $"steps), loss × reg_weight {p.Train.RegWeight}");
        }
        weighted = p.Datasets.Any(d => d.NetworkWeight != 1.0);
        if (p.Train.UnloadTextEncoder)
            log?.Invoke($"unload_text_encoder: every training caption is '{p.TriggerWord ?? ""}' (the trigger word; " +
                "regularization images: the empty caption), as in ai-toolkit");
        if (!p.Model.ModelKwargs.MatchTargetRes && p.Datasets.Any(d => d.ControlPaths.Count > 0))
            log?.Invoke("model.model_kwargs.match_target_res is false, but this kit always encodes control images " +
                "in their target's bucket (ai-toolkit's match_target_res: true)");
        timesteps = TimestepDraw.From(p.Train);
        Network = LoraNetwork.Attach(models.Transformer, p.Network, seed);
        if (p.Network.PretrainedLoraPath is { Length: > 0 } pretrained)
            log?.Invoke($"network starts from {pretrained}: " +
                $"{Network.LoadWeights(pretrained)} layers loaded");
        TrainableParameters = Network.Parameters.ToList();
        models.Transformer.Runner.Checkpointing = p.Train.GradientCheckpointing;
        if (p.Train.GradientCheckpointing && p.Train.GradientCheckpointingCpuOffload && device.type == DeviceType.CUDA)
            models.Transformer.Runner.InputOffloader = inputOffloader = new CheckpointInputOffloader(device);
        log?.Invoke((Network.Type == NetworkType.Lokr
                ? $"LoKr (factor {p.Network.LokrFactor}, full rank {p.Network.LokrFullRank}): " : "LoRA: ") +
            $"{Network.Modules.Count} layers, rank {Network.Rank}, alpha {Network.Alpha}, " +
            $"{Network.ParameterCount:N0} trainable parameters" +
            (p.Train.GradientCheckpointing ? "; gradient checkpointing per block" : "") +
            (inputOffloader is null ? "" : ", saved block inputs in pinned CPU memory"));
        grid = new SampleGrid(models, p.Sample, p.TriggerWord, Path.Combine(RunFolder, "samples"), Network,
            "config.process[0].sample");
        if (p.Model.LowVram) KeepIdlePartsOnCpu(log);
    }

    public void Backward(Tensor loss) => models.Transformer.Runner.Backward(loss);

    public void DiscardForward() => models.Transformer.Runner.DiscardForward();

    public MicroBatchLoss Loss(int step)
    {
        // Captions, t and ε are drawn for the whole global batch, then sliced (BatchShard): ranks stay in step.
        microIndex = step == lastStep ? microIndex + 1 : 0;
        lastStep = step;
        bool reg = IsRegularization(step, microIndex);
        var global = reg ? regOrder!.Next().Select(i => regItems[i]).ToList()
            : order.Next().Select(i => trainItems[i]).ToList();
        var allCaptions = global.Select(item =>
        {
            var d = p.Datasets[item.DatasetIndex];
            if (p.Train.UnloadTextEncoder) return reg ? "" : p.TriggerWord ?? "";
            return CaptionRules.ForTraining(item.Caption, p.TriggerWord, d.CaptionDropoutRate, d.ShuffleTokens,
                d.KeepTokens, rng, addTrigger: !reg);
        }).ToList();
        var batch = shard.Take(global);
        var captions = shard.Take(allCaptions);
        var x0 = stack(batch.Select(item => latents[item]).ToArray());
        var ts = shard.Take(timesteps.Draw(global.Count, (int)(x0.shape[2] * x0.shape[3]), rng));
        var noise = shard.Slice(randn(new[] { (long)global.Count }.Concat(x0.shape.Skip(1)).ToArray(),
            generator: noiseGenerator)).to(x0.device);
        var references = References(batch);
        // The multipliers stay set until the next batch: a checkpointed block recomputes its forward in backward.
        if (weighted) Network.SetMultipliers(batch.Select(i => p.Datasets[i.DatasetIndex].NetworkWeight).ToList());
        var loss = FlowMatchLoss.Compute(models.Transformer, x0, Embed(captions), noise, ts, p.Train.CfgScale,
            references, LossFunction.From(p.Train));
        if (p.Train.DiffOutputPreservation)
        {
            var preservation = captions.Select(c => CaptionRules.ForPreservation(c, p.TriggerWord!,
                p.Train.DiffOutputPreservationClass)).ToList();
            loss = loss + DifferentialOutputPreservation.Loss(models.Transformer, Network, x0, Embed(preservation),
                noise, ts, p.Train.CfgScale, p.Train.DiffOutputPreservationMultiplier, references);
        }
        if (p.Train.BlankPromptPreservation)
            loss = loss + DifferentialOutputPreservation.Loss(models.Transformer, Network, x0,
                Embed(captions.Select(_ => "").ToList()), noise, ts, p.Train.CfgScale,
                p.Train.BlankPromptPreservationMultiplier, references);
        if (reg) loss = loss * p.Train.RegWeight;
        return new MicroBatchLoss(loss, ts.Average(t => t.T));
    }

    /// <summary>ai-toolkit's choice of a regularization batch: with 0-based step s and micro-batch b, when s + b is
    /// even, unless s is a save step or a sample step (s = 0 is a save step, so the first batch is never
    /// one).</summary>
    bool IsRegularization(int step, int micro)
    {
        if (regOrder is null) return false;
        int s = step - 1;
        bool save = s % p.Save.SaveEvery == 0;
        bool sample = !p.Train.DisableSampling && s >= p.Sample.SampleStartStep && s % p.Sample.SampleEvery == 0;
        return (s + micro) % 2 == 0 && !save && !sample;
    }

    /// <summary>Fixed inputs: up to 8 samples of the dataset, each at t = 0.25, 0.5, 0.75 with noise from a fixed
    /// seed and the caption without dropout or shuffle.</summary>
    public double Evaluate()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        using var gen = new Generator(1234);
        if (weighted) Network.SetMultipliers([1.0]);
        var items = scan.Items.DistinctBy(i => (i.ImagePath, i.BucketKey, i.FlipX, i.FlipY)).Take(8).ToList();
        double total = 0;
        int n = 0;
        foreach (var item in items)
            foreach (var t in new[] { 0.25, 0.5, 0.75 })
            {
                var x0 = latents[item].unsqueeze(0);
                var noise = randn(x0.shape, generator: gen).to(x0.device);
                var caption = CaptionRules.InjectTrigger(item.Caption, p.TriggerWord, addIfMissing: true);
                total += FlowMatchLoss.Compute(models.Transformer, x0, Embed(new[] { caption }), noise,
                                               new[] { new Timestep(t, 1.0) }, p.Train.CfgScale,
                                               References(new[] { item })).item<float>();
                n++;
            }
        return total / n;
    }

    public SampleReport? Sample(int step)
    {
        if (weighted) Network.SetMultipliers([1.0]);
        return grid.Render(step);
    }

    public SaveReport Save(int step, bool final, TrainingState state)
        => new(step, LoraCheckpoint.Save(RunFolder, Network, job, step, Epoch, final, state), final);

    public void CaptureState(TrainingState state)
    {
        state.Put("task.network", NetworkDescription());
        state.Put("task.rng", rng.State);
        state.PutTensor("task.noise_generator", noiseGenerator.get_state());
        state.PutTensor("task.lora_dropout_generator", Network.DropoutGenerator.get_state());
        state.Put("task.data_order", order.Cursor);
        if (regOrder is not null) state.Put("task.reg_data_order", regOrder.Cursor);
    }

    public void RestoreState(TrainingState state)
    {
        var saved = state.Get<string>("task.network");
        var now = NetworkDescription();
        if (saved != now)
            throw new ResumeMismatchException(Describe(saved) == Describe(now)
                ? $"the checkpoint's LoRA sits on other layers than this job's ({Describe(now)}, but network_kwargs " +
                    $"select different ones)"
                : $"the checkpoint's LoRA network differs from this job's ({Describe(saved)} vs now {Describe(now)})");
        try { rng.State = state.Get<ulong[]>("task.rng"); }
        catch (ArgumentException e) { throw new InvalidDataException($"training state value 'task.rng': {e.Message}"); }
        noiseGenerator.set_state(state.GetTensor("task.noise_generator"));
        if (state.Has("task.lora_dropout_generator"))
            Network.DropoutGenerator.set_state(state.GetTensor("task.lora_dropout_generator"));
        // Saved with another GPU count, the global batches have another size: the same sample stream, re-cut.
        order.Cursor = BatchRegrouping.Regroup(state.Get<BatchOrder.Position>("task.data_order"), trainItems,
            shard.GlobalBatch(p.Train.BatchSize));
        if (regOrder is not null && state.Has("task.reg_data_order"))
            regOrder.Cursor = BatchRegrouping.Regroup(state.Get<BatchOrder.Position>("task.reg_data_order"),
                regItems, shard.GlobalBatch(p.Train.BatchSize));
    }

    /// <summary>The captions training draws: each item's, the trigger-only caption of caption dropout, their DOP
    /// preservation twins, the empty prompt of blank prompt preservation. With the text cache on they are all encoded
    /// up front (<see cref="PrefillTextCache"/>).</summary>
    List<string> TrainingCaptions()
    {
        if (p.Train.UnloadTextEncoder)
        {
            var fixedCaptions = new List<string> { p.TriggerWord ?? "" };
            if (regItems.Count > 0 || p.Train.BlankPromptPreservation) fixedCaptions.Add("");
            if (p.Train.DiffOutputPreservation)
                fixedCaptions.AddRange(fixedCaptions.Select(c => CaptionRules.ForPreservation(c, p.TriggerWord!,
                    p.Train.DiffOutputPreservationClass)).ToList());
            return fixedCaptions.Distinct().ToList();
        }
        var texts = trainItems.Select(i => i.Caption);
        if (p.Datasets.Any(d => d.CaptionDropoutRate > 0)) texts = texts.Append("");
        // a dropped caption: the trigger alone
        var captions = texts.Select(c => CaptionRules.InjectTrigger(c, p.TriggerWord, addIfMissing: true))
            .Concat(regItems.Select(i => CaptionRules.InjectTrigger(i.Caption, p.TriggerWord, addIfMissing: false)))
            .ToList();
        if (p.Train.DiffOutputPreservation)
            captions.AddRange(captions.Select(c => CaptionRules.ForPreservation(c, p.TriggerWord!,
                p.Train.DiffOutputPreservationClass)).ToList());
        if (p.Train.BlankPromptPreservation) captions.Add("");
        return captions.Distinct().ToList();
    }

    /// <summary>Captions encoded this many per text-encoder call: under low_vram each call streams every layer of the
    /// encoder through the GPU once (15.5 s for Mistral-Small in fp8, docs/performance.md), so batching divides
    /// that.</summary>
    const int CaptionBatch = 8;

    /// <summary>Encodes every training caption now, in batches, the same way with or without low_vram (so both train
    /// identically); under low_vram the text encoder streams its layers through the GPU meanwhile.</summary>
    void PrefillTextCache(Action<string>? log)
    {
        if (textCache is null) return;
        var captions = TrainingCaptions();
        var sw = System.Diagnostics.Stopwatch.StartNew();
        using (models.InUse(models.TextEncoder.Model)) textCache.Prefill(captions, CaptionBatch);
        log?.Invoke($"text embeddings of {captions.Count} captions ready in {sw.Elapsed.TotalSeconds:F1} s " +
            $"({textCache.Encoded} encoded, {textCache.ReadFromDisk} read from disk)");
    }

    /// <summary>low_vram: after the captions are cached, the text encoder and the VAE wait in CPU memory; anything
    /// encoded or decoded later (samples, a caption not seen here) brings them back for that call
    /// (<see cref="Flux2Models.InUse"/>).</summary>
    void KeepIdlePartsOnCpu(Action<string>? log)
    {
        models.KeepIdlePartsOnCpu();
        log?.Invoke(models.Transformer.Device.type == DeviceType.CPU
            ? "low_vram: everything is on the CPU already (nothing to move)"
            : "low_vram: text encoder and VAE moved to CPU memory; " +
              $"they come to {models.Transformer.Device} only while encoding or decoding");
    }

    /// <summary>Rank, alpha and the targeted layers: what must match for saved weights and moments to mean the
    /// same.</summary>
    string NetworkDescription() =>
        (Network.Type == NetworkType.Lokr ? "lokr, " : "") +
        $"rank {Network.Rank}, alpha {Network.Alpha}, {Network.Modules.Count} layers" +
            (Network.FusedQkv ? " (q/k/v of each attention share one adapter)" : "") + ": " +
            string.Join(",", Network.Modules.Select(m => m.Name));

    static string Describe(string description) => description.Split(':')[0];

    /// <summary>The batch's control images as reference tokens (null for plain datasets); a batch shares one bucket
    /// key, so every item has the same number of controls at the same size.</summary>
    ReferenceTokens? References(IReadOnlyList<DatasetItem> batch)
        => ReferenceTokens.From(Enumerable.Range(0, batch[0].Controls.Count)
                                          .Select(k => stack(batch.Select(item => latents[item.Control(k)]).ToArray()))
                                          .ToList());

    Tensor Embed(IReadOnlyList<string> captions)
    {
        using var _ = no_grad();
        if (textCache is null) return models.EncodePrompts(captions);
        return cat(captions.Select(c => textCache[c]).ToArray(), 0);
    }

    public void Dispose()
    {
        if (inputOffloader is not null)
        {
            var runner = models.Transformer.Runner;
            if (ReferenceEquals(runner.InputOffloader, inputOffloader)) runner.InputOffloader = null;
            inputOffloader.Dispose();
        }
        Network.Dispose();
        latents.Dispose();
        noiseGenerator.Dispose();
        textCache?.Dispose();
    }
}
