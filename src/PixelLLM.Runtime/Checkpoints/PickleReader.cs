using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace PixelLLM.Runtime.Checkpoints;

/// <summary>Decides what the globals, calls and persistent ids of a pickle mean; the reader itself executes nothing.</summary>
internal interface IPickleResolver
{
    /// <summary>The global <paramref name="module"/>.<paramref name="name"/>; throws for anything not allow-listed.</summary>
    PickleGlobal ResolveGlobal(string module, string name);

    /// <summary>The result of calling <paramref name="callable"/> with <paramref name="args"/> (opcode REDUCE).</summary>
    object Call(PickleGlobal callable, object?[] args);

    /// <summary>The object a persistent id stands for (opcode BINPERSID).</summary>
    object PersistentLoad(object? id);
}

/// <summary>
/// A restricted unpickler: it understands only the opcodes <c>torch.save</c> emits for state dicts (pickle protocols
/// 2 to 5) and builds plain values from them. Globals, calls and persistent ids go to an <see cref="IPickleResolver"/>,
/// so no Python-level code is ever looked up or run. Every read is bounds-checked and every opcode consumes input,
/// so malformed data ends in <see cref="ModelFileException"/> in time linear in its length.
/// </summary>
internal sealed partial class PickleReader
{
    private static readonly Encoding StrictUtf8 = new UTF8Encoding(false, throwOnInvalidBytes: true);

    private readonly ReadOnlyMemory<byte> data;
    private readonly string source;
    private readonly IPickleResolver resolver;
    private readonly List<object?> stack = [];
    private readonly List<int> marks = [];
    private readonly Dictionary<long, object?> memo = [];
    private int position, opcodeStart;

    private PickleReader(ReadOnlyMemory<byte> data, string source, IPickleResolver resolver)
    {
        this.data = data;
        this.source = source;
        this.resolver = resolver;
    }

    /// <summary>Unpickles <paramref name="data"/>; <paramref name="source"/> (e.g. "model.pth: archive/data.pkl") prefixes every error.</summary>
    public static object? Load(ReadOnlyMemory<byte> data, string source, IPickleResolver resolver) =>
        new PickleReader(data, source, resolver).Run();

    private object? Run()
    {
        while (true)
        {
            opcodeStart = position;
            byte opcode = ReadByte("an opcode (the pickle ends before its STOP opcode)");
            if (opcode == Op.Stop)
            {
                if (stack.Count != 1 || marks.Count != 0)
                    throw Error($"STOP with {stack.Count} values and {marks.Count} open marks on the stack; expected exactly one value");
                return stack[0];
            }
            Execute(opcode);
        }
    }

    private ModelFileException Error(string what) => new($"{source}: byte {opcodeStart}: {what}");

    // ---- input ----

    private ReadOnlySpan<byte> Take(int count, string what)
    {
        if (count < 0 || count > data.Length - position)
            throw Error($"expected {what} ({count} bytes) but only {data.Length - position} bytes remain");
        var span = data.Span.Slice(position, count);
        position += count;
        return span;
    }

    private byte ReadByte(string what) => Take(1, what)[0];
    private int ReadLength4(string what)
    {
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(Take(4, $"the length of {what}"));
        return length <= int.MaxValue ? (int)length : throw Error($"{what} claims {length} bytes");
    }
    private int ReadLength8(string what)
    {
        ulong length = BinaryPrimitives.ReadUInt64LittleEndian(Take(8, $"the length of {what}"));
        return length <= int.MaxValue ? (int)length : throw Error($"{what} claims {length} bytes");
    }

    private string ReadUtf8(int count, string what)
    {
        var bytes = Take(count, what);
        try { return StrictUtf8.GetString(bytes); }
        catch (DecoderFallbackException) { throw Error($"{what} is not valid UTF-8"); }
    }

    /// <summary>A newline-terminated ASCII line (the operands of GLOBAL).</summary>
    private string ReadLine(string what)
    {
        var rest = data.Span[position..];
        int newline = rest.IndexOf((byte)'\n');
        if (newline < 0) throw Error($"expected {what} ending in a newline, but the pickle ends first");
        var line = rest[..newline];
        foreach (var b in line)
            if (b is < 0x20 or > 0x7E) throw Error($"{what} holds a non-printable byte 0x{b:X2}");
        position += newline + 1;
        return Encoding.ASCII.GetString(line);
    }

    private long ReadLong(int count)
    {
        var bytes = Take(count, "the bytes of a LONG");
        if (count == 0) return 0;
        var value = new BigInteger(bytes, isUnsigned: false, isBigEndian: false);
        return value >= long.MinValue && value <= long.MaxValue ? (long)value
            : throw Error($"an integer of {count} bytes does not fit in 64 bits");
    }

    // ---- stack ----

    private void Push(object? value) => stack.Add(value);

    private object? Pop(string forWhat)
    {
        int floor = marks.Count > 0 ? marks[^1] : 0;
        if (stack.Count <= floor) throw Error($"{forWhat} needs a value but the stack is empty{(marks.Count > 0 ? " above the mark" : "")}");
        var value = stack[^1];
        stack.RemoveAt(stack.Count - 1);
        return value;
    }

    private object? Peek(string forWhat)
    {
        int floor = marks.Count > 0 ? marks[^1] : 0;
        return stack.Count > floor ? stack[^1] : throw Error($"{forWhat} needs a value but the stack is empty");
    }

    /// <summary>Removes and returns the values above the topmost mark, and the mark.</summary>
    private object?[] PopToMark(string forWhat)
    {
        if (marks.Count == 0) throw Error($"{forWhat} needs a MARK but none is open");
        int mark = marks[^1];
        marks.RemoveAt(marks.Count - 1);
        var items = stack.GetRange(mark, stack.Count - mark).ToArray();
        stack.RemoveRange(mark, stack.Count - mark);
        return items;
    }

    private void Memoize(long index)
    {
        if (stack.Count == 0) throw Error("a memo write needs a value but the stack is empty");
        memo[index] = stack[^1];
    }

    private object? Recall(long index) =>
        memo.TryGetValue(index, out var value) ? value : throw Error($"memo entry {index} is read before it is written");

    // ---- containers ----

    private static string Describe(object? value) => value switch
    {
        null => "None",
        string => "str",
        long => "int",
        double => "float",
        bool => "bool",
        object?[] => "tuple",
        List<object?> => "list",
        PickleDict => "dict",
        PickleGlobal g => g.ToString(),
        _ => value.GetType().Name,
    };

    private PickleDict DictFor(object? target, string opcode) =>
        target as PickleDict ?? throw Error($"{opcode} applies to a dict, not to {Describe(target)}");

    private void SetItems(PickleDict dict, ReadOnlySpan<object?> pairs)
    {
        if (pairs.Length % 2 != 0) throw Error($"SETITEMS has an odd number ({pairs.Length}) of keys and values");
        for (int i = 0; i < pairs.Length; i += 2) dict.Set(Key(pairs[i]), pairs[i + 1]);
    }

    private object Key(object? key) => key is string or long or bool or double or object?[]
        ? key : throw Error($"a dict key must be a str, int, float, bool or tuple, not {Describe(key)}");

    private void Append(object? target, ReadOnlySpan<object?> items)
    {
        if (target is not List<object?> list) throw Error($"APPEND applies to a list, not to {Describe(target)}");
        foreach (var item in items) list.Add(item);
    }
}
