namespace Kernels;

/// <summary>How per-element (or per-row) losses are reduced, as PyTorch's <c>reduction=</c>.</summary>
public enum LossReduction
{
    /// <summary>No reduction: per-row (or per-element) losses are written out; gradients are those of each row's own loss.</summary>
    None,

    /// <summary>The mean (the weighted mean where the loss defines one).</summary>
    Mean,

    /// <summary>The sum.</summary>
    Sum,
}
