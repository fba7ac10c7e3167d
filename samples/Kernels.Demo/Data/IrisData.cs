using System;
using System.Globalization;
using System.IO;

namespace Kernels.Demo.Data;

/// <summary>Fisher's Iris data from the bundled <c>Data/iris.csv</c> (see Data/iris.README.md for its source).</summary>
public static class IrisData
{
    private static readonly string[] Species = ["setosa", "versicolor", "virginica"];

    /// <summary>The bundled file, next to the demo's binaries.</summary>
    public static string DefaultPath => Path.Combine(AppContext.BaseDirectory, "Data", "iris.csv");

    /// <summary>Reads the CSV: a header, then four measurements and a species per row.</summary>
    /// <param name="path">The CSV file.</param>
    /// <returns>150 rows × 4 features, 3 classes.</returns>
    /// <exception cref="InvalidDataException">A row without five fields, a bad number or an unknown species.</exception>
    public static Dataset Load(string path)
    {
        var lines = File.ReadAllLines(path);
        var features = new float[(lines.Length - 1) * 4];
        var labels = new int[lines.Length - 1];
        for (var i = 1; i < lines.Length; i++)
        {
            var fields = lines[i].Split(',');
            if (fields.Length != 5)
            {
                throw new InvalidDataException($"{path}:{i + 1}: expected 5 fields, found {fields.Length}.");
            }

            for (var f = 0; f < 4; f++)
            {
                if (!float.TryParse(fields[f], NumberStyles.Float, CultureInfo.InvariantCulture, out features[((i - 1) * 4) + f]))
                {
                    throw new InvalidDataException($"{path}:{i + 1}: '{fields[f]}' is not a number.");
                }
            }

            labels[i - 1] = Array.IndexOf(Species, fields[4]);
            if (labels[i - 1] < 0)
            {
                throw new InvalidDataException($"{path}:{i + 1}: unknown species '{fields[4]}'.");
            }
        }

        return new Dataset(features, labels, 4, Species.Length);
    }
}
