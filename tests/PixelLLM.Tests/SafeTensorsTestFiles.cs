using System.Buffers.Binary;
using System.Text;

namespace PixelLLM.Tests;

/// <summary>A scratch directory deleted with everything in it on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "pixelllm-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { } // a leaked temp dir must not turn a passing test red
    }
}

/// <summary>Hand-built safetensors bytes, independent of the writer under test.</summary>
internal static class SafeTensorsBytes
{
    /// <summary>8-byte LE length (the header's own, unless overridden), the header text, then <paramref name="dataBytes"/> bytes 0,1,2...</summary>
    public static byte[] Build(string headerJson, int dataBytes, ulong? lengthPrefix = null)
    {
        var header = Encoding.UTF8.GetBytes(headerJson);
        return Build(header, dataBytes, lengthPrefix);
    }

    public static byte[] Build(byte[] header, int dataBytes, ulong? lengthPrefix = null)
    {
        var bytes = new byte[8 + header.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, lengthPrefix ?? (ulong)header.Length);
        header.CopyTo(bytes, 8);
        for (int i = 0; i < dataBytes; i++) bytes[8 + header.Length + i] = (byte)i;
        return bytes;
    }
}
