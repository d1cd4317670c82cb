namespace PixelLLM.Runtime.Execution;

/// <summary>
/// A tensor handed from one run to the next stage of a request: held on the host, or still in an executor's kept
/// tensors (<see cref="GraphExecutor.Keep"/>), where the next graph can read it on the backend without a host round trip
/// (<see cref="Bind"/>). The host copy is made when first read, or by the executor before anything overwrites the value
/// (its next input or run) unless the holder said it is done (<see cref="Release"/>).
/// </summary>
public sealed class KeptTensor
{
    private readonly GraphExecutor? source;
    private readonly string? name;
    private HostTensor? host;

    /// <summary>A value held on the host.</summary>
    public KeptTensor(HostTensor value)
    {
        host = value;
        Desc = value.Desc;
    }

    internal KeptTensor(GraphExecutor source, string name, TensorDesc desc)
    {
        (this.source, this.name) = (source, name);
        Desc = desc;
    }

    /// <summary>Element type and shape.</summary>
    public TensorDesc Desc { get; }

    /// <summary>Whether the executor still holds the value (it may be read there).</summary>
    public bool IsResident => source is not null && !Overwritten;

    /// <summary>Whether the holder said it needs no host copy (<see cref="Release"/>).</summary>
    private bool released;

    /// <summary>Set by the executor once it has overwritten (or freed) the value's storage.</summary>
    internal bool Overwritten { get; private set; }

    /// <summary>The value on the host, copied there when first read.</summary>
    /// <exception cref="InvalidOperationException">released (or its copy failed), and the executor has overwritten it since.</exception>
    public HostTensor Host
    {
        get
        {
            if (host is not null) return host;
            if (Overwritten) throw new InvalidOperationException($"'{name}' has been overwritten by its executor without a host copy (it was released, or the copy failed)");
            return host = source!.Fetch(name!);
        }
    }

    /// <summary>Sets <paramref name="input"/> of <paramref name="exec"/> to this value: on the backend while resident, else from the host copy.</summary>
    public void Bind(GraphExecutor exec, string input)
    {
        if (IsResident) exec.SetInput(input, source!, name!);
        else exec.SetInput(input, Host);
    }

    /// <summary>Says no host copy is needed: the executor may overwrite the value, after which reading it throws.</summary>
    public void Release() => released = true;

    /// <summary>Called by the executor before it overwrites the value: keeps it readable unless released.</summary>
    internal void BeforeOverwrite()
    {
        try
        {
            if (!released && host is null) host = source!.Fetch(name!);
        }
        finally
        {
            Overwritten = true; // a failed copy leaves it unreadable (Host throws), never reading the next run's bytes
        }
    }
}
