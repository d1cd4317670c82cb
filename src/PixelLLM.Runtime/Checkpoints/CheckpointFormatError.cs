namespace PixelLLM.Runtime.Checkpoints;

/// <summary>
/// Raised inside the msgpack reader and the tree walker at the byte where decoding failed. It never leaves
/// <see cref="ScenicCheckpoint.Open"/>: there it becomes a <see cref="ScenicCheckpointException"/> that adds the file
/// and the path in the tree.
/// </summary>
internal sealed class CheckpointFormatError(string message, long offset) : Exception(message)
{
    public long Offset { get; } = offset;

    /// <summary>Path components below the value being skipped when the failure happened (empty outside a skip).</summary>
    public IReadOnlyList<string> InnerPath { get; private init; } = [];

    /// <summary>This error, located <paramref name="innerPath"/> below the value that was being skipped.</summary>
    public CheckpointFormatError Within(IReadOnlyList<string> innerPath) =>
        new(Message, Offset) { InnerPath = [.. innerPath, .. InnerPath] };
}
