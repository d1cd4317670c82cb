using System.Runtime.InteropServices;

namespace PixelLLM.CApi;

/// <summary>
/// The C library's entry points, declared in include/pixelllm.h. Every one catches everything: an exception must not
/// cross into the caller's C frames, where it would end the process.
/// </summary>
public static unsafe class NativeExports
{
    /// <summary><c>const char* pixelllm_version(void)</c>: the engine's version and request schema; owned by the library.</summary>
    [UnmanagedCallersOnly(EntryPoint = "pixelllm_version")]
    public static byte* Version() => NativeText.Version;

    /// <summary>
    /// <c>pixelllm_model* pixelllm_open(const char* model_dir, const char* options_json, char** error)</c>: loads a model
    /// directory; NULL on failure, with one line saying why in <c>*error</c> (when error is not NULL; free it with
    /// <c>pixelllm_free</c>).
    /// </summary>
    [UnmanagedCallersOnly(EntryPoint = "pixelllm_open")]
    public static nint Open(byte* modelDirectory, byte* optionsJson, byte** error)
    {
        try
        {
            if (error != null) *error = null;
            NativeDependencies.Register();
            var directory = NativeText.Read(modelDirectory, "model_dir");
            if (string.IsNullOrEmpty(directory)) throw new Runtime.InvalidInputException("model_dir: missing (give a model directory)");
            var options = OpenOptions.Parse(NativeText.Read(optionsJson, "options_json"));
            return OpenModels.Add(PixelLlmModel.Load(directory, options));
        }
        catch (Exception e)
        {
            try { if (error != null) *error = NativeText.Allocate(ServeProtocol.Classify(e).Message); }
            catch (OutOfMemoryException) { }
            return 0;
        }
    }

    /// <summary>
    /// <c>char* pixelllm_request(pixelllm_model* model, const char* request_json)</c>: one request of the serve protocol,
    /// its answer line (free it with <c>pixelllm_free</c>). Failures are answers (<c>"ok": false</c>); NULL only when no
    /// memory is left for the answer. Thread-safe.
    /// </summary>
    [UnmanagedCallersOnly(EntryPoint = "pixelllm_request")]
    public static byte* Request(nint model, byte* requestJson) => Respond(model, requestJson, null, 0);

    /// <summary>
    /// <c>char* pixelllm_request_events(pixelllm_model* model, const char* request_json, pixelllm_event_fn on_event, void*
    /// user_data)</c>: <c>pixelllm_request</c>, calling <c>on_event(event_json, user_data)</c> as each stage begins and
    /// each token is final; a non-zero return cancels the request (its answer is then kind "cancelled").
    /// </summary>
    [UnmanagedCallersOnly(EntryPoint = "pixelllm_request_events")]
    public static byte* RequestEvents(nint model, byte* requestJson, delegate* unmanaged<byte*, nint, int> onEvent, nint userData) =>
        Respond(model, requestJson, onEvent, userData);

    /// <summary>
    /// <c>char* pixelllm_request_rgb(pixelllm_model* model, const char* request_json, const unsigned char* rgb, int width,
    /// int height, int stride_bytes, pixelllm_event_fn on_event, void* user_data)</c>: a request whose image is decoded
    /// pixels (8-bit R, G, B per pixel, rows <paramref name="strideBytes"/> apart; 0 = packed), copied before it runs.
    /// </summary>
    [UnmanagedCallersOnly(EntryPoint = "pixelllm_request_rgb")]
    public static byte* RequestRgb(nint model, byte* requestJson, byte* rgb, int width, int height, int strideBytes,
        delegate* unmanaged<byte*, nint, int> onEvent, nint userData) =>
        Respond(model, requestJson, onEvent, userData, loaded => RgbPixels.Copy(rgb, width, height, strideBytes, loaded.MaxImagePixels));

    private static byte* Respond(nint model, byte* requestJson, delegate* unmanaged<byte*, nint, int> onEvent, nint userData,
        Func<PixelLlmModel, PixelImage>? pixels = null)
    {
        try
        {
            string answer;
            try
            {
                var request = NativeText.Read(requestJson, "request_json")
                    ?? throw new Runtime.InvalidInputException("request_json: missing (NULL)");
                if (onEvent == null) answer = OpenModels.Answer(model, request, null, pixels);
                else
                {
                    using var cancel = new CancellationTokenSource();
                    var callback = (nint)onEvent;
                    answer = OpenModels.Answer(model, request, new RequestOptions
                    {
                        Cancellation = cancel.Token,
                        OnEvent = e =>
                        {
                            if (ServeProtocol.EventLine(e) is not { } line) return;
                            var text = NativeText.Allocate(line);
                            try { if (((delegate* unmanaged<byte*, nint, int>)callback)(text, userData) != 0) cancel.Cancel(); }
                            finally { NativeMemory.Free(text); }
                        },
                    }, pixels);
                }
            }
            catch (Exception e)
            {
                var (kind, message) = ServeProtocol.Classify(e);
                answer = ServeProtocol.ErrorLine(null, kind, message);
            }
            return NativeText.Allocate(answer);
        }
        catch (Exception)
        {
            return null;
        }
    }

    /// <summary>
    /// <c>int pixelllm_close(pixelllm_model* model)</c>: waits for the model's running requests, then frees it; 0 when it
    /// was open, -1 when it was not (NULL, closed already, never opened).
    /// </summary>
    [UnmanagedCallersOnly(EntryPoint = "pixelllm_close")]
    public static int Close(nint model)
    {
        try { return OpenModels.Close(model) ? 0 : -1; }
        catch (Exception) { return -1; }
    }

    /// <summary><c>void pixelllm_free(char* text)</c>: frees an answer or error line the library returned; NULL is ignored.</summary>
    [UnmanagedCallersOnly(EntryPoint = "pixelllm_free")]
    public static void Free(byte* text) => NativeMemory.Free(text);
}
