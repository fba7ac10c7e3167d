using System;

namespace Kernels.Tests.References;

/// <summary>
/// Naive float64 references: plain loops, written for reading, not speed. Each public kernel is tested
/// against the function here that shares its name.
/// </summary>
public static partial class Reference
{
    public static double Erf(double x)
    {
        var ax = Math.Abs(x);
        if (ax < 2.5)
        {
            // Maclaurin series: 2/√π Σ (−1)ⁿ x^{2n+1} / (n!(2n+1)); at 2.5 cancellation costs ~3 of 16 digits.
            double sum = 0, term = x;
            for (var n = 0; n < 200; n++)
            {
                var contribution = term / ((2 * n) + 1);
                sum += contribution;
                if (Math.Abs(contribution) < 1e-18 * Math.Abs(sum))
                {
                    break;
                }

                term *= -x * x / (n + 1);
            }

            return 2 / Math.Sqrt(Math.PI) * sum;
        }

        return Math.Sign(x) * (1 - Erfc(ax));
    }

    /// <summary>erfc for x ≥ 2.5 by the Laplace continued fraction, evaluated bottom-up.</summary>
    private static double Erfc(double x)
    {
        double f = x;
        for (var k = 80; k >= 1; k--)
        {
            f = x + (k / 2.0 / f);
        }

        return Math.Exp(-x * x) / Math.Sqrt(Math.PI) / f;
    }

    public static double Sigmoid(double x) => x >= 0 ? 1 / (1 + Math.Exp(-x)) : Math.Exp(x) / (1 + Math.Exp(x));

    public static double Softplus(double x) => Math.Max(x, 0) + Log1p(Math.Exp(-Math.Abs(x)));

    /// <summary>ln(1 + e) without losing small e to the rounding of 1 + e.</summary>
    public static double Log1p(double e) => Math.Abs(e) < 1e-4 ? e - (e * e / 2) + (e * e * e / 3) : Math.Log(1 + e);

