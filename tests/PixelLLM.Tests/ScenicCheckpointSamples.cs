using PixelLLM.Runtime;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

/// <summary>A parameter a hand-built checkpoint must yield.</summary>
internal sealed record ExpectedTensor(DType DType, int[] Shape, byte[] Data);

/// <summary>Hand-built Flax train states covering every leaf form scenic can write.</summary>
internal static class ScenicCheckpointSamples
{
    /// <summary>
    /// A train state in scenic's field order with: nested modules with dotted names, 0-d arrays, a numpy scalar
    /// (ext 3), a chunked array with its fields and chunk keys out of order, tuples as maps, f16/bf16/int/uint8 leaves,
    /// an empty array, an empty module, an opt_state over some params, params_axes in model_state, a uint32 rng
    /// and a metadata map of every msgpack scalar kind (which the reader must step over).
    /// </summary>
    public static (FlaxMap State, Dictionary<string, ExpectedTensor> Expected) TrainState(int seed = 7)
    {
        var rng = new Random(seed);
        var expected = new Dictionary<string, ExpectedTensor>(StringComparer.Ordinal);
        NdArray Leaf(string name, string dtype, DType ours, params int[] shape)
        {
            var a = NdArray.Random(rng, dtype, shape);
            expected[name] = new ExpectedTensor(ours, shape, a.Data);
            return a;
        }

        var kernel = Leaf("blocks.0/attn/kernel", "float32", DType.F32, 3, 5);
        var bias = Leaf("blocks.0/attn/bias", "float32", DType.F32, 5);
        var scalar = Leaf("scalar_f32", "float32", DType.F32);
        var npScalar = Leaf("np_scalar", "int64", DType.I64) with { ExtType = 3 };
        var chunks = new[] { NdArray.Random(rng, "float32", 8), NdArray.Random(rng, "float32", 8), NdArray.Random(rng, "float32", 5) };
        expected["big"] = new ExpectedTensor(DType.F32, [3, 7], chunks.SelectMany(c => c.Data).ToArray());

        var parameters = new FlaxMap
        {
            { "blocks.0", new FlaxMap { { "attn", new FlaxMap { { "bias", bias }, { "kernel", kernel } } } } },
            { "scalar_f32", scalar },
            { "np_scalar", npScalar },
            { "big", new FlaxMap
                {
                    { "chunks", new FlaxMap { { "2", chunks[2] }, { "0", chunks[0] }, { "1", chunks[1] } } },
                    { "__msgpack_chunked_array__", true },
                    { "shape", new FlaxMap { { "1", 7 }, { "0", 3 } } },
                } },
            { "tuple_param", FlaxMap.Tuple(
                Leaf("tuple_param/0", "float16", DType.F16, 2, 3),
                FlaxMap.Tuple(Leaf("tuple_param/1/0", "bfloat16", DType.BF16, 4), new FlaxMap()),
                Leaf("tuple_param/2", "uint8", DType.U8, 0, 4)) },
            { "ints", new FlaxMap
                {
                    { "i32", Leaf("ints/i32", "int32", DType.I32, 2, 2) },
                    { "i64", Leaf("ints/i64", "int64", DType.I64, 3) },
                    { "u8", Leaf("ints/u8", "uint8", DType.U8, 7) },
                } },
            { "empty_module", new FlaxMap() },
        };

        NdArray Moment(NdArray like) => NdArray.Random(rng, like.DType, like.Shape);
        FlaxMap Moments() => new() { { "blocks.0", new FlaxMap { { "attn", new FlaxMap { { "bias", Moment(bias) }, { "kernel", Moment(kernel) } } } } } };
        var count = NdArray.Random(rng, "int32");
        var state = new FlaxMap
        {
            { "opt_state", FlaxMap.Tuple(FlaxMap.Tuple(new FlaxMap { { "count", count }, { "mu", Moments() }, { "nu", Moments() } }, new FlaxMap(), new FlaxMap { { "count", count } })) },
            { "params", parameters },
            { "global_step", new NdArray("int32", [], BitConverter.GetBytes(1000)) },
            { "model_state", new FlaxMap { { "params_axes", new FlaxMap { { "blocks.0", new FlaxMap { { "kernel_axes", new object[] { "embed", "mlp" } } } } } } } },
            { "rng", NdArray.Random(rng, "uint32", 2) },
            { "metadata", new FlaxMap { { "note", "x" }, { "values", new object?[] { 1, -70000, 2.5, null, true, false, new byte[] { 1, 2 }, long.MinValue } } } },
        };
        return (state, expected);
    }

    /// <summary>The bytes of <see cref="TrainState"/> plus the builder's record of header and length-field offsets.</summary>
    public static (byte[] Bytes, MsgPackBuilder Layout) TrainStateBytes(int seed = 7)
    {
        var builder = new MsgPackBuilder();
        FlaxStateWriter.Write(builder, TrainState(seed).State);
        return (builder.ToArray(), builder);
    }

    /// <summary>A minimal valid checkpoint whose params are <paramref name="parameters"/>.</summary>
    public static byte[] WithParams(object? parameters) =>
        FlaxStateWriter.Serialize(new FlaxMap { { "opt_state", new FlaxMap() }, { "params", parameters }, { "model_state", new FlaxMap() } });

    /// <summary>A float32 (2,) array.</summary>
    public static NdArray F32x2 => new("float32", [2], new byte[8]);
}
