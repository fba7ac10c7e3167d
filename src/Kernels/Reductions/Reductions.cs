using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Kernels.Elementwise;
using Kernels.Simd;
using Kernels.Validation;

namespace Kernels;

/// <summary>Reductions over row-major [rows, cols] matrices that a training loop needs.</summary>
public static class Reductions
{
    /// <summary>
    /// sums[c] (+)= Σ_r input[r, c]. Rows are added in order in every lane, so the result is bitwise the same
    /// on every instruction-set path.
    /// </summary>
    /// <param name="input">Shape [rows, cols].</param>
    /// <param name="sums">Shape [cols].</param>
    /// <param name="rows">Rows.</param>
    /// <param name="cols">Columns.</param>
    /// <param name="accumulate">Add into <paramref name="sums"/> instead of overwriting it.</param>
    public static void ColumnSum(ReadOnlySpan<float> input, Span<float> sums, int rows, int cols, bool accumulate = false)
    {
        Guard.MatrixSize(rows, cols);
        Guard.HasMatrix(input.Length, rows, cols, nameof(input));
        Guard.HasLength(sums.Length, cols, nameof(sums), "one per column");
        Guard.NoOverlap(input, sums, nameof(input), nameof(sums));
        if (!accumulate)
        {
            sums.Clear();
        }

        var loop = new ColumnSumLoop(input, sums, rows, cols);
        IsaDispatch.Run(ref loop, cols);
    }

    /// <summary>
    /// indices[r] = the first c with the largest input[r, c]. A NaN counts as the largest (the first NaN
    /// wins), as in PyTorch's argmax. A row of width 0 is an error.
    /// </summary>
    /// <param name="input">Shape [rows, cols].</param>
    /// <param name="indices">Shape [rows].</param>
    /// <param name="rows">Rows.</param>
    /// <param name="cols">Columns, at least 1 when rows &gt; 0.</param>
    public static void RowArgMax(ReadOnlySpan<float> input, Span<int> indices, int rows, int cols)
    {
        Guard.MatrixSize(rows, cols);
        if (rows > 0 && cols < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(cols), cols, "argmax needs at least one column.");
        }

