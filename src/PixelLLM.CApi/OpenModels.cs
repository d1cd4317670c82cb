using System.Collections.Concurrent;

namespace PixelLLM.CApi;

/// <summary>
/// The models the C caller holds, by handle. A handle is a number, never a pointer into managed memory, so a closed or
/// made-up handle is an error answer rather than a crash.
/// </summary>
internal static class OpenModels
{
    private sealed class Entry(PixelLlmModel model)
    {
        public readonly PixelLlmModel Model = model;
        // Requests hold it shared; closing holds it alone, so the model is disposed only after its running requests end.
        public readonly ReaderWriterLockSlim Use = new();
        public bool Closed;
    }

    private const string NotOpen = "model: not an open pixelllm_model (NULL, closed, or not returned by pixelllm_open)";
    private static readonly ConcurrentDictionary<nint, Entry> Open = new();
    private static long lastHandle;

    public static nint Add(PixelLlmModel model)
    {
        var handle = (nint)Interlocked.Increment(ref lastHandle);
        Open[handle] = new Entry(model);
        return handle;
    }

    /// <summary>The answer line to <paramref name="request"/> from the model behind <paramref name="handle"/>.</summary>
    /// <param name="handle">what pixelllm_open returned.</param>
    /// <param name="request">the request line.</param>
    /// <param name="events">where its events go and what cancels it; null for neither.</param>
    /// <param name="pixels">the image from the caller's pixels, for the model that answers; null: the request names its image.</param>
    public static string Answer(nint handle, string request, RequestOptions? events, Func<PixelLlmModel, PixelImage>? pixels)
    {
        if (!Open.TryGetValue(handle, out var entry)) return ServeProtocol.ErrorLine(null, "invalid_input", NotOpen);
        entry.Use.EnterReadLock();
        try { return entry.Closed ? ServeProtocol.ErrorLine(null, "invalid_input", NotOpen) : ServeProtocol.Respond(entry.Model, request, events, pixels is null ? null : () => pixels(entry.Model)).Line; }
        finally { entry.Use.ExitReadLock(); }
    }

    /// <summary>Closes the model once its running requests end; false when the handle was not open.</summary>
    public static bool Close(nint handle)
    {
        if (!Open.TryRemove(handle, out var entry)) return false;
        entry.Use.EnterWriteLock();
        try
        {
            entry.Closed = true;
            entry.Model.Dispose();
        }
        finally { entry.Use.ExitWriteLock(); }
        return true;
    }
}
