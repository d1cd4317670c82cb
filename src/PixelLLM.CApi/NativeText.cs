using System.Runtime.InteropServices;
using System.Text;

namespace PixelLLM.CApi;

/// <summary>UTF-8, NUL-terminated text across the C boundary: read strictly, returned in memory the caller frees with pixelllm_free.</summary>
internal static unsafe class NativeText
{
    private static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The library's version line, allocated once and never freed (the caller does not own it).</summary>
    public static readonly byte* Version = Allocate(
        $"libpixelllm {typeof(PixelLlmModel).Assembly.GetName().Version?.ToString(3) ?? "?"} ({ServeProtocol.Schema})");

    /// <summary>The text at <paramref name="text"/>; null for NULL; invalid UTF-8 is refused naming <paramref name="field"/>.</summary>
    public static string? Read(byte* text, string field)
    {
        if (text == null) return null;
        try { return Strict.GetString(MemoryMarshal.CreateReadOnlySpanFromNullTerminated(text)); }
        catch (DecoderFallbackException) { throw new Runtime.InvalidInputException($"{field}: not UTF-8 text"); }
    }

    /// <summary><paramref name="text"/> as NUL-terminated UTF-8 in memory from the C allocator.</summary>
    public static byte* Allocate(string text)
    {
        int length = Encoding.UTF8.GetByteCount(text);
        var bytes = (byte*)NativeMemory.Alloc((nuint)length + 1);
        Encoding.UTF8.GetBytes(text, new Span<byte>(bytes, length));
        bytes[length] = 0;
        return bytes;
    }
}
