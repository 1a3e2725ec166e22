/* int8 build of the keyword-spotting network: int8 weights (symmetric, per output channel) and
 * int8 activations (scale + zero point), int32 accumulation, fixed-point requantization, softmax
 * from an exp table. No floating point at all. Bit-exact with forwardInt8 in
 * agent/emulators/mcu/kws-model.ts. */
#include "kws.h"
#define KWS_INT8 1
#include "kws_model.h"

#define AREA (KWS_OH * KWS_OW)

const char kws_flavor[] = "int8";

static int8_t input[KWS_INPUT_BYTES];
static int8_t act_a[AREA * KWS_CH];
static int8_t act_b[AREA * KWS_CH];
static int8_t pooled[KWS_CH];
static int8_t scores[KWS_CLASSES];

/* Pointwise and fully connected layers have no padding, so the input zero point folds into the
 * bias: sum((x - z) * w) = sum(x * w) - z * sum(w). */
static int32_t pw_bias_folded[KWS_DS_BLOCKS][KWS_CH];
static int32_t fc_bias_folded[KWS_CLASSES];

typedef struct {
  const int8_t *w;
  const int32_t *bias;
  const int32_t *mult;
  const int8_t *shift;
  int32_t in_zp, out_zp, act_min, act_max;
} qlayer_t;

static const qlayer_t dw_layers[KWS_DS_BLOCKS] = {
    {dw0_w, dw0_bias, dw0_mult, dw0_shift, DW0_IN_ZP, DW0_OUT_ZP, DW0_ACT_MIN, DW0_ACT_MAX},
    {dw1_w, dw1_bias, dw1_mult, dw1_shift, DW1_IN_ZP, DW1_OUT_ZP, DW1_ACT_MIN, DW1_ACT_MAX},
};
static const qlayer_t pw_layers[KWS_DS_BLOCKS] = {
    {pw0_w, pw0_bias, pw0_mult, pw0_shift, PW0_IN_ZP, PW0_OUT_ZP, PW0_ACT_MIN, PW0_ACT_MAX},
    {pw1_w, pw1_bias, pw1_mult, pw1_shift, PW1_IN_ZP, PW1_OUT_ZP, PW1_ACT_MIN, PW1_ACT_MAX},
};

/* out = round(acc * mult / 2^31) (half up), then a rounding right shift (shift >= 0, checked by
 * the generator). */
static inline int32_t requantize(int32_t acc, int32_t mult, int32_t shift)
{
  int64_t p = (int64_t)acc * mult;
  int32_t high = (int32_t)((p + (1LL << 30)) >> 31);
  if (shift > 0)
    high = (high + (1 << (shift - 1))) >> shift;
  return high;
}

static inline int8_t clamp8(int32_t v, int32_t lo, int32_t hi)
{
  return (int8_t)(v < lo ? lo : v > hi ? hi : v);
}

void kws_init(void)
{
  for (int blk = 0; blk < KWS_DS_BLOCKS; blk++) {
    const qlayer_t *l = &pw_layers[blk];
    for (int oc = 0; oc < KWS_CH; oc++) {
      int32_t sum = 0;
      for (int ic = 0; ic < KWS_CH; ic++)
        sum += l->w[oc * KWS_CH + ic];
      pw_bias_folded[blk][oc] = l->bias[oc] - l->in_zp * sum;
    }
  }
  for (int k = 0; k < KWS_CLASSES; k++) {
    int32_t sum = 0;
    for (int c = 0; c < KWS_CH; c++)
      sum += fc_w[k * KWS_CH + c];
    fc_bias_folded[k] = fc_bias[k] - FC_IN_ZP * sum;
  }
}

void kws_load_input(const int8_t *data, uint32_t len)
{
  for (uint32_t i = 0; i < KWS_INPUT_BYTES; i++)
    input[i] = i < len ? data[i] : 0;
}

static void conv1(int8_t *out)
{
  for (int oy = 0; oy < KWS_OH; oy++) {
    for (int ox = 0; ox < KWS_OW; ox++) {
      int8_t *o = out + (oy * KWS_OW + ox) * KWS_CH;
      for (int oc = 0; oc < KWS_CH; oc++) {
        int32_t acc = conv1_bias[oc];
        const int8_t *w = conv1_w + oc * KWS_C1_KH * KWS_C1_KW;
        for (int ky = 0; ky < KWS_C1_KH; ky++) {
          int iy = oy * KWS_C1_SH + ky - KWS_PAD_TOP;
          if (iy < 0 || iy >= KWS_FRAMES)
            continue;
          for (int kx = 0; kx < KWS_C1_KW; kx++) {
            int ix = ox * KWS_C1_SW + kx - KWS_PAD_LEFT;
            if (ix < 0 || ix >= KWS_COEFFS)
              continue;
            acc += (input[iy * KWS_COEFFS + ix] - CONV1_IN_ZP) * w[ky * KWS_C1_KW + kx];
          }
        }
        o[oc] = clamp8(CONV1_OUT_ZP + requantize(acc, conv1_mult[oc], conv1_shift[oc]), CONV1_ACT_MIN, CONV1_ACT_MAX);
      }
    }
  }
}

