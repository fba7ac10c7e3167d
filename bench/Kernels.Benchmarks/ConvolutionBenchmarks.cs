using BenchmarkDotNet.Attributes;

namespace Kernels.Benchmarks;

/// <summary>
/// Conv2D forward, and forward plus backward (dW, db and, except for a first layer, dX), on the seed CNN's two
/// layers at batch 64 and a ResNet-style 3×3 same-padding layer (64→64 channels, 56×56, batch 1), one thread.
/// PyTorch 1.13's mkldnn convolution on the same shapes is measured by bench/compare/pytorch_cnn.py right after
/// (PyTorch cannot run inside this process); docs/benchmarks.md puts the two side by side.
/// </summary>
public class ConvolutionBenchmarks : IThroughput
{
    private float[] _x = [], _w = [], _b = [], _columns = [], _scratch = [], _y = [], _dy = [], _dw = [], _db = [], _dx = [];
    private Conv2DShape _shape;
    private bool _firstLayer;

    [Params("conv1 64x1x28x28 k5", "conv2 64x10x12x12 k5", "resnet 1x64x56x56 k3p1")]
    public string Layer { get; set; } = "conv1 64x1x28x28 k5";

    public double BytesPerOperation => 4.0 * (Shape.InputLength + Shape.WeightLength + Shape.OutputLength);

    /// <summary>The forward's 2·N·OC·OH·OW·C·KH·KW; the forward-and-backward rows do 2× (first layer, no dX) or 3× as many, so read their GFLOP/s as the forward's rate.</summary>
    public double FlopsPerOperation => 2.0 * Shape.OutputLength * Shape.PatchLength;

    // From the parameter alone (not from setup): the throughput columns read it on an object BenchmarkDotNet never set up.
    private Conv2DShape Shape => Layer switch
    {
        "conv1 64x1x28x28 k5" => new Conv2DShape(64, 1, 28, 28, 10, 5, 5),
        "conv2 64x10x12x12 k5" => new Conv2DShape(64, 10, 12, 12, 20, 5, 5),
        _ => new Conv2DShape(1, 64, 56, 56, 64, 3, 3, PaddingHeight: 1, PaddingWidth: 1),
    };

    [GlobalSetup]
    public void Setup()
    {
        _shape = Shape;
        _firstLayer = _shape.InChannels == 1;
        _x = Data.Uniform(_shape.InputLength, 1, 1f);
        _w = Data.Uniform(_shape.WeightLength, 2, 0.2f);
        _b = Data.Uniform(_shape.OutChannels, 3, 0.2f);
        _dy = Data.Uniform(_shape.OutputLength, 4, 1f);
        _columns = new float[_shape.ColumnsLength];
        _scratch = new float[_shape.ScratchLength];
        _y = new float[_shape.OutputLength];
        _dw = new float[_shape.WeightLength];
        _db = new float[_shape.OutChannels];
        _dx = _firstLayer ? [] : new float[_shape.InputLength];
    }

    [Benchmark]
    public void Forward() => Conv2D.Forward(_x, _w, _b, _columns, _scratch, _y, _shape, Activation.Relu, new GemmOptions(1));

    [Benchmark]
    public void ForwardAndBackward()
    {
        var options = new GemmOptions(1);
        Conv2D.Forward(_x, _w, _b, _columns, _scratch, _y, _shape, Activation.Relu, options);
        Conv2D.Backward(_columns, _w, _y, _dy, _scratch, _dw, _db, _dx, _shape, Activation.Relu, options: options);
    }
}