    public static double Activation(Activation act, double z) => act.Kind switch
    {
        ActivationKind.Identity => z,
        ActivationKind.Relu => double.IsNaN(z) ? z : Math.Max(z, 0),
        ActivationKind.LeakyRelu => z > 0 ? z : act.Parameter * z,
        ActivationKind.Sigmoid => Sigmoid(z),
        ActivationKind.Tanh => Math.Tanh(z),
        ActivationKind.GeluErf => 0.5 * z * (1 + Erf(z / Math.Sqrt(2))),
        ActivationKind.GeluTanh => 0.5 * z * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (z + (0.044715 * z * z * z)))),
        ActivationKind.Silu => z * Sigmoid(z),
        ActivationKind.Softplus => Softplus(z),
        ActivationKind.Elu => z > 0 ? z : act.Parameter * (Math.Exp(z) - 1),
        _ => throw new ArgumentOutOfRangeException(nameof(act)),
    };

    /// <summary>The analytic derivative da/dz at z, for the reference backward.</summary>
    public static double ActivationDerivative(Activation act, double z)
    {
        switch (act.Kind)
        {
            case ActivationKind.Identity: return 1;
            case ActivationKind.Relu: return z <= 0 ? 0 : 1;
            case ActivationKind.LeakyRelu: return z > 0 ? 1 : act.Parameter;
            case ActivationKind.Sigmoid: { var s = Sigmoid(z); return s * (1 - s); }
            case ActivationKind.Tanh: { var t = Math.Tanh(z); return 1 - (t * t); }
            case ActivationKind.GeluErf: return (0.5 * (1 + Erf(z / Math.Sqrt(2)))) + (z * Math.Exp(-0.5 * z * z) / Math.Sqrt(2 * Math.PI));
            case ActivationKind.GeluTanh:
                {
                    var k = Math.Sqrt(2 / Math.PI);
                    var t = Math.Tanh(k * (z + (0.044715 * z * z * z)));
                    return (0.5 * (1 + t)) + (0.5 * z * (1 - (t * t)) * k * (1 + (3 * 0.044715 * z * z)));
                }

            case ActivationKind.Silu: { var s = Sigmoid(z); return s * (1 + (z * (1 - s))); }
            case ActivationKind.Softplus: return Sigmoid(z);
            case ActivationKind.Elu: return z > 0 ? 1 : act.Parameter * Math.Exp(z);
            default: throw new ArgumentOutOfRangeException(nameof(act));
        }
    }

    public static double[] Softmax(ReadOnlySpan<float> x, int rows, int cols)
    {
        var y = new double[rows * cols];
        for (var r = 0; r < rows; r++)
        {
            var max = double.NegativeInfinity;
            for (var c = 0; c < cols; c++)
            {
                max = Math.Max(max, x[(r * cols) + c]);
            }

            double sum = 0;
            for (var c = 0; c < cols; c++)
            {
                sum += Math.Exp(x[(r * cols) + c] - max);
            }

            for (var c = 0; c < cols; c++)
            {
                y[(r * cols) + c] = Math.Exp(x[(r * cols) + c] - max) / sum;
            }
        }

        return y;
    }

    public static double[] LogSoftmax(ReadOnlySpan<float> x, int rows, int cols)
    {
        var y = new double[rows * cols];
        for (var r = 0; r < rows; r++)
        {
            var max = double.NegativeInfinity;
            for (var c = 0; c < cols; c++)
            {
                max = Math.Max(max, x[(r * cols) + c]);
            }

            double sum = 0;
            for (var c = 0; c < cols; c++)
            {
                sum += Math.Exp(x[(r * cols) + c] - max);
            }

            for (var c = 0; c < cols; c++)
            {
                y[(r * cols) + c] = x[(r * cols) + c] - max - Math.Log(sum);
            }
        }

        return y;
    }

    public static double[] SoftmaxBackward(ReadOnlySpan<float> p, ReadOnlySpan<float> g, int rows, int cols)
    {
        var dx = new double[rows * cols];
        for (var r = 0; r < rows; r++)
        {
            double dot = 0;
            for (var c = 0; c < cols; c++)
            {
                dot += (double)p[(r * cols) + c] * g[(r * cols) + c];
            }

            for (var c = 0; c < cols; c++)
            {
                dx[(r * cols) + c] = p[(r * cols) + c] * (g[(r * cols) + c] - dot);
            }
        }

        return dx;
    }

    public static double[] LogSoftmaxBackward(ReadOnlySpan<float> y, ReadOnlySpan<float> g, int rows, int cols)
    {
        var dx = new double[rows * cols];
        for (var r = 0; r < rows; r++)
        {
            double sum = 0;
            for (var c = 0; c < cols; c++)
            {
                sum += g[(r * cols) + c];
            }

            for (var c = 0; c < cols; c++)
            {
                dx[(r * cols) + c] = g[(r * cols) + c] - (Math.Exp(y[(r * cols) + c]) * sum);
            }
        }

        return dx;
    }

    /// <summary>PyTorch F.cross_entropy with class targets, in double: returns the loss, the row losses and the gradient.</summary>
    public static (double Loss, double[] RowLosses, double[] Grad) SoftmaxCrossEntropy(
        ReadOnlySpan<float> logits, ReadOnlySpan<int> targets, int rows, int classes, LossReduction reduction, ReadOnlySpan<float> weights, int ignoreIndex, double smoothing)
    {
        var logp = LogSoftmax(logits, rows, classes);
        var rowLoss = new double[rows];
        var grad = new double[rows * classes];
        double weightSum = 0;
        for (var r = 0; r < rows; r++)
        {
            var y = targets[r];
            if (y == ignoreIndex)
            {
                continue;
            }

            var w = weights.IsEmpty ? null : weights.ToArray();
            double W(int c) => w is null ? 1 : w[c];
            weightSum += W(y);
            double smooth = 0;
            for (var c = 0; c < classes; c++)
            {
                smooth -= W(c) * logp[(r * classes) + c];
            }

            rowLoss[r] = ((1 - smoothing) * -W(y) * logp[(r * classes) + y]) + (smoothing / classes * smooth);
            for (var c = 0; c < classes; c++)
            {
                var q = (smoothing / classes * W(c)) + (c == y ? (1 - smoothing) * W(y) : 0);
                double qTotal = 0;
                for (var k = 0; k < classes; k++)
                {
                    qTotal += (smoothing / classes * W(k)) + (k == y ? (1 - smoothing) * W(y) : 0);
                }

                grad[(r * classes) + c] = (qTotal * Math.Exp(logp[(r * classes) + c])) - q;
            }
        }

        double total = 0;
        foreach (var l in rowLoss)
        {
            total += l;
        }

        if (reduction == LossReduction.Mean)
        {
            for (var i = 0; i < grad.Length; i++)
            {
                grad[i] /= weightSum;
            }

            return (total / weightSum, rowLoss, grad);
        }

        return (total, rowLoss, grad);
    }

    /// <summary>PyTorch F.cross_entropy with probability targets, in double.</summary>
    public static (double Loss, double[] RowLosses, double[] Grad) SoftmaxCrossEntropy(
        ReadOnlySpan<float> logits, ReadOnlySpan<float> targets, int rows, int classes, LossReduction reduction, ReadOnlySpan<float> weights, double smoothing)
    {
        var logp = LogSoftmax(logits, rows, classes);
        var rowLoss = new double[rows];
        var grad = new double[rows * classes];
        for (var r = 0; r < rows; r++)
        {
            double qTotal = 0;
            for (var c = 0; c < classes; c++)
            {
                var q = (weights.IsEmpty ? 1 : weights[c]) * ((targets[(r * classes) + c] * (1 - smoothing)) + (smoothing / classes));
                qTotal += q;
                rowLoss[r] -= q * logp[(r * classes) + c];
            }

            for (var c = 0; c < classes; c++)
            {
                var q = (weights.IsEmpty ? 1 : weights[c]) * ((targets[(r * classes) + c] * (1 - smoothing)) + (smoothing / classes));
                grad[(r * classes) + c] = (qTotal * Math.Exp(logp[(r * classes) + c])) - q;
            }
        }

        double total = 0;
        foreach (var l in rowLoss)
        {
            total += l;
        }

        if (reduction == LossReduction.Mean)
        {
            for (var i = 0; i < grad.Length; i++)
            {
                grad[i] /= rows;
            }

            return (total / rows, rowLoss, grad);
        }

        return (total, rowLoss, grad);
    }

    /// <summary>BCEWithLogitsLoss in double: −w[p·y·log σ(x) + (1 − y)·log(1 − σ(x))].</summary>
    public static (double Loss, double[] Elements, double[] Grad) BinaryCrossEntropyWithLogits(
        ReadOnlySpan<float> x, ReadOnlySpan<float> y, int rows, int cols, LossReduction reduction, ReadOnlySpan<float> weight, ReadOnlySpan<float> posWeight)
    {
        var n = rows * cols;
        var loss = new double[n];
        var grad = new double[n];
        double total = 0;
        for (var i = 0; i < n; i++)
        {
            var c = i % cols;
            double w = weight.IsEmpty ? 1 : weight.Length == cols ? weight[c] : weight[i];
            double p = posWeight.IsEmpty ? 1 : posWeight[c];
            var logSig = -Softplus(-x[i]);
            var logOneMinusSig = -Softplus(x[i]);
            loss[i] = -w * ((p * y[i] * logSig) + ((1 - y[i]) * logOneMinusSig));
            grad[i] = w * (((1 - y[i]) * Sigmoid(x[i])) - (p * y[i] * (1 - Sigmoid(x[i]))));
            total += loss[i];
        }

        if (reduction == LossReduction.Mean)
        {
            for (var i = 0; i < n; i++)
            {
                grad[i] /= n;
            }

            return (total / n, loss, grad);
        }

        return (total, loss, grad);
    }

    public static double[] ColumnSum(ReadOnlySpan<float> x, int rows, int cols)
    {
        var s = new double[cols];
        for (var r = 0; r < rows; r++)
        {
            for (var c = 0; c < cols; c++)
            {
                s[c] += x[(r * cols) + c];
            }
        }

        return s;
    }
}
