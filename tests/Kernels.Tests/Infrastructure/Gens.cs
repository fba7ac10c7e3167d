using System;
using System.Linq;
using FsCheck;
using FsCheck.Fluent;
using Microsoft.FSharp.Core;

namespace Kernels.Tests.Infrastructure;

/// <summary>
/// FsCheck generators. Floats come from scaled integers, never FsCheck's default floats, which are NaN or
/// ∞ one time in eight; special values are placed deliberately by the tests that want them.
/// </summary>
public static class Gens
{
    /// <summary>The shapes the issue names, plus neighbours of every vector width.</summary>
    public static readonly int[] InterestingSizes = [0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 97, 127, 128, 129, 131, 257];

    public static Gen<int> Size(int max) =>
        Gen.Frequency((3, Gen.Elements(InterestingSizes.Where(s => s <= max).ToArray())), (1, Gen.Choose(0, max)));

    public static Gen<int> PositiveSize(int max) =>
        Gen.Frequency((3, Gen.Elements(InterestingSizes.Where(s => s >= 1 && s <= max).ToArray())), (1, Gen.Choose(1, max)));

    /// <summary>Uniform-ish values in [-scale, scale] with 2⁻¹⁶ resolution.</summary>
    public static Gen<float> Value(float scale) => Gen.Choose(-65536, 65536).Select(i => i * (scale / 65536f));

    /// <summary>Values in [lo, hi].</summary>
    public static Gen<float> Between(float lo, float hi) => Gen.Choose(0, 1 << 20).Select(i => lo + ((hi - lo) * (i / (float)(1 << 20))));

    /// <summary>Value regimes: ordinary, softmax-hostile [90, 100], and around ±1e4.</summary>
    public static Gen<Func<int, float>> Regime() => Gen.Elements<Func<int, float>>(
        i => Noise(i) * 4f,
        i => 90f + (5f * (Noise(i) + 1f)),
        i => (i % 2 == 0 ? 1e4f : -1e4f) + Noise(i) * 10f,
        i => Noise(i) * 30f);

    public static Gen<float[]> Array(int length, Gen<float> value) => Gen.ArrayOf(value, length);

    public static Gen<int> Seed() => Gen.Choose(0, int.MaxValue);

    /// <summary>Deterministic noise in [-1, 1) from an index, for bulk data inside a property.</summary>
    public static float Noise(int i)
    {
        var h = (uint)i * 2654435761u;
        h ^= h >> 15;
        h *= 2246822519u;
        h ^= h >> 13;
        return (h & 0xFFFFFF) / 8388608f - 1f;
    }

    public static float[] Fill(int length, int seed, float scale)
    {
        var a = new float[length];
        for (var i = 0; i < length; i++)
        {
            a[i] = Noise((seed * 7919) + i) * scale;
        }

        return a;
    }

    /// <summary>The variable that replays a failed run's properties: set it to the seed a failure message prints.</summary>
    public const string SeedVariable = "KERNELS_FSCHECK_SEED";

    /// <summary>
    /// The seed of this process's properties: <see cref="SeedVariable"/> when set, else a fresh random one. Every
    /// property starts its generator from it, so one number in a failure message replays that failure exactly.
    /// </summary>
    public static readonly ulong RunSeed = ParseSeed(Environment.GetEnvironmentVariable(SeedVariable));

    public static Config Config(int maxTest = 100) => FsCheck.Config.QuickThrowOnFailure.WithMaxTest(maxTest)
        .WithReplay(FSharpOption<Replay>.Some(new Replay(new Rnd(RunSeed), FSharpOption<int>.None)));

    /// <summary>The run's seed as FsCheck's replay string, "(seed,gamma)", which <see cref="SeededPropertyAttribute"/> applies.</summary>
    public static string ReplayString
    {
        get
        {
            var rnd = new Rnd(RunSeed);
            return FormattableString.Invariant($"({rnd.Seed},{rnd.Gamma})");
        }
    }

    /// <summary>The property that <paramref name="body"/> holds for every value <paramref name="gen"/> draws (a [SeededProperty] test returns it).</summary>
    public static Property ForAll<T>(Gen<T> gen, Action<T> body) => Prop.ForAll(Arb.From(gen), body);

    /// <summary>Runs a property with the shared config; a failure's message says how to replay it.</summary>
    public static void Check<T>(Gen<T> gen, Action<T> body, int maxTest = 100)
    {
        try
        {
            FsCheck.Check.One(Config(maxTest), Prop.ForAll(Arb.From(gen), body));
        }
        catch (Exception e)
        {
            throw new PropertyFailedException($"{e.Message}\nReplay with {SeedVariable}={RunSeed}.", e);
        }
    }

    internal static ulong ParseSeed(string? text) =>
        string.IsNullOrWhiteSpace(text) ? (ulong)System.Random.Shared.NextInt64() : ulong.Parse(text, System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>A falsified property, with the seed that replays it.</summary>
    public sealed class PropertyFailedException(string message, Exception inner) : Exception(message, inner);
}
