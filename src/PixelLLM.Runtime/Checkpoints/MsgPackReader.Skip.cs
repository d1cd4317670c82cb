using System.Globalization;
using System.Text;

namespace PixelLLM.Runtime.Checkpoints;

internal sealed unsafe partial class MsgPackReader
{
    /// <summary>
    /// Steps over the next value and everything nested in it without materialising anything (bin and ext payloads
    /// are jumped over). Iterative, so a hostile nesting depth cannot overflow the stack; it is still limited to
    /// <see cref="MaxDepth"/>. A failure names where inside the value it happened (map keys, array indices) in
    /// <see cref="CheckpointFormatError.InnerPath"/>.
    /// </summary>
    public void Skip()
    {
        // Level d > 0 is an open container: its element count, how many are still to read, and its latest map key.
        Span<long> total = stackalloc long[MaxDepth + 1];
        Span<long> pending = stackalloc long[MaxDepth + 1];
        Span<bool> isMap = stackalloc bool[MaxDepth + 1];
        Span<long> keyOffset = stackalloc long[MaxDepth + 1];
        Span<long> keyLength = stackalloc long[MaxDepth + 1];
        int depth = 0;
        total[0] = pending[0] = 1;
        while (depth >= 0)
        {
            if (pending[depth] == 0) { depth--; continue; }
            pending[depth]--;
            MsgPackToken token;
            try
            {
                token = Read();
                if (token.Kind is MsgPackKind.Array or MsgPackKind.Map && token.Length > 0 && depth == MaxDepth)
                    throw new CheckpointFormatError($"values are nested more than {MaxDepth} levels deep", token.Offset);
            }
            catch (CheckpointFormatError e)
            {
                throw e.Within(InnerPath(depth, total, pending, isMap, keyOffset, keyLength));
            }
            long index = total[depth] - pending[depth] - 1;
            if (isMap[depth] && index % 2 == 0)
            {
                keyOffset[depth] = token.Kind == MsgPackKind.Str ? token.PayloadOffset : -1;
                keyLength[depth] = token.Length;
            }
            long children = token.Kind switch
            {
                MsgPackKind.Array => token.Length,
                MsgPackKind.Map => 2 * token.Length,
                _ => 0,
            };
            if (children == 0) continue;
            depth++;
            total[depth] = pending[depth] = children;
            isMap[depth] = token.Kind == MsgPackKind.Map;
        }
    }

    /// <summary>Path components from the skipped value down to the element being read at <paramref name="depth"/>.</summary>
    private List<string> InnerPath(int depth, Span<long> total, Span<long> pending, Span<bool> isMap, Span<long> keyOffset, Span<long> keyLength)
    {
        var components = new List<string>();
        for (int d = 1; d <= depth; d++)
        {
            long index = total[d] - pending[d] - 1;
            if (!isMap[d]) components.Add(index.ToString(CultureInfo.InvariantCulture));
            else if (index % 2 == 0) components.Add("<a map key>");
            else components.Add(KeyText(keyOffset[d], keyLength[d]));
        }
        return components;
    }

    /// <summary>A key for an error message: its text when it is a short valid UTF-8 string.</summary>
    private string KeyText(long offset, long length)
    {
        if (offset < 0 || length > 256) return "<a non-text key>";
        try
        {
            return StrictUtf8.GetString(basePointer + offset, (int)length);
        }
        catch (DecoderFallbackException)
        {
            return "<a non-text key>";
        }
    }
}
