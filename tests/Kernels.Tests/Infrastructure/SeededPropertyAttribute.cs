namespace Kernels.Tests.Infrastructure;

/// <summary>
/// FsCheck.Xunit's [Property], started from the run's seed (<see cref="Gens.RunSeed"/>: KERNELS_FSCHECK_SEED when
/// set, else a fresh random one per test process). A failure prints FsCheck's replay string; setting
/// KERNELS_FSCHECK_SEED to the seed replays the whole run, and [SeededProperty(Replay = "(seed,gamma)")] one test.
/// The properties draw their own values from explicit generators (<see cref="Gens"/>), never FsCheck's default
/// floats, and return <see cref="Gens.ForAll{T}"/>.
/// </summary>
public sealed class SeededPropertyAttribute : FsCheck.Xunit.PropertyAttribute
{
    public SeededPropertyAttribute()
    {
        Replay = Gens.ReplayString;
        QuietOnSuccess = true;
    }
}
