using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using PixelLLM.Runtime;
using PixelLLM.Runtime.SafeTensors;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

public class SafeTensorsTests
{
    /// <summary>One tensor of every dtype with bit patterns that must survive unchanged, plus zero-size and scalar shapes.</summary>
    private static List<KeyValuePair<string, HostTensor>> SampleTensors(int seed)
    {
        var rng = new Random(seed);
        HostTensor RandomBytes(DType dtype, params int[] shape)
        {
            var t = HostTensor.Zeros(dtype, shape);
            rng.NextBytes(t.Data.Span);
            return t;
        }
        var f32 = RandomBytes(DType.F32, 3, 5, 7);
        f32.AsSpan<float>()[0] = float.NaN;
        f32.AsSpan<float>()[1] = float.NegativeInfinity;
        f32.AsSpan<float>()[2] = -0f;
        var i64 = HostTensor.FromArray(new[] { long.MinValue, -1L, 0L, 1L, long.MaxValue }, 5);
        var i32 = HostTensor.FromArray(new[] { int.MinValue, -7, 0, 7, int.MaxValue, 42 }, 2, 3);
        return
        [
            new("u8.odd", RandomBytes(DType.U8, 13)), // odd length first: every later tensor starts unaligned
            new("f32", f32),
            new("f16", RandomBytes(DType.F16, 4, 3)),
            new("bf16", RandomBytes(DType.BF16, 11)),
            new("i32", i32),
            new("i64", i64),
            new("empty.f32", HostTensor.Zeros(DType.F32, 2, 0, 16)),
            new("empty.i64", HostTensor.Zeros(DType.I64, 0)),
            new("scalar.f32", HostTensor.FromArray(new[] { 3.25f })),
            new("scalar.u8", HostTensor.FromArray(new byte[] { 200 })),
            new("name with spaces/and+symbols é", RandomBytes(DType.F32, 1, 1, 1, 1, 2)),
        ];
    }

    private static readonly Dictionary<string, string> SampleMetadata = new()
    {
        ["component"] = "t5",
        ["quoted"] = "a \"b\" \\ c\n",
        ["unicode"] = "héllo ✓ 日本",
        ["empty"] = "",
    };

    [Fact]
    public void RoundTripPreservesNamesOrderDtypesShapesBytesAndMetadata()
    {
        using var dir = new TempDirectory();
        var path = dir.File("round.safetensors");
        var tensors = SampleTensors(1);
        SafeTensorsWriter.Write(path, tensors, SampleMetadata);

        using var file = SafeTensorsFile.Open(path);
        Assert.Equal(tensors.Select(t => t.Key), file.Names);
        foreach (var (name, expected) in tensors)
        {
            Assert.True(file.Contains(name));
            var actual = file[name];
            Assert.Equal(expected.Desc, actual.Desc);
            Assert.True(expected.Data.Span.SequenceEqual(actual.Data.Span), $"bytes of '{name}' differ");
        }
        Assert.Equal(SampleMetadata.OrderBy(kv => kv.Key), file.Metadata.OrderBy(kv => kv.Key));
        Assert.Equal(DType.F32, file["scalar.f32"].DType);
        Assert.Equal(0, file["scalar.f32"].Shape.Rank);
        Assert.Equal(3.25f, file["scalar.f32"].AsSpan<float>()[0]);
        Assert.Equal(0, file["empty.f32"].Data.Length);
    }

