using System.Runtime.InteropServices;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;

namespace PixelLLM.Runtime.Checks;

/// <summary>One case's outcome: the error of the candidate against the reference, relative to the reference's largest magnitude.</summary>
public sealed record OpCheckResult(string Op, string Case, string Shapes, double Error, double Tolerance, string? Failure)
{
    public bool Passed => Failure is null && Error <= Tolerance;
}

/// <summary>
/// Runs every <see cref="OpCheckCases"/> case on a candidate backend and on a reference backend (the CPU) from the same
/// random inputs and compares the outputs. Outputs are poisoned (NaN / 0xFF bytes) before each run so a kernel that
/// writes nothing fails; in-place ops, and the inputs an op updates, are compared whole. Float error is
/// max |candidate − reference| / max |reference|; NaN must match NaN; integer outputs must be equal.
/// </summary>
public static class BackendCheck
{
    /// <summary>Runs the catalog; <paramref name="roundInput"/> rounds float inputs (to bf16 when the candidate stores bf16).</summary>
    public static IReadOnlyList<OpCheckResult> Run(IBackend reference, IBackend candidate, double tolerance, int seed = 1234,
        Func<float, float>? roundInput = null, Func<OpCheckCase, bool>? filter = null)
    {
        var results = new List<OpCheckResult>();
        foreach (var c in OpCheckCases.All)
        {
            if (filter is not null && !filter(c)) continue;
            var shapes = TensorDesc.List(c.Inputs);
            var inputs = c.MakeInputs(new Random(seed), roundInput ?? (v => v));
            HostTensor[] expected, actual;
            try { expected = RunWithUpdates(reference, c, inputs); }
            catch (Exception e) { results.Add(new(c.Op.Name, c.Label, shapes, double.PositiveInfinity, tolerance, $"reference failed: {e.Message}")); continue; }
            try { actual = RunWithUpdates(candidate, c, inputs); }
            catch (Exception e) { results.Add(new(c.Op.Name, c.Label, shapes, double.PositiveInfinity, tolerance, $"{e.GetType().Name}: {e.Message}")); continue; }
            // The output, then every input the op updates in place: the worst error, the first failure named.
            double worst = 0;
            string? failed = null;
            for (int i = 0; i < expected.Length && failed is null; i++)
            {
                bool bits = i > 0 && c.FloatBits.Contains(c.Op.UpdatedInputs[i - 1]);
                var (error, failure) = bits ? Compare(OpCheckCase.AsFloats(expected[i]), OpCheckCase.AsFloats(actual[i])) : Compare(expected[i], actual[i]);
                worst = Math.Max(worst, error);
                if (failure is not null) failed = i == 0 ? failure : $"updated input {c.Op.UpdatedInputs[i - 1]}: {failure}";
            }
            results.Add(new(c.Op.Name, c.Label, shapes, worst, tolerance, failed));
        }
        return results;
    }

    /// <summary>Builds the one-node graph of a case and runs it on <paramref name="backend"/>: inputs written, output poisoned, read back.</summary>
    public static HostTensor RunOne(IBackend backend, OpCheckCase c, HostTensor[] inputs) => RunWithUpdates(backend, c, inputs)[0];

