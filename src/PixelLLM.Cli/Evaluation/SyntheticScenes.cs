namespace PixelLLM.Cli.Evaluation;

/// <summary>One shape of a scene: its words, visible box (pixels, exclusive max) and visible mask as run lengths.</summary>
internal sealed record SceneObject(string Shape, string Color, string Size, Box Box, string RegionCaption, int[] MaskRle);

/// <summary>A referring expression and the object it names.</summary>
internal sealed record SceneReferral(int Object, string Text);

/// <summary>One scene of a "pixelllm-synthetic-scenes/1" set (schema: weights-tools/trainer/README.md).</summary>
/// <param name="Index">Position in the file's "scenes" array (for messages).</param>
/// <param name="ImagePath">The PNG, resolved against the data folder.</param>
/// <param name="Width">Image width in pixels.</param>
/// <param name="Height">Image height in pixels.</param>
/// <param name="Objects">The shapes.</param>
/// <param name="Caption">The grammar caption.</param>
/// <param name="CaptionWords">Its words, one decoder token each.</param>
/// <param name="TraceObject">Per caption word, the object it names, or −1 ("and": the mouse moves between objects).</param>
/// <param name="Referrals">Referring expressions.</param>
internal sealed record SyntheticScene(int Index, string ImagePath, int Width, int Height, IReadOnlyList<SceneObject> Objects,
    string Caption, IReadOnlyList<string> CaptionWords, IReadOnlyList<int> TraceObject, IReadOnlyList<SceneReferral> Referrals)
{
    /// <summary>Object <paramref name="index"/>'s mask, row-major (Height, Width).</summary>
    public bool[] Mask(int index) => MaskRle.Decode(Objects[index].MaskRle, Width, Height, $"scenes[{Index}].objects[{index}].mask_rle");
}

/// <summary>The prompts a set was made for (annotations.json "prompts").</summary>
internal sealed record ScenePrompts(string Trace, string Loca, string ReferPrefix);

/// <summary>A held-out set: annotations.json plus its PNGs.</summary>
internal sealed record SyntheticSceneSet(string AnnotationsPath, ScenePrompts Prompts, IReadOnlyList<SyntheticScene> Scenes)
{
    /// <summary>The schema this reader understands.</summary>
    public const string Format = "pixelllm-synthetic-scenes/1";
}
