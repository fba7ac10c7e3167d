using System;

namespace Kernels.Tests.References;

/// <summary>Float64 references for the convolution and pooling kernels: the definitions as nested loops.</summary>
public static partial class Reference
{
    /// <summary>Z[n, oc, y, x] = b[oc] + Σ_{c,i,j} W[oc, c, i, j]·X[n, c, y·sH − pH + i·dH, x·sW − pW + j·dW], and Σ|terms| per output.</summary>
    public static (double[] Z, double[] Gauge) Conv2D(float[] x, float[] w, float[] b, Conv2DShape s)
    {
        int oh = s.OutHeight, ow = s.OutWidth;
        var z = new double[s.OutputLength];
        var gauge = new double[s.OutputLength];
        for (var n = 0; n < s.Batch; n++)
        {
            for (var oc = 0; oc < s.OutChannels; oc++)
            {
                for (var y = 0; y < oh; y++)
                {
                    for (var xo = 0; xo < ow; xo++)
                    {
                        double sum = b.Length == 0 ? 0 : b[oc], abs = Math.Abs(sum);
                        ForEachTap(s, y, xo, (c, i, j, ih, iw) =>
                        {
                            var term = (double)w[Weight(s, oc, c, i, j)] * x[Input(s, n, c, ih, iw)];
                            sum += term;
                            abs += Math.Abs(term);
                        });
                        var o = Output(s, n, oc, y, xo);
                        z[o] = sum;
                        gauge[o] = abs;
                    }
                }
            }
        }

        return (z, gauge);
    }

    /// <summary>dW, db and dX of Z = conv(X, W) + b from dZ, with the Σ|terms| gauge of each.</summary>
    public static (double[] GradWeights, double[] GradBias, double[] GradInput, double[] WeightGauge, double[] BiasGauge, double[] InputGauge) Conv2DBackward(float[] x, float[] w, double[] dz, Conv2DShape s)
    {
        int oh = s.OutHeight, ow = s.OutWidth;
        var dw = new double[w.Length];
        var dwGauge = new double[w.Length];
        var db = new double[s.OutChannels];
        var dbGauge = new double[s.OutChannels];
        var dx = new double[x.Length];
        var dxGauge = new double[x.Length];
        for (var n = 0; n < s.Batch; n++)
        {
            for (var oc = 0; oc < s.OutChannels; oc++)
            {
                for (var y = 0; y < oh; y++)
                {
                    for (var xo = 0; xo < ow; xo++)
                    {
                        var g = dz[Output(s, n, oc, y, xo)];
                        db[oc] += g;
                        dbGauge[oc] += Math.Abs(g);
                        ForEachTap(s, y, xo, (c, i, j, ih, iw) =>
                        {
                            var wi = Weight(s, oc, c, i, j);
                            var xi = Input(s, n, c, ih, iw);
                            dw[wi] += g * x[xi];
                            dwGauge[wi] += Math.Abs(g * x[xi]);
                            dx[xi] += g * w[wi];
                            dxGauge[xi] += Math.Abs(g * w[wi]);
                        });
                    }
                }
            }
        }

        return (dw, db, dx, dwGauge, dbGauge, dxGauge);
    }

    /// <summary>Max pooling with PyTorch's rule (greater or NaN wins, so the first maximum on ties), its flat in-plane argmax, and average pooling over KH·KW.</summary>
    public static (float[] Max, int[] Argmax, double[] Average) Pool2D(float[] x, Pool2DShape s)
    {
        int oh = s.OutHeight, ow = s.OutWidth;
        var max = new float[s.OutputLength];
        var argmax = new int[s.OutputLength];
        var average = new double[s.OutputLength];
        for (var plane = 0; plane < s.Batch * s.Channels; plane++)
        {
            for (var y = 0; y < oh; y++)
            {
                for (var xo = 0; xo < ow; xo++)
                {
                    var best = float.NegativeInfinity;
                    var at = -1;
                    double sum = 0;
                    for (var i = 0; i < s.KernelHeight; i++)
                    {
                        for (var j = 0; j < s.KernelWidth; j++)
                        {
                            var ih = (y * s.StrideHeight) - s.PaddingHeight + i;
                            var iw = (xo * s.StrideWidth) - s.PaddingWidth + j;
                            if (ih < 0 || ih >= s.Height || iw < 0 || iw >= s.Width)
                            {
                                continue;
                            }

                            var v = x[(plane * s.Height * s.Width) + (ih * s.Width) + iw];
                            sum += v;
                            if (at < 0 || (!float.IsNaN(best) && (v > best || float.IsNaN(v))))
                            {
                                best = v;
                                at = (ih * s.Width) + iw;
                            }
                        }
                    }

                    var o = (plane * oh * ow) + (y * ow) + xo;
                    max[o] = best;
                    argmax[o] = at;
                    average[o] = sum / (s.KernelHeight * s.KernelWidth);
                }
            }
        }

        return (max, argmax, average);
    }

    /// <summary>The backward passes of <see cref="Pool2D"/>: max routes each dY to its argmax (summing in output order), average spreads dY/(KH·KW).</summary>
    public static (float[] MaxGrad, double[] AverageGrad) Pool2DBackward(float[] dy, int[] argmax, Pool2DShape s)
    {
        int oh = s.OutHeight, ow = s.OutWidth;
        var maxGrad = new float[s.InputLength];
        var averageGrad = new double[s.InputLength];
        for (var plane = 0; plane < s.Batch * s.Channels; plane++)
        {
            for (var y = 0; y < oh; y++)
            {
                for (var xo = 0; xo < ow; xo++)
                {
                    var o = (plane * oh * ow) + (y * ow) + xo;
                    maxGrad[(plane * s.Height * s.Width) + argmax[o]] += dy[o];
                    for (var i = 0; i < s.KernelHeight; i++)
                    {
                        for (var j = 0; j < s.KernelWidth; j++)
                        {
                            var ih = (y * s.StrideHeight) - s.PaddingHeight + i;
                            var iw = (xo * s.StrideWidth) - s.PaddingWidth + j;
                            if (ih >= 0 && ih < s.Height && iw >= 0 && iw < s.Width)
                            {
                                averageGrad[(plane * s.Height * s.Width) + (ih * s.Width) + iw] += (double)dy[o] / (s.KernelHeight * s.KernelWidth);
                            }
                        }
                    }
                }
            }
        }

        return (maxGrad, averageGrad);
    }

    private static void ForEachTap(Conv2DShape s, int y, int xo, Action<int, int, int, int, int> tap)
    {
        for (var c = 0; c < s.InChannels; c++)
        {
            for (var i = 0; i < s.KernelHeight; i++)
            {
                for (var j = 0; j < s.KernelWidth; j++)
                {
                    var ih = (y * s.StrideHeight) - s.PaddingHeight + (i * s.DilationHeight);
                    var iw = (xo * s.StrideWidth) - s.PaddingWidth + (j * s.DilationWidth);
                    if (ih >= 0 && ih < s.Height && iw >= 0 && iw < s.Width)
                    {
                        tap(c, i, j, ih, iw);
                    }
                }
            }
        }
    }

    private static int Weight(Conv2DShape s, int oc, int c, int i, int j) => (((oc * s.InChannels) + c) * s.KernelHeight + i) * s.KernelWidth + j;

    private static int Input(Conv2DShape s, int n, int c, int ih, int iw) => (((n * s.InChannels) + c) * s.Height + ih) * s.Width + iw;

    private static int Output(Conv2DShape s, int n, int oc, int y, int xo) => (((n * s.OutChannels) + oc) * s.OutHeight + y) * s.OutWidth + xo;
}
