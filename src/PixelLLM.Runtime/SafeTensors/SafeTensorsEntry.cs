namespace PixelLLM.Runtime.SafeTensors;

/// <summary>
/// One validated tensor entry of a safetensors header. <see cref="Begin"/> and <see cref="End"/> are byte offsets
/// relative to the start of the data section, already checked to lie inside it and to match the desc's byte size.
/// </summary>
internal sealed record SafeTensorsEntry(string Name, TensorDesc Desc, long Begin, long End)
{
    public long Length => End - Begin;
}
