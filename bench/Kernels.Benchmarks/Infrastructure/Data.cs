namespace Kernels.Benchmarks;

/// <summary>Deterministic benchmark inputs.</summary>
internal static class Data
{
    public static float[] Uniform(int length, int seed, float scale)
    {
        var random = new System.Random(seed);
        var a = new float[length];
        for (var i = 0; i < length; i++)
        {
            a[i] = ((float)random.NextDouble() * 2f - 1f) * scale;
        }

        return a;
    }

    public static int[] Labels(int length, int classes, int seed)
    {
        var random = new System.Random(seed);
        var a = new int[length];
        for (var i = 0; i < length; i++)
        {
            a[i] = random.Next(classes);
        }

        return a;
    }
}
