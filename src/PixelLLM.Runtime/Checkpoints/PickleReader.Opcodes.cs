using System.Buffers.Binary;

namespace PixelLLM.Runtime.Checkpoints;

internal sealed partial class PickleReader
{
    /// <summary>The opcodes we accept (names as in CPython's pickletools); any other byte is refused.</summary>
    private static class Op
    {
        public const byte Proto = 0x80, Frame = 0x95, Stop = (byte)'.';
        public const byte Mark = (byte)'(', Pop = (byte)'0', PopMark = (byte)'1', Dup = (byte)'2';
        public const byte None = (byte)'N', NewTrue = 0x88, NewFalse = 0x89;
        public const byte BinInt = (byte)'J', BinInt1 = (byte)'K', BinInt2 = (byte)'M', Long1 = 0x8a, Long4 = 0x8b;
        public const byte BinFloat = (byte)'G';
        public const byte BinUnicode = (byte)'X', ShortBinUnicode = 0x8c, BinUnicode8 = 0x8d;
        public const byte EmptyTuple = (byte)')', Tuple = (byte)'t', Tuple1 = 0x85, Tuple2 = 0x86, Tuple3 = 0x87;
        public const byte EmptyList = (byte)']', List = (byte)'l', Append = (byte)'a', Appends = (byte)'e';
        public const byte EmptyDict = (byte)'}', Dict = (byte)'d', SetItem = (byte)'s', SetItems = (byte)'u';
        public const byte Global = (byte)'c', StackGlobal = 0x93, Reduce = (byte)'R', Build = (byte)'b', BinPersId = (byte)'Q';
        public const byte BinGet = (byte)'h', LongBinGet = (byte)'j', BinPut = (byte)'q', LongBinPut = (byte)'r', Memoize = 0x94;
    }

    private void Execute(byte opcode)
    {
        switch (opcode)
        {
            case Op.Proto:
                if (ReadByte("the protocol number") is < 2 or > 5) throw Error("unsupported pickle protocol; expected 2 to 5");
                break;
            case Op.Frame: ReadLength8("a frame"); break; // frames only group opcodes for buffering; the data is already in memory

            case Op.Mark: marks.Add(stack.Count); break;
            case Op.Pop: Pop("POP"); break;
            case Op.PopMark: PopToMark("POP_MARK"); break;
            case Op.Dup: Push(Peek("DUP")); break;

            case Op.None: Push(null); break;
            case Op.NewTrue: Push(true); break;
            case Op.NewFalse: Push(false); break;
            case Op.BinInt: Push((long)BinaryPrimitives.ReadInt32LittleEndian(Take(4, "a BININT"))); break;
            case Op.BinInt1: Push((long)ReadByte("a BININT1")); break;
            case Op.BinInt2: Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Take(2, "a BININT2"))); break;
            case Op.Long1: Push(ReadLong(ReadByte("the length of a LONG1"))); break;
            case Op.Long4: Push(ReadLong(ReadLength4("a LONG4"))); break;
            case Op.BinFloat: Push(BinaryPrimitives.ReadDoubleBigEndian(Take(8, "a BINFLOAT"))); break;

            case Op.BinUnicode: Push(ReadUtf8(ReadLength4("a BINUNICODE string"), "a BINUNICODE string")); break;
            case Op.ShortBinUnicode: Push(ReadUtf8(ReadByte("the length of a SHORT_BINUNICODE string"), "a SHORT_BINUNICODE string")); break;
            case Op.BinUnicode8: Push(ReadUtf8(ReadLength8("a BINUNICODE8 string"), "a BINUNICODE8 string")); break;

            case Op.EmptyTuple: Push(Array.Empty<object?>()); break;
            case Op.Tuple: Push(PopToMark("TUPLE")); break;
            case Op.Tuple1: { var a = Pop("TUPLE1"); Push(new[] { a }); break; }
            case Op.Tuple2: { var b = Pop("TUPLE2"); var a = Pop("TUPLE2"); Push(new[] { a, b }); break; }
            case Op.Tuple3: { var c = Pop("TUPLE3"); var b = Pop("TUPLE3"); var a = Pop("TUPLE3"); Push(new[] { a, b, c }); break; }

            case Op.EmptyList: Push(new List<object?>()); break;
            case Op.List: Push(new List<object?>(PopToMark("LIST"))); break;
            case Op.Append: { var item = Pop("APPEND"); Append(Peek("APPEND"), [item]); break; }
            case Op.Appends: { var items = PopToMark("APPENDS"); Append(Peek("APPENDS"), items); break; }

            case Op.EmptyDict: Push(new PickleDict()); break;
            case Op.Dict: { var dict = new PickleDict(); SetItems(dict, PopToMark("DICT")); Push(dict); break; }
            case Op.SetItem:
            {
                var value = Pop("SETITEM");
                var key = Pop("SETITEM");
                DictFor(Peek("SETITEM"), "SETITEM").Set(Key(key), value);
                break;
            }
            case Op.SetItems: { var pairs = PopToMark("SETITEMS"); SetItems(DictFor(Peek("SETITEMS"), "SETITEMS"), pairs); break; }

            case Op.Global:
            {
                var module = ReadLine("the module of a GLOBAL");
                Push(resolver.ResolveGlobal(module, ReadLine("the name of a GLOBAL")));
                break;
            }
            case Op.StackGlobal:
            {
                var name = Pop("STACK_GLOBAL") as string ?? throw Error("STACK_GLOBAL needs a str name");
                var module = Pop("STACK_GLOBAL") as string ?? throw Error("STACK_GLOBAL needs a str module");
                Push(resolver.ResolveGlobal(module, name));
                break;
            }
            case Op.Reduce:
            {
                var args = Pop("REDUCE") as object?[] ?? throw Error("REDUCE needs a tuple of arguments");
                var callable = Pop("REDUCE") as PickleGlobal ?? throw Error("REDUCE needs an allow-listed global to call");
                Push(resolver.Call(callable, args));
                break;
            }
            case Op.Build: Build(Pop("BUILD")); break;
            case Op.BinPersId: Push(resolver.PersistentLoad(Pop("BINPERSID"))); break;

            case Op.BinGet: Push(Recall(ReadByte("a BINGET index"))); break;
            case Op.LongBinGet: Push(Recall(BinaryPrimitives.ReadUInt32LittleEndian(Take(4, "a LONG_BINGET index")))); break;
            case Op.BinPut: Memoize(ReadByte("a BINPUT index")); break;
            case Op.LongBinPut: Memoize(BinaryPrimitives.ReadUInt32LittleEndian(Take(4, "a LONG_BINPUT index"))); break;
            case Op.Memoize: Memoize(memo.Count); break;

            default:
                throw Error($"opcode 0x{opcode:X2} is not one a PyTorch state dict uses; refusing to interpret it");
        }
    }

    /// <summary>
    /// BUILD sets an object's state. For the dicts of a state dict that state is Python attributes (the module
    /// <c>_metadata</c> of an OrderedDict), which hold no tensors, so it is checked for type and dropped.
    /// </summary>
    private void Build(object? state)
    {
        var target = Peek("BUILD");
        if (target is not (PickleDict or TorchTensorRef))
            throw Error($"BUILD applies to a dict or tensor here, not to {Describe(target)}");
        if (state is not (null or PickleDict or object?[]))
            throw Error($"BUILD state must be a dict or tuple, not {Describe(state)}");
    }
}
