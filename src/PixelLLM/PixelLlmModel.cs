using System.Runtime.CompilerServices;
using System.Threading.Channels;
using PixelLLM.Backends.Cpu;
using PixelLLM.Models;
using PixelLLM.Models.Tokenizers;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;

namespace PixelLLM;

/// <summary>
/// A loaded PixelLLM: load once, then caption, caption boxes and locate referring expressions, from any number of threads.
/// Coordinates in and out are pixels of the ORIGINAL image (the model's resize to its eval size is undone). Requests on one
/// model share its weights; each running request has its own compiled graphs (see <see cref="PixelLlmOptions.MaxConcurrentRequests"/>).
/// Dispose it when no request is running.
/// </summary>
public sealed partial class PixelLlmModel : IDisposable
{
    /// <summary>Longest text (characters) a request accepts before tokenising.</summary>
    public const int MaxTextLength = 2000;

    private readonly LoadedModelFiles files;
    private readonly IBackend backend;
    private readonly IBackend device;
    private readonly ExecutorPool pool;
    private readonly PixelLlmOptions options;

    private PixelLlmModel(LoadedModelFiles files, IBackend backend, IBackend device, PixelLlmOptions options)
    {
        this.files = files;
        this.backend = backend;
        this.device = device;
        this.options = options;
        // One device queue: GPU requests run one at a time (the CPU backend keeps no per-call state and runs them side by side).
        int capacity = options.Backend == ComputeBackend.Cuda ? 1 : options.MaxConcurrentRequests;
        pool = new ExecutorPool(files.Config, files.Weights, backend, capacity, options.Threads, stages.Forget);
    }

    /// <summary>Opens a model directory (config.json + safetensors + tokenizer; format in the README).</summary>
    /// <exception cref="ModelFileException">The directory, its config, weights or tokenizer are missing or do not agree.</exception>
    /// <exception cref="BackendException">The backend is not available.</exception>
    public static PixelLlmModel Load(string modelDirectory, PixelLlmOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(modelDirectory);
        options ??= new PixelLlmOptions();
        options.Validate();
        var files = ModelLoading.Open(modelDirectory, options.Precision, options.Backend);
        IBackend? backend = null, device = null;
        try
        {
            ModelMemoryCheck.Check(files.Path, files.Memory, options);
            RequestLimits.CheckModel(files.Path, ModelDecodeShapes.Of(files.Config), options);
            backend = device = CreateBackend(options, files.Precision);
            if (options.Profiler is { } profiler) backend = profiler.Wrap(device);
            return new PixelLlmModel(files, backend, device, options);
        }
        catch
        {
            backend?.Dispose();
            foreach (var f in files.OpenFiles) f.Dispose();
            throw;
        }
    }

    /// <summary>The model's name from its config.json, if any.</summary>
    public string? Name => files.Name;

    /// <summary>Side of the square canvas the image is resized into (384 for the paper's models).</summary>
    public int Canvas => files.Config.Canvas;

    /// <summary>Decoder length L: captions have at most L − 2 tokens.</summary>
    public int MaxCaptionLength => files.Config.MaxCaptionLength;

    /// <summary>Whether the model predicts per-token points (trace boxes, referring boxes).</summary>
    public bool HasPointHead => files.Config.PointHead is not null;

    /// <summary>
    /// The precision the model runs at (<see cref="PixelLlmOptions.Precision"/> resolved: never <see cref="ComputePrecision.Auto"/>).
    /// </summary>
    public ComputePrecision Precision => files.Precision;

    /// <summary>The backend in use ("cpu", "cuda").</summary>
    public string BackendName => backend.Name;

    /// <summary>Decodes an image file with this model's pixel limit.</summary>
    /// <exception cref="InvalidInputException">Unreadable, corrupt or too large.</exception>
    public PixelImage LoadImage(string path) => PixelImage.Load(path, options.MaxImagePixels);

    /// <summary>The largest image this model's options let <see cref="LoadImage"/> decode (serve applies it to base64 images too).</summary>
    internal long MaxImagePixels => options.MaxImagePixels;

