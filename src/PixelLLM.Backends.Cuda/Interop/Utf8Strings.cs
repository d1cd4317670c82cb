using System.Runtime.InteropServices;
using System.Text;

namespace PixelLLM.Backends.Cuda.Interop;

/// <summary>NUL-terminated UTF-8 copies of strings in native memory plus the char** array pointing at them.</summary>
internal sealed unsafe class Utf8Strings : IDisposable
{
    private readonly int _count;

    public Utf8Strings(IReadOnlyList<string> strings)
    {
        _count = strings.Count;
        Pointers = (byte**)NativeMemory.AllocZeroed((nuint)Math.Max(1, _count), (nuint)sizeof(byte*));
        for (int i = 0; i < _count; i++)
        {
            int length = Encoding.UTF8.GetByteCount(strings[i]);
            var p = (byte*)NativeMemory.Alloc((nuint)length + 1);
            Encoding.UTF8.GetBytes(strings[i], new Span<byte>(p, length));
            p[length] = 0;
            Pointers[i] = p;
        }
    }

    /// <summary>The char** array; valid until disposed.</summary>
    public byte** Pointers { get; private set; }

    public void Dispose()
    {
        if (Pointers == null) return;
        for (int i = 0; i < _count; i++) NativeMemory.Free(Pointers[i]);
        NativeMemory.Free(Pointers);
        Pointers = null;
    }
}