    /// <summary><see cref="RunOne"/>'s output, then the inputs the op updates in place (<see cref="Op.UpdatedInputs"/>) as they are after the run.</summary>
    public static HostTensor[] RunWithUpdates(IBackend backend, OpCheckCase c, HostTensor[] inputs)
    {
        var graph = new Graph();
        var tensors = c.Inputs.Select((d, i) => graph.Input($"x{i}", d.DType, d.Shape.ToArray())).ToArray();
        var node = graph.Apply(c.Op, tensors).Producer ?? throw new InvalidOperationException($"{c.Op.Name} made no node");
        var buffers = new List<IBackendBuffer>();
        try
        {
            var views = new TensorView[inputs.Length];
            for (int i = 0; i < inputs.Length; i++)
            {
                int offset = c.Misaligned.Contains(i) ? OpCheckCase.MisalignBytes : 0;
                var buffer = backend.Allocate(Math.Max(1, backend.StorageBytes(inputs[i].Desc) + offset));
                buffers.Add(buffer);
                views[i] = new TensorView(buffer, offset, inputs[i].Desc);
                backend.Write(views[i], inputs[i].Data.Span);
            }
            var outDesc = node.Output.Desc;
            TensorView output;
            if (c.Op.InPlaceInput >= 0)
            {
                output = views[c.Op.InPlaceInput] with { Desc = outDesc };
            }
            else
            {
                var buffer = backend.Allocate(Math.Max(1, backend.StorageBytes(outDesc)));
                buffers.Add(buffer);
                output = new TensorView(buffer, 0, outDesc);
                backend.Write(output, Poison(outDesc));
            }
            backend.Execute(node, views, output);
            backend.Synchronize();
            return [Read(backend, output), .. c.Op.UpdatedInputs.Select(i => Read(backend, views[i]))];
        }
        finally
        {
            foreach (var b in buffers) b.Dispose();
        }
    }

    private static HostTensor Read(IBackend backend, TensorView view)
    {
        var bytes = new byte[view.Desc.ByteSize];
        backend.Read(view, bytes);
        return new HostTensor(view.Desc, bytes);
    }

    /// <summary>NaN in every float element, 0xFF in every integer byte.</summary>
    public static byte[] Poison(TensorDesc desc)
    {
        var bytes = new byte[desc.ByteSize];
        switch (desc.DType)
        {
            case DType.F32: MemoryMarshal.Cast<byte, float>(bytes.AsSpan()).Fill(float.NaN); break;
            case DType.F16: MemoryMarshal.Cast<byte, Half>(bytes.AsSpan()).Fill(Half.NaN); break;
            case DType.BF16: MemoryMarshal.Cast<byte, ushort>(bytes.AsSpan()).Fill(0x7fc0); break;
            default: bytes.AsSpan().Fill(0xff); break;
        }
        return bytes;
    }

    /// <summary>The relative error of <paramref name="actual"/> against <paramref name="expected"/>, or why they cannot be compared.</summary>
    public static (double Error, string? Failure) Compare(HostTensor expected, HostTensor actual)
    {
        if (expected.Desc != actual.Desc) return (double.PositiveInfinity, $"output {actual.Desc} but the reference gives {expected.Desc}");
        if (!expected.DType.IsFloat())
        {
            var e = expected.Data.Span;
            var a = actual.Data.Span;
            int size = expected.DType.SizeOf();
            for (int i = 0; i < e.Length; i += size)
                if (!e.Slice(i, size).SequenceEqual(a.Slice(i, size)))
                    return (double.PositiveInfinity, $"integer element {i / size} differs");
            return (0, null);
        }
        var ef = expected.ToFloatArray();
        var af = actual.ToFloatArray();
        double scale = 0, worst = 0;
        foreach (var v in ef) if (float.IsFinite(v)) scale = Math.Max(scale, Math.Abs(v));
        for (int i = 0; i < ef.Length; i++)
        {
            if (float.IsNaN(ef[i]) || float.IsNaN(af[i]))
            {
                if (float.IsNaN(ef[i]) != float.IsNaN(af[i]))
                    return (double.PositiveInfinity, $"element {i}: {af[i]} where the reference has {ef[i]}");
                continue;
            }
            if (float.IsInfinity(ef[i]) || float.IsInfinity(af[i]))
            {
                if (ef[i] != af[i]) return (double.PositiveInfinity, $"element {i}: {af[i]} where the reference has {ef[i]}");
                continue;
            }
            worst = Math.Max(worst, Math.Abs((double)af[i] - ef[i]));
        }
        return (scale == 0 ? worst : worst / scale, null);
    }
}
