// The device half of OpenClBackend. OpenCL C 1.2, built once per context.
//
// Contraction is off so that a*b + c is two rounded operations wherever it is written that way, and fma() is
// written out wherever the CPU kernels fuse: the same formulas then give the same bits on the CPU path and on
// any conforming device for everything that uses only +, -, *, fma (GEMM sums, column sums, SGD). Builtins
// such as exp and tanh have per-device error bounds (OpenCL C 1.2, section 7.4), which the tests allow for.
#pragma OPENCL FP_CONTRACT OFF

// The ids are Kernels.ActivationKind's values.
#define ACT_IDENTITY 0
#define ACT_RELU 1
#define ACT_LEAKY_RELU 2
#define ACT_SIGMOID 3
#define ACT_TANH 4
#define ACT_GELU_ERF 5
#define ACT_GELU_TANH 6
#define ACT_SILU 7
#define ACT_SOFTPLUS 8
#define ACT_ELU 9

// sigma(z) without overflow: e^-|z| is at most 1.
inline float sigmoid_of(float z)
{
    float e = exp(-fabs(z));
    return z >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

// a = act(z), the formulas of Kernels.ActivationKind.
inline float act_forward(int kind, float param, float z)
{
    switch (kind)
    {
    case ACT_RELU: return (z > 0.0f || isnan(z)) ? z : 0.0f;
    case ACT_LEAKY_RELU: return z > 0.0f ? z : z * param;
    case ACT_SIGMOID: return sigmoid_of(z);
    case ACT_TANH: return tanh(z);
    case ACT_GELU_ERF: { float half_z = 0.5f * z; return fma(half_z, erf(z * 0.707106781f), half_z); }
    case ACT_GELU_TANH:
    {
        float inner = 0.797884561f * fma(0.044715f * z * z, z, z);
        float half_z = 0.5f * z;
        return fma(half_z, tanh(inner), half_z);
    }
    case ACT_SILU: return z * sigmoid_of(z);
    // ln(1 + e^z) = max(z, 0) + ln(1 + e^-|z|): the exponential never overflows and log1p keeps small tails.
    case ACT_SOFTPLUS: return fmax(z, 0.0f) + log1p(exp(-fabs(z)));
    case ACT_ELU: return z > 0.0f ? z : param * expm1(z);
    default: return z;
    }
}

// dz = da * act'(saved); saved is a for ReLU, sigmoid, tanh and ELU and z otherwise (Kernels.Activation.Saved).
inline float act_backward(int kind, float param, float g, float s)
{
    switch (kind)
    {
    case ACT_RELU: return s <= 0.0f ? 0.0f : g; // a NaN output passes g, as PyTorch's threshold_backward
    case ACT_LEAKY_RELU: return s > 0.0f ? g : g * param;
    case ACT_SIGMOID: return g * (s * (1.0f - s));
    case ACT_TANH: return g * fma(-s, s, 1.0f);
    case ACT_GELU_ERF:
    {
        float cdf = fma(0.5f, erf(s * 0.707106781f), 0.5f);
        float pdf = exp(-0.5f * s * s) * 0.398942280f;
        return g * fma(s, pdf, cdf);
    }
    case ACT_GELU_TANH:
    {
        // With u = sqrt(2/pi)(z + 0.044715 z^3): d/dz [z/2 (1 + tanh u)] = (1 + tanh u)/2 + z/2 (1 - tanh^2 u) u'.
        // Written with tanh, 1 - tanh^2 u cancels catastrophically once |u| is large: one ulp of error in a device's
        // tanh near +-1 leaves 1.2e-7 where the truth underflows, and z u' (6.5e3 at z = -49) turns that into -7.7e-4.
        // So use (1 + tanh u)/2 = sigma(2u) and 1 - tanh^2 u = 4 sigma(2u) sigma(-2u), both from one e = exp(-|2u|)
        // without a subtraction: each term goes to its exact limit (1 or 0) in the saturated range.
        float z2 = s * s;
        float u = 0.797884561f * fma(0.044715f * z2, s, s);
        float inner_derivative = 0.797884561f * fma(3.0f * 0.044715f, z2, 1.0f);
        float e = exp(-2.0f * fabs(u));
        float big = 1.0f / (1.0f + e);
        float small = e / (1.0f + e);
        float plus = u >= 0.0f ? big : small;
        float minus = u >= 0.0f ? small : big;
        return g * fma(2.0f * s * plus * minus, inner_derivative, plus);
    }
    case ACT_SILU: { float sg = sigmoid_of(s); return g * (sg * fma(s, 1.0f - sg, 1.0f)); }
    case ACT_SOFTPLUS: return g * sigmoid_of(s);
    case ACT_ELU: return s > 0.0f ? g : g * (s + param);
    default: return g;
    }
}

// C = act(alpha*op(A)*op(B) + beta*C + bias), row-major, op(A) m x k, op(B) k x n.
// A work-group of WG x WG items computes a TS x TS tile of C (TS = WG * WPT), each item WPT x WPT elements
// strided by WG, so that neighbouring items read neighbouring local-memory words and write neighbouring
// columns of C. Each step stages a KT-deep slice of op(A) and op(B) in local memory, read from global memory
// along whichever index is contiguous for the operand's transpose (coalesced for both layouts). Every C
// element sums its k products in order with fma from zero, as the CPU micro-kernels do within a k block.
// When beta is 0 C is not read, and when alpha is 0 A and B are not read.
__kernel __attribute__((reqd_work_group_size(WG, WG, 1)))
void sgemm(const int trans_a, const int trans_b, const int m, const int n, const int k, const float alpha,
           __global const float* restrict a, const int lda, __global const float* restrict b, const int ldb,
           const float beta, __global float* restrict c, const int ldc,
           __global const float* restrict bias, const int has_bias, const int act, const float act_param)
{
    __local float a_tile[KT][TS + 1];
    __local float b_tile[KT][TS + 1];
    const int tx = get_local_id(0);
    const int ty = get_local_id(1);
    const int row0 = get_group_id(1) * TS;
    const int col0 = get_group_id(0) * TS;
    const int lid = ty * WG + tx;

    float acc[WPT][WPT];
    for (int r = 0; r < WPT; r++)
        for (int s = 0; s < WPT; s++)
            acc[r][s] = 0.0f;

    const int depth = alpha == 0.0f ? 0 : k;
    for (int p0 = 0; p0 < depth; p0 += KT)
    {
        for (int l = lid; l < KT * TS; l += WG * WG)
        {
            int i, p;
            if (trans_a) { i = l % TS; p = l / TS; } else { p = l % KT; i = l / KT; }
            const int gi = row0 + i, gp = p0 + p;
            a_tile[p][i] = (gi < m && gp < k) ? (trans_a ? a[(long)gp * lda + gi] : a[(long)gi * lda + gp]) : 0.0f;

            int j, q;
            if (trans_b) { q = l % KT; j = l / KT; } else { j = l % TS; q = l / TS; }
            const int gj = col0 + j, gq = p0 + q;
            b_tile[q][j] = (gj < n && gq < k) ? (trans_b ? b[(long)gj * ldb + gq] : b[(long)gq * ldb + gj]) : 0.0f;
        }

        barrier(CLK_LOCAL_MEM_FENCE);

        // Only the slice's real depth: adding 0*0 past k could turn a -0 sum into +0.
        const int steps = min(KT, k - p0);
        for (int p = 0; p < steps; p++)
        {
            float bv[WPT];
            for (int s = 0; s < WPT; s++)
                bv[s] = b_tile[p][tx + s * WG];
            for (int r = 0; r < WPT; r++)
            {
                const float av = a_tile[p][ty + r * WG];
                for (int s = 0; s < WPT; s++)
                    acc[r][s] = fma(av, bv[s], acc[r][s]);
            }
        }

        barrier(CLK_LOCAL_MEM_FENCE);
    }

    for (int r = 0; r < WPT; r++)
    {
        const int gi = row0 + ty + r * WG;
        if (gi >= m)
            continue;
        for (int s = 0; s < WPT; s++)
        {
            const int gj = col0 + tx + s * WG;
            if (gj >= n)
                continue;
            __global float* target = c + (long)gi * ldc + gj;
            float v = alpha * acc[r][s];
            if (beta != 0.0f)
                v = fma(*target, beta, v);
            if (has_bias)
                v += bias[gj];
            *target = act_forward(act, act_param, v);
        }
    }
}

// The same product and epilogue, one work-item per element of C: for outputs narrower or shorter than a tile
// (a 100x3 weight gradient, a 1050x3 logits layer), where the tiled kernel would spend most of its lanes on
// padding. Each element sums its k products in order with fma from zero, exactly as in sgemm, so the two
// kernels give the same bits and the choice between them never changes a result.
__kernel void sgemm_direct(const int trans_a, const int trans_b, const int m, const int n, const int k, const float alpha,
                           __global const float* restrict a, const int lda, __global const float* restrict b, const int ldb,
                           const float beta, __global float* restrict c, const int ldc,
                           __global const float* restrict bias, const int has_bias, const int act, const float act_param)
{
    const int j = get_global_id(0);
    const int i = get_global_id(1);
    if (i >= m || j >= n)
        return;
    const long a_row = trans_a ? 1 : lda, a_col = trans_a ? lda : 1;
    const long b_row = trans_b ? 1 : ldb, b_col = trans_b ? ldb : 1;
    __global const float* ap = a + i * a_row;
    __global const float* bp = b + j * b_col;
    float acc = 0.0f;
    const int depth = alpha == 0.0f ? 0 : k;
    for (int p = 0; p < depth; p++)
        acc = fma(ap[p * a_col], bp[p * b_row], acc);

    __global float* target = c + (long)i * ldc + j;
    float v = alpha * acc;
    if (beta != 0.0f)
        v = fma(*target, beta, v);
    if (has_bias)
        v += bias[j];
    *target = act_forward(act, act_param, v);
}

// output = act(input), elementwise.
__kernel void activation_forward(const int length, const int act, const float act_param,
                                 __global const float* input, __global float* output)
{
    const int i = get_global_id(0);
    if (i < length)
        output[i] = act_forward(act, act_param, input[i]);
}

// grad_input = grad_output * act'(saved), elementwise.
__kernel void activation_backward(const int length, const int act, const float act_param,
                                  __global const float* grad_output, __global const float* saved,
                                  __global float* grad_input)
{
    const int i = get_global_id(0);
    if (i < length)
        grad_input[i] = act_backward(act, act_param, grad_output[i], saved[i]);
}

// sums[j] (+)= sum over rows of input[r, j], rows added in order: the same bits as Kernels.Reductions.ColumnSum.
__kernel void column_sum(const int rows, const int cols, __global const float* restrict input,
                         __global float* restrict sums, const int accumulate)
{
    const int j = get_global_id(0);
    if (j >= cols)
        return;
    float s = accumulate ? sums[j] : 0.0f;
    for (int r = 0; r < rows; r++)
        s += input[(long)r * cols + j];
    sums[j] = s;
}

// The dense layer's backward epilogue, one work-item per column walking the rows in order: grad_input = grad_output
// * act'(saved) and bias_grad[j] (+)= the column's sum of grad_input, the bits of activation_backward followed by
// column_sum. grad_input may alias grad_output or saved: each element is read before it is written.
__kernel void activation_backward_bias_gradient(const int rows, const int cols, const int act, const float act_param,
                                                __global const float* grad_output, __global const float* saved,
                                                __global float* grad_input, __global float* restrict bias_grad,
                                                const int accumulate)
{
    const int j = get_global_id(0);
    if (j >= cols)
        return;
    float s = accumulate ? bias_grad[j] : 0.0f;
    for (int r = 0; r < rows; r++)
    {
        const long i = (long)r * cols + j;
        const float g = act_backward(act, act_param, grad_output[i], saved[i]);
        grad_input[i] = g;
        s += g;
    }
    bias_grad[j] = s;
}

// Softmax cross-entropy with class-index targets, PyTorch's F.cross_entropy (weight, ignore_index,
// label_smoothing) with the formulas of Kernels.SoftmaxCrossEntropy, in two launches. This one is one work-item
// per row, classes read in order. With l = log_softmax(x), w the class weights (1 when absent), eps the smoothing
// and C the classes it writes five per-row values into stats (each a block of rows floats): the row's loss
// (1 - eps)*(-w_y*l_y) + (eps/C)*(-sum_c w_c*l_c); its weight w_y, the mean's denominator term; and, for the
// gradient launch, max_c x_c, sum_c exp(x_c - max) and q_total = sum_c q_c (q below). An ignored row has loss
// and weight 0. A target outside [0, classes) that is not ignore_index lowers *bad_row to its row; the host
// starts it at rows, reports the first bad row and launches no gradient.
__kernel void softmax_cross_entropy_rows(const int rows, const int classes, __global const float* restrict logits,
                                         __global const int* restrict targets, __global const float* restrict weights,
                                         const int has_weights, const int ignore_index, const float smoothing,
                                         __global float* restrict stats, volatile __global int* restrict bad_row)
{
    const int i = get_global_id(0);
    if (i >= rows)
        return;
    __global const float* x = logits + (long)i * classes;
    const int y = targets[i];
    if (y == ignore_index)
    {
        stats[i] = 0.0f;
        stats[rows + i] = 0.0f;
        return;
    }

    if (y < 0 || y >= classes)
    {
        atomic_min(bad_row, i);
        return;
    }

    float max = x[0];
    for (int c = 1; c < classes; c++)
        max = (x[c] > max || isnan(x[c])) ? x[c] : max;
    float sum = 0.0f;
    float weighted_shifted = 0.0f;
    float weight_total = 0.0f;
    for (int c = 0; c < classes; c++)
    {
        const float w = has_weights ? weights[c] : 1.0f;
        sum += exp(x[c] - max);
        weighted_shifted += w * (x[c] - max);
        weight_total += w;
    }

    const float log_sum = log(sum);
    const float wy = has_weights ? weights[y] : 1.0f;
    const float per_class = smoothing / classes;
    float loss = (1.0f - smoothing) * (-wy * ((x[y] - max) - log_sum));
    if (smoothing != 0.0f)
        loss += per_class * -(weighted_shifted - log_sum * weight_total);
    stats[i] = loss;
    stats[rows + i] = wy;
    stats[2 * rows + i] = max;
    stats[3 * rows + i] = sum;
    stats[4 * rows + i] = (1.0f - smoothing) * wy + per_class * weight_total;
}

// The gradient launch, once the host has the mean's denominator (scale = 1/sum_i w_y_i): one work-item per row,
// grad_c = scale*(q_total*p_c - q_c) with p_c = exp(x_c - max)/sum and q_c = (1 - eps)*w_y*[c = y] + (eps/C)*w_c,
// written as Kernels.SoftmaxCrossEntropy writes it (one fma per element, then the target's term). Ignored rows get
// 0. grad may be logits itself: each element is read before it is written. The exponentials are computed again
// here rather than parked in grad by the first launch (as the CPU kernel parks them), so that a bad target, found
// only once every row has run, leaves grad untouched.
__kernel void softmax_cross_entropy_gradient(const int rows, const int classes, __global const float* logits,
                                             __global const int* restrict targets, __global const float* restrict weights,
                                             const int has_weights, const int ignore_index, const float smoothing,
                                             const float scale, __global const float* restrict stats, __global float* grad)
{
    const int i = get_global_id(0);
    if (i >= rows)
        return;
    __global const float* x = logits + (long)i * classes;
    __global float* g = grad + (long)i * classes;
    const int y = targets[i];
    if (y == ignore_index)
    {
        for (int c = 0; c < classes; c++)
            g[c] = 0.0f;
        return;
    }

    const float wy = has_weights ? weights[y] : 1.0f;
    const float max = stats[2 * rows + i];
    const float p_scale = scale * stats[4 * rows + i] / stats[3 * rows + i];
    const float q_scale = scale * (smoothing / classes);
    for (int c = 0; c < classes; c++)
        g[c] = fma(exp(x[c] - max), p_scale, -(q_scale * (has_weights ? weights[c] : 1.0f)));
    g[y] -= scale * (1.0f - smoothing) * wy;
}

// Inverted dropout with Kernels.Dropout's mask: element i keeps when lane i mod 4 of Philox4x32-10 block i / 4
// (key = seed, counter = block, upper counter words 0) is at least threshold, and is then scaled. One work-item
// per block of four elements; output may be input.
__kernel void dropout(const int length, __global const float* input, __global float* output, const uint threshold,
                      const float scale, const uint key0, const uint key1)
{
    const int block = get_global_id(0);
    const long first = (long)block * 4;
    if (first >= length)
        return;
    uint c0 = (uint)block, c1 = 0, c2 = 0, c3 = 0;
    uint k0 = key0, k1 = key1;
    for (int round = 0; round < 10; round++)
    {
        const uint hi0 = mul_hi(0xD2511F53u, c0), lo0 = 0xD2511F53u * c0;
        const uint hi1 = mul_hi(0xCD9E8D57u, c2), lo1 = 0xCD9E8D57u * c2;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }

    const uint draws[4] = { c0, c1, c2, c3 };
    for (int lane = 0; lane < 4 && first + lane < length; lane++)
        output[first + lane] = draws[lane] >= threshold ? input[first + lane] * scale : 0.0f;
}

// PyTorch's SGD step, as Kernels.Sgd: g = grad + wd*theta; b = g (first step) or mu*b + (1 - dampening)*g;
// d = g + mu*b (Nesterov) or b; theta -= lr*d.
__kernel void sgd_step(const int length, __global float* restrict parameters, __global const float* restrict gradients,
                       __global float* restrict momentum_buffer, const float lr, const float momentum,
                       const float dampening, const float weight_decay, const int nesterov, const int first_step)
{
    const int i = get_global_id(0);
    if (i >= length)
        return;
    const float theta = parameters[i];
    float d = gradients[i];
    if (weight_decay != 0.0f)
        d = fma(theta, weight_decay, d);
    if (momentum != 0.0f)
    {
        const float buf = first_step ? d : fma(momentum_buffer[i], momentum, d * (1.0f - dampening));
        momentum_buffer[i] = buf;
        d = nesterov ? fma(buf, momentum, d) : buf;
    }

    parameters[i] = fma(d, -lr, theta);
}

// PyTorch's Adam/AdamW step, as Kernels.Adam, with the bias corrections computed on the host in double.
__kernel void adam_step(const int length, __global float* restrict parameters, __global const float* restrict gradients,
                        __global float* restrict first_moment, __global float* restrict second_moment,
                        __global float* restrict max_second_moment, const float beta1, const float beta2,
                        const float epsilon, const float step_size, const float bias_correction2_sqrt,
                        const float shrink, const float l2, const int decoupled, const int ams_grad)
{
    const int i = get_global_id(0);
    if (i >= length)
        return;
    float theta = parameters[i];
    float g = gradients[i];
    if (decoupled)
        theta *= shrink;
    else if (l2 != 0.0f)
        g = fma(theta, l2, g);
    float m = first_moment[i];
    m = fma(g - m, 1.0f - beta1, m);
    float v = fma(second_moment[i], beta2, (1.0f - beta2) * g * g);
    first_moment[i] = m;
    second_moment[i] = v;
    if (ams_grad)
    {
        v = fmax(max_second_moment[i], v);
        max_second_moment[i] = v;
    }

    const float denom = sqrt(v) / bias_correction2_sqrt + epsilon;
    parameters[i] = theta - step_size * (m / denom);
}
