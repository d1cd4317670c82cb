namespace PixelLLM.Runtime.Checkpoints;

/// <summary>
/// A Flax msgpack checkpoint is malformed or holds something the engine cannot load (truncated data, a corrupt
/// length, an unsupported dtype, ...). The message names the file, the path in the checkpoint tree where reading
/// failed (e.g. <c>params/textual/t5_module/encoder/layers_0</c>) and the byte offset.
/// </summary>
public sealed class ScenicCheckpointException(string message, Exception? inner = null) : ModelFileException(message, inner);
