using PixelLLM.Runtime;
using PixelLLM.Runtime.Checkpoints;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

/// <summary>Hand-built malformed checkpoints: each must fail with <see cref="ModelFileException"/> naming the file and the problem.</summary>
public class TorchCheckpointMalformedTests
{
    private static ModelFileException Refused(string expectedFragment, byte[] pickle, IReadOnlyDictionary<string, byte[]>? storages = null,
        string? byteorder = null, string pickleName = "data.pkl")
    {
        using var dir = new TempDirectory();
        var path = dir.File("bad.pth");
        TorchZip.Write(path, pickle, storages, byteorder: byteorder, pickleName: pickleName);
        var error = Assert.Throws<ModelFileException>(() =>
        {
            using var checkpoint = TorchCheckpoint.Open(path);
            foreach (var name in checkpoint.Names) checkpoint.Get(name);
        });
        Assert.Contains("bad.pth", error.Message);
        Assert.Contains(expectedFragment, error.Message);
        return error;
    }

    private static byte[] Valid() => PickleBuilder.OneTensor(6, 0, [2, 3], [3, 1]).Stop().ToArray();

    [Fact]
    public void HandBuiltArchiveReadsBack()
    {
        using var dir = new TempDirectory();
        var path = dir.File("ok.pth");
        TorchZip.Write(path, PickleBuilder.OneTensor(6, 1, [2, 2], [1, 3]).Stop().ToArray(), TorchZip.CountingFloats(6), byteorder: "little");
        using var checkpoint = TorchCheckpoint.Open(path);
        // Element (i, j) is storage[1 + i + 3j]: the transpose of a 2x3 block starting at 1.
        Assert.Equal(new[] { 1f, 4f, 2f, 5f }, checkpoint.Get("w").AsSpan<float>().ToArray());
    }

    [Fact]
    public void RefusesGlobalsOutsideTheAllowList()
    {
        var pickle = new PickleBuilder().Proto().Global("builtins", "eval").Str("1+1").Op('\u0085').Reduce().Stop().ToArray();
        Refused("'builtins.eval'", pickle);
        Refused("'torch.nn.modules.linear.Linear'", new PickleBuilder().Proto().Global("torch.nn.modules.linear", "Linear").Stop().ToArray());
    }

    [Fact]
    public void RefusesUnsupportedStorageTypes() =>
        Refused("torch.ShortStorage", PickleBuilder.OneTensor(6, 0, [6], [1], "ShortStorage").Stop().ToArray(), TorchZip.CountingFloats(6));

    [Fact]
    public void RefusesUnknownOpcodes() => Refused("opcode 0x42", new PickleBuilder().Proto().Op('B').Stop().ToArray());

    [Fact]
    public void RefusesPicklesWithoutStop() => Refused("ends before its STOP", PickleBuilder.OneTensor(6, 0, [6], [1]).ToArray(), TorchZip.CountingFloats(6));

    [Fact]
    public void RefusesMemoReadsBeforeWrites() => Refused("memo entry 7", new PickleBuilder().Proto().Get(7).Stop().ToArray());

    [Fact]
    public void RefusesStackUnderflow() => Refused("stack is empty", new PickleBuilder().Proto().SetItem().Stop().ToArray());

    [Fact]
    public void RefusesMissingStorageEntries() => Refused("no entry 'archive/data/0'", Valid());

    [Fact]
    public void RefusesStoragesSmallerThanDeclared() => Refused("should hold 6 elements", Valid(), TorchZip.CountingFloats(5));

    [Fact]
    public void RefusesViewsReachingPastTheirStorage()
    {
        Refused("reaches element 6", PickleBuilder.OneTensor(6, 1, [2, 3], [3, 1]).Stop().ToArray(), TorchZip.CountingFloats(6));
        Refused("reaches element 9", PickleBuilder.OneTensor(6, 0, [2, 3], [1, 4]).Stop().ToArray(), TorchZip.CountingFloats(6));
        Refused("outside the storage", PickleBuilder.OneTensor(6, 7, [0], [1]).Stop().ToArray(), TorchZip.CountingFloats(6));
        Refused("64-bit", PickleBuilder.OneTensor(6, 0, [3, 3], [long.MaxValue / 2, 1]).Stop().ToArray(), TorchZip.CountingFloats(6));
    }

    [Fact]
    public void RefusesSelfReferencingContainers()
    {
        // d = {}; d["loop"] = d — flattening would recurse forever without the depth bound.
        var pickle = new PickleBuilder().Proto().EmptyDict().Put(0).Str("loop").Get(0).SetItem().Stop().ToArray();
        Refused("nest deeper than", pickle);
    }

    [Fact]
    public void RefusesExponentiallySharedContainers()
    {
        // l0 = [t]; l(k+1) = [lk, lk]: 2^40 paths to the tensor from a pickle of a few hundred bytes.
        var pickle = PickleBuilder.OneTensor(6, 0, [6], [1]).Put(0);
        for (int level = 0; level < 40; level++)
            pickle.Mark().Get(0).Get(0).Op('l').Put(0).Raw((byte)'0');
        pickle.Raw((byte)'0').Get(0).Stop();
        Refused("one container shared many times over", pickle.ToArray(), TorchZip.CountingFloats(6));
    }

    [Fact]
    public void RefusesDuplicateFlattenedNames()
    {
        // {"a.b": t, "a": {"b": t}}
        var pickle = new PickleBuilder().Proto().EmptyDict().Str("a.b").Tensor("FloatStorage", "0", 6, 0, [6], [1]).Put(1).SetItem()
            .Str("a").EmptyDict().Str("b").Get(1).SetItem().SetItem().Stop().ToArray();
        Refused("same name 'a.b'", pickle, TorchZip.CountingFloats(6));
    }

    [Fact]
    public void RefusesBigEndianCheckpoints() => Refused("byte order is 'big'", Valid(), TorchZip.CountingFloats(6), byteorder: "big");

    [Fact]
    public void RefusesArchivesWithoutDataPkl()
    {
        Refused("no <archive>/data.pkl", Valid(), pickleName: "other.pkl");
        Refused("TorchScript", Valid(), pickleName: "constants.pkl");
    }

    [Theory]
    [InlineData(new byte[0], "empty")]
    [InlineData(new byte[] { 1, 2, 3 }, "starts with 010203")]
    [InlineData(new byte[] { (byte)'P', (byte)'K', 3, 4, 0, 0 }, "no zip end-of-central-directory")]
    public void RefusesFilesThatAreNotZipArchives(byte[] content, string fragment)
    {
        using var dir = new TempDirectory();
        var path = dir.File("bad.pth");
        File.WriteAllBytes(path, content);
        var error = Assert.Throws<ModelFileException>(() => TorchCheckpoint.Open(path));
        Assert.Contains("bad.pth", error.Message);
        Assert.Contains(fragment, error.Message);
    }
}
