/* Plain-C int8 kernels of the kind TFLM's reference kernels are made of, used
 * only to measure code density: the same file compiled for x86-64 (-O2) and
 * for Thumb-2 (-Os, Cortex-M4) gives the ratio benchmarks/op_code_size.py
 * applies to the x86-64 kernel sizes of the tflite-micro wheel. */
#include <stdint.h>

static int32_t mul_by_quantized_multiplier(int32_t x, int32_t multiplier, int shift) {
  int left = shift > 0 ? shift : 0;
  int right = shift > 0 ? 0 : -shift;
  int64_t ab = (int64_t)(x * (1 << left)) * multiplier;
  int32_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
  int32_t high = (int32_t)((ab + nudge) / (1ll << 31));
  if (right == 0) return high;
  int32_t mask = (1 << right) - 1;
  int32_t rem = high & mask;
  int32_t threshold = (mask >> 1) + (high < 0 ? 1 : 0);
  return (high >> right) + (rem > threshold ? 1 : 0);
}

static int8_t clamp8(int32_t v, int32_t lo, int32_t hi) {
  return (int8_t)(v < lo ? lo : (v > hi ? hi : v));
}

void conv_s8(const int8_t* in, int h, int w, int cin, const int8_t* filt, int kh, int kw,
             int cout, const int32_t* bias, int stride, int pad, int32_t in_off,
             int32_t out_off, const int32_t* mult, const int32_t* shift, int8_t* out,
             int oh, int ow, int32_t act_min, int32_t act_max) {
  for (int y = 0; y < oh; ++y)
    for (int x = 0; x < ow; ++x)
      for (int o = 0; o < cout; ++o) {
        int32_t acc = bias ? bias[o] : 0;
        for (int ky = 0; ky < kh; ++ky) {
          int iy = y * stride - pad + ky;
          if (iy < 0 || iy >= h) continue;
          for (int kx = 0; kx < kw; ++kx) {
            int ix = x * stride - pad + kx;
            if (ix < 0 || ix >= w) continue;
            for (int c = 0; c < cin; ++c)
              acc += (in[(iy * w + ix) * cin + c] + in_off) *
                     filt[((o * kh + ky) * kw + kx) * cin + c];
          }
        }
        acc = mul_by_quantized_multiplier(acc, mult[o], shift[o]) + out_off;
        out[(y * ow + x) * cout + o] = clamp8(acc, act_min, act_max);
      }
}

void depthwise_s8(const int8_t* in, int h, int w, int c, const int8_t* filt, int kh, int kw,
                  int mult_ch, const int32_t* bias, int stride, int pad, int32_t in_off,
                  int32_t out_off, const int32_t* mult, const int32_t* shift, int8_t* out,
                  int oh, int ow, int32_t act_min, int32_t act_max) {
  for (int y = 0; y < oh; ++y)
    for (int x = 0; x < ow; ++x)
      for (int ic = 0; ic < c; ++ic)
        for (int m = 0; m < mult_ch; ++m) {
          int oc = ic * mult_ch + m;
          int32_t acc = bias ? bias[oc] : 0;
          for (int ky = 0; ky < kh; ++ky)
            for (int kx = 0; kx < kw; ++kx) {
              int iy = y * stride - pad + ky, ix = x * stride - pad + kx;
              if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
              acc += (in[(iy * w + ix) * c + ic] + in_off) * filt[(ky * kw + kx) * c * mult_ch + oc];
            }
          acc = mul_by_quantized_multiplier(acc, mult[oc], shift[oc]) + out_off;
          out[(y * ow + x) * c * mult_ch + oc] = clamp8(acc, act_min, act_max);
        }
}

void fully_connected_s8(const int8_t* in, int n, const int8_t* w, int units, const int32_t* bias,
                        int32_t in_off, int32_t out_off, int32_t mult, int shift, int8_t* out,
                        int32_t act_min, int32_t act_max) {
  for (int u = 0; u < units; ++u) {
    int32_t acc = bias ? bias[u] : 0;
    for (int i = 0; i < n; ++i) acc += (in[i] + in_off) * w[u * n + i];
    out[u] = clamp8(mul_by_quantized_multiplier(acc, mult, shift) + out_off, act_min, act_max);
  }
}

void pool_s8(const int8_t* in, int h, int w, int c, int fh, int fw, int stride, int8_t* out,
             int oh, int ow, int average, int32_t act_min, int32_t act_max) {
  for (int y = 0; y < oh; ++y)
    for (int x = 0; x < ow; ++x)
      for (int ch = 0; ch < c; ++ch) {
        int32_t acc = average ? 0 : -128;
        int count = 0;
        for (int fy = 0; fy < fh; ++fy)
          for (int fx = 0; fx < fw; ++fx) {
            int iy = y * stride + fy, ix = x * stride + fx;
            if (iy >= h || ix >= w) continue;
            int32_t v = in[(iy * w + ix) * c + ch];
            if (average) acc += v; else if (v > acc) acc = v;
            ++count;
          }
        if (average && count) acc = (acc > 0 ? acc + count / 2 : acc - count / 2) / count;
        out[(y * ow + x) * c + ch] = clamp8(acc, act_min, act_max);
      }
}

void add_s8(const int8_t* a, const int8_t* b, int n, int32_t a_off, int32_t b_off,
            int32_t a_mult, int a_shift, int32_t b_mult, int b_shift, int32_t out_mult,
            int out_shift, int32_t out_off, int8_t* out, int32_t act_min, int32_t act_max) {
  for (int i = 0; i < n; ++i) {
    int32_t sa = mul_by_quantized_multiplier((a[i] + a_off) * (1 << 20), a_mult, a_shift);
    int32_t sb = mul_by_quantized_multiplier((b[i] + b_off) * (1 << 20), b_mult, b_shift);
    int32_t r = mul_by_quantized_multiplier(sa + sb, out_mult, out_shift) + out_off;
    out[i] = clamp8(r, act_min, act_max);
  }
}

void softmax_s8(const int8_t* in, int n, int depth, const int32_t* exp_lut, int8_t* out) {
  for (int i = 0; i < n; ++i) {
    const int8_t* row = in + i * depth;
    int8_t mx = -128;
    for (int d = 0; d < depth; ++d) if (row[d] > mx) mx = row[d];
    int64_t sum = 0;
    for (int d = 0; d < depth; ++d) sum += exp_lut[255 + row[d] - mx];
    for (int d = 0; d < depth; ++d) {
      int64_t p = ((int64_t)exp_lut[255 + row[d] - mx] * 256 + sum / 2) / (sum ? sum : 1) - 128;
      out[i * depth + d] = (int8_t)(p < -128 ? -128 : (p > 127 ? 127 : p));
    }
  }
}
