using System;
using System.Collections.Generic;
using FsCheck.Fluent;
using Kernels.Tests.Infrastructure;
using Xunit;

namespace Kernels.Tests;

/// <summary>
/// A failed property in a CI log must be replayable on a developer's machine: its message carries the seed, and
/// the same seed (set through <see cref="Gens.SeedVariable"/>) draws the same cases in the same order.
/// </summary>
public class PropertyReplayTests
{
    [Fact]
    public void A_failed_property_names_its_seed_and_the_seed_replays_the_same_cases()
    {
        List<int> Run(out string message)
        {
            var drawn = new List<int>();
            var e = Assert.Throws<Gens.PropertyFailedException>(() => Gens.Check(Gen.Choose(0, 1_000_000), x =>
            {
                drawn.Add(x);
                Assert.True(x % 7 != 3, $"x = {x}");
            }, maxTest: 1000));
            message = e.Message;
            return drawn;
        }

        var first = Run(out var message);
        Assert.Contains($"{Gens.SeedVariable}={Gens.RunSeed}", message, StringComparison.Ordinal);
        Assert.Equal(first, Run(out _));
        Assert.Equal(12345UL, Gens.ParseSeed("12345"));
    }
}