static void depthwise(const int8_t *in, int8_t *out, const qlayer_t *l)
{
  for (int oy = 0; oy < KWS_OH; oy++) {
    for (int ox = 0; ox < KWS_OW; ox++) {
      int8_t *o = out + (oy * KWS_OW + ox) * KWS_CH;
      for (int c = 0; c < KWS_CH; c++) {
        int32_t acc = l->bias[c];
        for (int ky = 0; ky < 3; ky++) {
          int iy = oy + ky - 1;
          if (iy < 0 || iy >= KWS_OH)
            continue;
          for (int kx = 0; kx < 3; kx++) {
            int ix = ox + kx - 1;
            if (ix < 0 || ix >= KWS_OW)
              continue;
            acc += (in[(iy * KWS_OW + ix) * KWS_CH + c] - l->in_zp) * l->w[(ky * 3 + kx) * KWS_CH + c];
          }
        }
        o[c] = clamp8(l->out_zp + requantize(acc, l->mult[c], l->shift[c]), l->act_min, l->act_max);
      }
    }
  }
}

static void pointwise(const int8_t *in, int8_t *out, const qlayer_t *l, const int32_t *bias)
{
  for (int p = 0; p < AREA; p++) {
    const int8_t *x = in + p * KWS_CH;
    for (int oc = 0; oc < KWS_CH; oc++) {
      const int8_t *w = l->w + oc * KWS_CH;
      int32_t acc = bias[oc];
      for (int ic = 0; ic < KWS_CH; ic++)
        acc += x[ic] * w[ic];
      out[p * KWS_CH + oc] = clamp8(l->out_zp + requantize(acc, l->mult[oc], l->shift[oc]), l->act_min, l->act_max);
    }
  }
}

void kws_invoke(void)
{
  conv1(act_a);
  for (int blk = 0; blk < KWS_DS_BLOCKS; blk++) {
    depthwise(act_a, act_b, &dw_layers[blk]);
    pointwise(act_b, act_a, &pw_layers[blk], pw_bias_folded[blk]);
  }
  /* Average pool, requantized to its own scale: out = zp + sum(x - zp_in) * s_in / (s_out * area). */
  for (int c = 0; c < KWS_CH; c++) {
    int32_t s = 0;
    for (int p = 0; p < AREA; p++)
      s += act_a[p * KWS_CH + c];
    s -= AREA * POOL_IN_ZP;
    pooled[c] = clamp8(POOL_OUT_ZP + requantize(s, POOL_MULT, POOL_SHIFT), -128, 127);
  }
  int8_t logits[KWS_CLASSES];
  int32_t max = -128;
  for (int k = 0; k < KWS_CLASSES; k++) {
    int32_t acc = fc_bias_folded[k];
    for (int c = 0; c < KWS_CH; c++)
      acc += pooled[c] * fc_w[k * KWS_CH + c];
    logits[k] = clamp8(FC_OUT_ZP + requantize(acc, fc_mult[k], fc_shift[k]), FC_ACT_MIN, FC_ACT_MAX);
    if (logits[k] > max)
      max = logits[k];
  }
  /* Softmax: exp(scale * (l - max)) from a Q16 table, normalised to 1/256 steps, int8 zero point -128. */
  uint32_t sum = 0;
  for (int k = 0; k < KWS_CLASSES; k++)
    sum += softmax_exp_q16[max - logits[k]];
  for (int k = 0; k < KWS_CLASSES; k++) {
    uint32_t p = (softmax_exp_q16[max - logits[k]] * 256u + sum / 2u) / sum;
    scores[k] = (int8_t)((p > 255u ? 255u : p) - 128);
  }
}

void kws_scores_milli(uint32_t out[KWS_N_CLASSES])
{
  for (int k = 0; k < KWS_CLASSES; k++)
    out[k] = ((uint32_t)(scores[k] + 128) * 1000u + 128u) >> 8;
}
