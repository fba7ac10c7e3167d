using System.Globalization;

namespace Kernels.Benchmarks;

/// <summary>"RowsxCols" shape parameters, which read better in the results table than two columns.</summary>
internal static class Shapes
{
    public static (int Rows, int Cols) Parse(string shape)
    {
        var parts = shape.Split('x');
        return (int.Parse(parts[0], CultureInfo.InvariantCulture), int.Parse(parts[1], CultureInfo.InvariantCulture));
    }

    public static double Elements(string shape)
    {
        var (rows, cols) = Parse(shape);
        return (double)rows * cols;
    }
}