    [Fact]
    public void WriterUsesTheStandardLayout()
    {
        using var dir = new TempDirectory();
        var path = dir.File("layout.safetensors");
        var tensors = SampleTensors(2);
        SafeTensorsWriter.Write(path, tensors, SampleMetadata);

        // Parse the bytes independently of the reader under test.
        var bytes = File.ReadAllBytes(path);
        var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0UL, headerLength % 8);
        var headerText = Encoding.UTF8.GetString(bytes, 8, (int)headerLength);
        Assert.Equal(headerText.TrimEnd(' ').Length, headerText.TrimEnd().Length); // padding is spaces only
        using var json = JsonDocument.Parse(headerText);
        long expectedBegin = 0;
        foreach (var (name, tensor) in tensors)
        {
            var entry = json.RootElement.GetProperty(name);
            Assert.Equal(tensor.DType.SafetensorsName(), entry.GetProperty("dtype").GetString());
            Assert.Equal(tensor.Shape.ToArray(), entry.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()));
            var offsets = entry.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            Assert.Equal(new[] { expectedBegin, expectedBegin + tensor.Data.Length }, offsets); // given order, no gaps
            var dataStart = 8 + (int)headerLength + (int)offsets[0];
            Assert.True(tensor.Data.Span.SequenceEqual(bytes.AsSpan(dataStart, tensor.Data.Length)));
            expectedBegin = offsets[1];
        }
        Assert.Equal(8 + (long)headerLength + expectedBegin, bytes.Length);
        Assert.Equal("t5", json.RootElement.GetProperty("__metadata__").GetProperty("component").GetString());
    }

    [Fact]
    public void WriterWithoutMetadataAndWithoutTensorsProducesReadableFiles()
    {
        using var dir = new TempDirectory();
        var path = dir.File("empty.safetensors");
        SafeTensorsWriter.Write(path, [], null);
        using var file = SafeTensorsFile.Open(path);
        Assert.Empty(file.Names);
        Assert.Empty(file.Metadata);
    }

    [Fact]
    public unsafe void TensorsAreZeroCopyViewsIntoTheMapping()
    {
        using var dir = new TempDirectory();
        var path = dir.File("view.safetensors");
        SafeTensorsWriter.Write(path, SampleTensors(3), null);
        using var file = SafeTensorsFile.Open(path);

        var a = file["f32"];
        var b = file.Get("f32");
        Assert.True(MemoryMarshal.TryGetMemoryManager<byte, UnmanagedMemory>(a.Data, out _));
        fixed (byte* pa = a.Data.Span)
        fixed (byte* pb = b.Data.Span)
        fixed (byte* pi = file["i32"].Data.Span)
        {
            Assert.True(pa == pb);
            var (fOffset, _) = file.FileRange("f32");
            var (iOffset, _) = file.FileRange("i32");
            Assert.Equal(iOffset - fOffset, pi - pa); // both point into one mapping at their file offsets
        }
    }

    [Fact]
    public void LoadCopiesAndConverts()
    {
        using var dir = new TempDirectory();
        var path = dir.File("load.safetensors");
        var tensors = SampleTensors(4).ToDictionary(kv => kv.Key, kv => kv.Value);
        SafeTensorsWriter.Write(path, tensors, null);
        using var file = SafeTensorsFile.Open(path);

        var copy = file.Load("i32", DType.I32);
        Assert.False(MemoryMarshal.TryGetMemoryManager<byte, UnmanagedMemory>(copy.Data, out _));
        copy.AsSpan<int>()[0] = 123;
        Assert.Equal(int.MinValue, file["i32"].AsSpan<int>()[0]); // the copy does not alias the file

        var asFloat = file.Load("i64", DType.F32);
        Assert.Equal(DType.F32, asFloat.DType);
        Assert.Equal(new[] { (float)long.MinValue, -1f, 0f, 1f, (float)long.MaxValue }, asFloat.AsSpan<float>().ToArray());

        var bf16 = file.Load("bf16", DType.F32).AsSpan<float>().ToArray();
        var bits = tensors["bf16"].AsSpan<ushort>().ToArray();
        for (int i = 0; i < bits.Length; i++)
            Assert.Equal(BitConverter.Int32BitsToSingle(bits[i] << 16), bf16[i]);

        var half = file.Load("f32", DType.F16).AsSpan<Half>().ToArray();
        var f32 = tensors["f32"].AsSpan<float>().ToArray();
        for (int i = 0; i < f32.Length; i++)
            Assert.Equal(BitConverter.HalfToUInt16Bits((Half)f32[i]), BitConverter.HalfToUInt16Bits(half[i]));

        Assert.Throws<ModelFileException>(() => file.Load("f32", DType.I32));
    }

    [Fact]
    public void MissingTensorNamesFileAndTensor()
    {
        using var dir = new TempDirectory();
        var path = dir.File("missing.safetensors");
        SafeTensorsWriter.Write(path, SampleTensors(5), null);
        using var file = SafeTensorsFile.Open(path);
        Assert.False(file.Contains("nope"));
        var e = Assert.Throws<ModelFileException>(() => file["nope"]);
        Assert.Contains(path, e.Message);
        Assert.Contains("'nope'", e.Message);
    }

    [Fact]
    public void AccessAfterDisposeThrows()
    {
        using var dir = new TempDirectory();
        var path = dir.File("disposed.safetensors");
        SafeTensorsWriter.Write(path, SampleTensors(6), null);
        var file = SafeTensorsFile.Open(path);
        file.Dispose();
        file.Dispose(); // idempotent
        Assert.Throws<ObjectDisposedException>(() => file["f32"]);
    }

    [Fact]
    public void WriterReplacesExistingFilesAndLeavesNothingBehindOnFailure()
    {
        using var dir = new TempDirectory();
        var path = dir.File("target.safetensors");
        SafeTensorsWriter.Write(path, SampleTensors(7), null);
        SafeTensorsWriter.Write(path, [new("only", HostTensor.FromArray(new[] { 1f, 2f }, 2))], null);
        using (var file = SafeTensorsFile.Open(path))
            Assert.Equal(new[] { "only" }, file.Names);
        var before = File.ReadAllBytes(path);

        var duplicate = new List<KeyValuePair<string, HostTensor>>
        {
            new("x", HostTensor.Zeros(DType.F32, 1)), new("x", HostTensor.Zeros(DType.F32, 1)),
        };
        Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Write(path, duplicate, null));
        Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Write(path, [new("__metadata__", HostTensor.Zeros(DType.U8, 1))], null));
        Assert.Equal(before, File.ReadAllBytes(path));

        // A failure after the data is written (the final rename onto a directory) must remove the temp file.
        var directoryTarget = dir.File("is-a-directory");
        Directory.CreateDirectory(directoryTarget);
        Assert.ThrowsAny<IOException>(() => SafeTensorsWriter.Write(directoryTarget, SampleTensors(8), null));
        Assert.Equal(new[] { path }, Directory.GetFiles(dir.Path));
    }

    // ---- golden files -------------------------------------------------------------------------------------------

    [Fact]
    public void EveryGoldenFileOpensAndEveryTensorReadsFully()
    {
        var files = Directory.GetFiles(Golden.Root, "*.safetensors", SearchOption.AllDirectories);
        Assert.True(files.Length >= 30, $"expected the golden set's safetensors files under {Golden.Root}, found {files.Length}");
        long tensorsRead = 0;
        foreach (var path in files)
        {
            using var file = SafeTensorsFile.Open(path);
            Assert.NotEmpty(file.Names);
            long fileLength = new FileInfo(path).Length;
            foreach (var name in file.Names)
            {
                var tensor = file[name];
                var (offset, length) = file.FileRange(name);
                Assert.Equal(tensor.Desc.ByteSize, length);
                Assert.InRange(offset + length, 8, fileLength);
                // Touch every byte through the view and check it matches the file read the ordinary way.
                var expected = new byte[length];
                using (var stream = File.OpenRead(path)) { stream.Position = offset; stream.ReadExactly(expected); }
                Assert.True(tensor.Data.Span.SequenceEqual(expected), $"{path}: '{name}' differs from the file bytes");
                tensorsRead++;
            }
        }
        Assert.True(tensorsRead > 1000, $"only {tensorsRead} tensors read");
    }

    [Fact]
    public void GoldenFilesMatchTheirCaseDescriptions()
    {
        int checkedCases = 0;
        foreach (var jsonPath in Directory.GetFiles(Golden.Root, "*.json", SearchOption.AllDirectories))
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(jsonPath));
            var dir = Path.GetDirectoryName(jsonPath)!;
            foreach (var (listKey, fileKey) in new[] { ("io", "io_file"), ("weights", "weights_file") })
            {
                if (!doc.RootElement.TryGetProperty(listKey, out var list) || !doc.RootElement.TryGetProperty(fileKey, out var fileName))
                    continue;
                using var file = SafeTensorsFile.Open(Path.Combine(dir, fileName.GetString()!));
                var described = list.EnumerateObject().ToList();
                Assert.Equal(described.Select(p => p.Name).Order(), file.Names.Order());
                foreach (var p in described)
                {
                    var desc = file.Describe(p.Name);
                    Assert.Equal(p.Value.GetProperty("dtype").GetString(), desc.DType.SafetensorsName());
                    Assert.Equal(p.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()), desc.Shape.ToArray());
                }
                checkedCases++;
            }
        }
        Assert.True(checkedCases >= 20, $"only {checkedCases} golden io/weights lists found under {Golden.Root}");
    }

    [Fact]
    public void GoldenKnownShapesAndValues()
    {
        using (var t5 = Golden.Open("t5", "cfgA.io.safetensors"))
        {
            Assert.Equal(new TensorDesc(DType.F32, new Shape(2, 6, 64)), t5["out.logits"].Desc);
            Assert.Equal(new TensorDesc(DType.I64, new Shape(2, 9)), t5["out.greedy_ids"].Desc);
            Assert.Equal("t5", t5.Metadata["component"]);
            Assert.Equal("cfgA", t5.Metadata["case"]);
            // The README: the last encoder hidden state is out.encoder_last_hidden_state, bit for bit.
            Assert.Equal(t5["out.encoder_last_hidden_state"].AsSpan<float>().ToArray(),
                t5["mid.encoder_hidden_states.2"].AsSpan<float>().ToArray());
            Assert.All(t5["out.greedy_ids"].AsSpan<long>().ToArray(), id => Assert.InRange(id, 0, 63));
        }
        using (var prompt = Golden.Open("sam_prompt_encoder", "cfgA.io.safetensors"))
        {
            var sparse = prompt["out.masks_only.sparse"];
            Assert.Equal(new Shape(2, 0, 16), sparse.Shape);
            Assert.Equal(0, sparse.Data.Length);
            Assert.All(prompt["in.point_labels"].AsSpan<long>().ToArray(), l => Assert.InRange(l, -1, 1));
        }
        using (var pipeline = Golden.Open("sam_pipeline", "cfgA.io.safetensors"))
        {
            // SAM thresholds logits at 0: the U8 masks and F32 logits live at different offsets, so this checks both.
            var masks = pipeline["out.0.masks"];
            Assert.Equal(new TensorDesc(DType.U8, new Shape(2, 3, 80, 60)), masks.Desc);
            var logits = pipeline["out.0.mask_logits"].AsSpan<float>();
            var bits = masks.Data.Span;
            for (int i = 0; i < bits.Length; i++)
                Assert.Equal(logits[i] > 0 ? 1 : 0, bits[i]);
        }
    }
    /// <summary>
    /// A mapped tensor's resident pages can be dropped once a backend has copied it (CudaBackend.AddWeight): the mapping's
    /// resident size falls, and the view still reads the same values (from the file again).
    /// </summary>
    [Fact]
    public void ReleasedPagesLeaveTheProcessAndTheViewStillReads()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var temp = new TempDirectory();
        var path = temp.File("big.safetensors");
        var values = Enumerable.Range(0, 1 << 20).Select(i => (float)i).ToArray();   // 4 MB
        SafeTensorsWriter.Write(path, [new KeyValuePair<string, HostTensor>("w", HostTensor.FromArray(values, 1 << 20))]);
        using var file = SafeTensorsFile.Open(path);
        var w = file["w"];
        Assert.Equal(values, w.ToFloatArray());   // every page touched
        long before = ResidentKilobytes(path);
        UnmanagedMemory.ReleaseResidentPages(w.Data);
        long after = ResidentKilobytes(path);
        Assert.True(before >= 4000 && after < before - 3000, $"resident {before} kB → {after} kB");
        Assert.Equal(values, w.ToFloatArray());
    }

    /// <summary>Resident kB of this process's mappings of <paramref name="path"/> (/proc/self/smaps).</summary>
    private static long ResidentKilobytes(string path)
    {
        long total = 0;
        bool inFile = false;
        foreach (var line in File.ReadLines("/proc/self/smaps"))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length > 0 && fields[0].Contains('-') && !fields[0].EndsWith(':')) inFile = line.EndsWith(path, StringComparison.Ordinal);
            else if (inFile && fields is ["Rss:", var kb, "kB"]) total += long.Parse(kb);
        }
        return total;
    }
}