        Guard.HasMatrix(input.Length, rows, cols, nameof(input));
        Guard.HasLength(indices.Length, rows, nameof(indices), "one per row");
        for (var r = 0; r < rows; r++)
        {
            indices[r] = ArgMax(input.Slice(r * cols, cols));
        }
    }

    /// <summary>The number of rows whose argmax (as <see cref="RowArgMax"/>) equals the label.</summary>
    /// <param name="scores">Logits or probabilities, shape [rows, cols].</param>
    /// <param name="labels">Shape [rows]; any value, labels outside [0, cols) never match.</param>
    /// <param name="rows">Rows.</param>
    /// <param name="cols">Columns, at least 1 when rows &gt; 0.</param>
    /// <returns>The count of correct predictions.</returns>
    public static int CountCorrect(ReadOnlySpan<float> scores, ReadOnlySpan<int> labels, int rows, int cols)
    {
        Guard.MatrixSize(rows, cols);
        if (rows > 0 && cols < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(cols), cols, "argmax needs at least one column.");
        }

        Guard.HasMatrix(scores.Length, rows, cols, nameof(scores));
        Guard.HasLength(labels.Length, rows, nameof(labels), "one per row");
        var correct = 0;
        for (var r = 0; r < rows; r++)
        {
            correct += ArgMax(scores.Slice(r * cols, cols)) == labels[r] ? 1 : 0;
        }

        return correct;
    }

    private static int ArgMax(ReadOnlySpan<float> row)
    {
        var best = 0;
        var bestValue = row[0];
        if (float.IsNaN(bestValue))
        {
            return 0;
        }

        for (var c = 1; c < row.Length; c++)
        {
            var v = row[c];
            if (float.IsNaN(v))
            {
                return c;
            }

            if (v > bestValue)
            {
                best = c;
                bestValue = v;
            }
        }

        return best;
    }

    private readonly ref struct ColumnSumLoop(ReadOnlySpan<float> input, Span<float> sums, int rows, int cols) : IVectorLoop
    {
        private readonly ReadOnlySpan<float> _input = input;
        private readonly Span<float> _sums = sums;

        [MethodImpl(Compile.Hot)]

        public void Execute<TVec>() where TVec : struct, ISimdFloat<TVec>
        {
            ref var x = ref MemoryMarshal.GetReference(_input);
            ref var s = ref MemoryMarshal.GetReference(_sums);
            var n = (nuint)cols;
            var width = (nuint)TVec.Count;

            // Wide rows stream row by row into the sums (which stay in L1), so the matrix is read in order;
            // narrow ones keep column blocks of four vectors in registers across all rows. Either way each
            // lane adds its rows in order, so the bits do not depend on the choice.
            nuint c = 0;
            if (n > 256)
            {
                // Four rows per pass: each sum is loaded and stored once per four rows instead of once per row, and
                // the four additions still run in row order, so the bits are those of one row at a time.
                var r = 0;
                for (; r + 4 <= rows; r += 4)
                {
                    ref var row0 = ref Unsafe.Add(ref x, (nuint)r * n);
                    ref var row1 = ref Unsafe.Add(ref row0, n);
                    ref var row2 = ref Unsafe.Add(ref row1, n);
                    ref var row3 = ref Unsafe.Add(ref row2, n);
                    for (c = 0; c + width <= n; c += width)
                    {
                        var sum = TVec.Load(ref s, c) + TVec.Load(ref row0, c);
                        sum += TVec.Load(ref row1, c);
                        sum += TVec.Load(ref row2, c);
                        TVec.Store(sum + TVec.Load(ref row3, c), ref s, c);
                    }

                    for (; c < n; c++)
                    {
                        Unsafe.Add(ref s, c) = Unsafe.Add(ref s, c) + Unsafe.Add(ref row0, c) + Unsafe.Add(ref row1, c) + Unsafe.Add(ref row2, c) + Unsafe.Add(ref row3, c);
                    }
                }

                for (; r < rows; r++)
                {
                    ref var row = ref Unsafe.Add(ref x, (nuint)r * n);
                    for (c = 0; c + width <= n; c += width)
                    {
                        TVec.Store(TVec.Load(ref s, c) + TVec.Load(ref row, c), ref s, c);
                    }

                    for (; c < n; c++)
                    {
                        Unsafe.Add(ref s, c) += Unsafe.Add(ref row, c);
                    }
                }

                return;
            }

            for (; c + (4 * width) <= n; c += 4 * width)
            {
                var a0 = TVec.Load(ref s, c);
                var a1 = TVec.Load(ref s, c + width);
                var a2 = TVec.Load(ref s, c + (2 * width));
                var a3 = TVec.Load(ref s, c + (3 * width));
                for (var r = 0; r < rows; r++)
                {
                    var offset = ((nuint)r * n) + c;
                    a0 += TVec.Load(ref x, offset);
                    a1 += TVec.Load(ref x, offset + width);
                    a2 += TVec.Load(ref x, offset + (2 * width));
                    a3 += TVec.Load(ref x, offset + (3 * width));
                }

                TVec.Store(a0, ref s, c);
                TVec.Store(a1, ref s, c + width);
                TVec.Store(a2, ref s, c + (2 * width));
                TVec.Store(a3, ref s, c + (3 * width));
            }

            for (; c + width <= n; c += width)
            {
                var a = TVec.Load(ref s, c);
                for (var r = 0; r < rows; r++)
                {
                    a += TVec.Load(ref x, ((nuint)r * n) + c);
                }

                TVec.Store(a, ref s, c);
            }

            for (; c < n; c++)
            {
                var a = Unsafe.Add(ref s, c);
                for (var r = 0; r < rows; r++)
                {
                    a += Unsafe.Add(ref x, ((nuint)r * n) + c);
                }

                Unsafe.Add(ref s, c) = a;
            }
        }
    }
}