    /// <summary>
    /// Caption with per-token trace of the whole image (no <paramref name="box"/>: the <c>*_trace</c> task, beam 4) or of one
    /// region (the location-conditioned task, greedy).
    /// </summary>
    /// <exception cref="InvalidInputException">The box is degenerate or outside the image.</exception>
    public CaptionResult Caption(PixelImage image, Box? box = null, RequestOptions? request = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (box is null)
        {
            var task = TaskSettings.CaptionTrace.WithBeams(request?.Beams);
            CheckDecode("caption", task, 1);
            return Run(request, r => r.Caption(image, [Box.Whole(image.Width, image.Height)], task))[0];
        }
        return Caption(image, [box.Value], request)[0];
    }

    /// <summary>
    /// Caption with per-token trace of several whole images in one batch (the <c>*_trace</c> task, as
    /// <see cref="Caption(PixelImage, Box?, RequestOptions?)"/> without a box): one vision pass over all of them and one
    /// decode over their prompts, so the weights are read once per step for the whole batch. More images than
    /// <see cref="PixelLlmOptions.MaxImagesPerBatch"/> run as consecutive batches of that many. Results (and the events'
    /// prompt indices) are in image order; on the CPU backend each is bit-identical to captioning its image alone.
    /// </summary>
    /// <exception cref="InvalidInputException">No image.</exception>
    /// <exception cref="ResourceLimitException">More images than <see cref="PixelLlmOptions.MaxPromptsPerRequest"/>.</exception>
    public IReadOnlyList<CaptionResult> CaptionBatch(IReadOnlyList<PixelImage> images, RequestOptions? request = null)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Count == 0) throw new InvalidInputException("caption: at least one image is needed");
        foreach (var image in images) ArgumentNullException.ThrowIfNull(image, nameof(images));
        RequestLimits.CheckPrompts("caption", images.Count, options);
        var task = TaskSettings.CaptionTrace.WithBeams(request?.Beams);
        int perBatch = options.MaxImagesPerBatch;
        CheckDecode("caption", task, Math.Min(images.Count, perBatch));
        var results = new List<CaptionResult>(images.Count);
        for (int first = 0; first < images.Count; first += perBatch)
        {
            var batch = images.Skip(first).Take(perBatch).ToArray();
            int offset = first;
            results.AddRange(Run(request, r => r.CaptionImages(batch, task, offset)));
        }
        return results;
    }

    /// <summary>
    /// Location-conditioned captions of several regions of one image in one batch (one vision pass, one encoder pass); each
    /// result equals the single-box call's.
    /// </summary>
    /// <exception cref="InvalidInputException">No box, or a box is degenerate or outside the image.</exception>
    public IReadOnlyList<CaptionResult> Caption(PixelImage image, IReadOnlyList<Box> boxes, RequestOptions? request = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(boxes);
        if (boxes.Count == 0) throw new InvalidInputException("caption: at least one box is needed");
        RequestLimits.CheckPrompts("caption", boxes.Count, options);
        var task = TaskSettings.LocationCaption.WithBeams(request?.Beams);
        CheckDecode("caption", task, boxes.Count);
        foreach (var b in boxes) b.Validate(image.Width, image.Height);
        return Run(request, r => r.Caption(image, boxes, task));
    }

    /// <summary>
    /// Locates a referring expression: context "where is " + <paramref name="text"/>, the box at the position that emits EOS.
    /// By default the decoder input is the expression itself (the reference's teacher-forced RefCOCO mode, spec §13.2); with
    /// <paramref name="decodeText"/> the text is beam-decoded first and the box read from the decoded sequence.
    /// </summary>
    /// <exception cref="InvalidInputException">The text is empty or too long for the model.</exception>
    public ReferResult Refer(PixelImage image, string text, bool decodeText = false, RequestOptions? request = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Refer(image, [text], decodeText, request)[0];
    }

    /// <summary>
    /// <see cref="Refer(PixelImage, string, bool, RequestOptions?)"/> for several expressions on one image in one batch (one
    /// vision pass, one encoder pass, one decode); results in the order given, on the CPU backend each bit-identical to
    /// its single call.
    /// </summary>
    /// <exception cref="InvalidInputException">No expression, or one is empty or too long for the model.</exception>
    public IReadOnlyList<ReferResult> Refer(PixelImage image, IReadOnlyList<string> texts, bool decodeText = false, RequestOptions? request = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        CheckExpressions("refer", texts);
        CheckDecode("refer", TaskSettings.Referring(files.Config).WithBeams(request?.Beams), texts.Count);
        return Run(request, r => r.Refer(image, texts, decodeText));
    }

    /// <summary>At least one expression, none empty or over <see cref="MaxTextLength"/>, not more than the prompt limit.</summary>
    private void CheckExpressions(string task, IReadOnlyList<string> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        if (texts.Count == 0) throw new InvalidInputException($"{task}: at least one expression is needed");
        RequestLimits.CheckPrompts(task, texts.Count, options);
        foreach (var text in texts)
        {
            ArgumentNullException.ThrowIfNull(text, nameof(texts));
            if (string.IsNullOrWhiteSpace(text)) throw new InvalidInputException($"{task}: the expression is empty");
            if (text.Length > MaxTextLength) throw new InvalidInputException($"{task}: the expression has {text.Length} characters, at most {MaxTextLength}");
        }
    }

    /// <summary>
    /// <see cref="Caption(PixelImage, Box?, RequestOptions?)"/> as a stream: stage starts, tokens as they are decoded, then the
    /// result with its points once the teacher-forced rerun is done. The work runs on a pool thread. <paramref name="beams"/>:
    /// see <see cref="RequestOptions.Beams"/>.
    /// </summary>
    public IAsyncEnumerable<PixelLlmEvent> CaptionStreamAsync(PixelImage image, Box? box = null, CancellationToken cancellation = default,
        int? beams = null) =>
        Stream(request => Caption(image, box, request), beams, cancellation);

    /// <summary><see cref="Refer(PixelImage, string, bool, RequestOptions?)"/> as a stream (see <see cref="CaptionStreamAsync"/>).</summary>
    public IAsyncEnumerable<PixelLlmEvent> ReferStreamAsync(PixelImage image, string text, bool decodeText = false, CancellationToken cancellation = default,
        int? beams = null) =>
        Stream(request => Refer(image, text, decodeText, request), beams, cancellation);

    private T Run<T>(RequestOptions? request, Func<RequestRunner, T> work)
    {
        request ??= new RequestOptions();
        DecodeEngine? engine = options.FullRerunDecoding ? DecodeEngine.FullRerun : options.KvCacheDecoding ? DecodeEngine.KvCache : null;
        return pool.Run(model => work(new RequestRunner(model, files.Tokenizer, request, engine)), request.Cancellation);
    }

    private static async IAsyncEnumerable<PixelLlmEvent> Stream(Action<RequestOptions> work, int? beams, [EnumeratorCancellation] CancellationToken cancellation)
    {
        var channel = Channel.CreateUnbounded<PixelLlmEvent>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var request = new RequestOptions { OnEvent = e => channel.Writer.TryWrite(e), Cancellation = cancellation, Beams = beams };
        var task = Task.Run(() =>
        {
            try { work(request); channel.Writer.Complete(); }
            catch (Exception e) { channel.Writer.Complete(e); }
        }, CancellationToken.None);
        await foreach (var e in channel.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
            yield return e;
        await task.ConfigureAwait(false);
    }

    internal ITextTokenizer Tokenizer => files.Tokenizer;

    /// <summary>The weights the graphs read (tests check which forms were made).</summary>
    internal Runtime.Weights.IWeightSource Weights => files.Weights;

    /// <summary>The backend (tests read its allocation budget).</summary>
    internal IBackend Backend => backend;

    /// <summary>The backend itself, under any profiler (bench reads its device memory and host activity).</summary>
    internal IBackend Device => device;

    /// <summary>Compiled-graph instances alive in the pool.</summary>
    internal int PooledInstances => pool.InstanceCount;

    private void CheckDecode(string method, TaskSettings task, int prompts) =>
        RequestLimits.CheckDecode(method, RequestLimits.Beams(task.Decoding), prompts, files.Config.MaxCaptionLength, options);

    private static IBackend CreateBackend(PixelLlmOptions options, ComputePrecision precision) => options.Backend switch
    {
        ComputeBackend.Cpu => new CpuBackend(options.MaxWorkingMemoryBytes),
        ComputeBackend.CpuFloat64 => new CpuBackend(options.MaxWorkingMemoryBytes, CpuAccumulation.Float64),
        ComputeBackend.Cuda => Backends.Cuda.CudaBackend.Create(ModelPrecision.CudaStorage(precision)),
        var kind => throw new InvalidInputException($"unknown backend {kind}"),
    };

    /// <summary>Releases the compiled graphs, the backend and the mapped weight files.</summary>
    public void Dispose()
    {
        stages.Dispose();
        pool.Dispose();
        backend.Dispose();
        foreach (var f in files.OpenFiles) f.Dispose();
    }
}
