/* float32 build of the keyword-spotting network (on a Cortex-M3 without FPU: software floating
 * point from libgcc, expf from newlib). Same operation order as forwardFloat in
 * agent/emulators/mcu/kws-model.ts. */
#include <math.h>
#include "kws.h"
#define KWS_INT8 0
#include "kws_model.h"

#define AREA (KWS_OH * KWS_OW)

const char kws_flavor[] = "fp32";

static float input[KWS_INPUT_BYTES];
static float act_a[AREA * KWS_CH];
static float act_b[AREA * KWS_CH];
static float pooled[KWS_CH];
static float scores[KWS_CLASSES];

static const float *const dw_w[KWS_DS_BLOCKS] = {dw0_w, dw1_w};
static const float *const dw_b[KWS_DS_BLOCKS] = {dw0_b, dw1_b};
static const float *const pw_w[KWS_DS_BLOCKS] = {pw0_w, pw1_w};
static const float *const pw_b[KWS_DS_BLOCKS] = {pw0_b, pw1_b};

void kws_init(void)
{
}

void kws_load_input(const int8_t *data, uint32_t len)
{
  for (uint32_t i = 0; i < KWS_INPUT_BYTES; i++)
    input[i] = (float)((i < len ? data[i] : 0) - KWS_INPUT_ZP) * KWS_INPUT_SCALE;
}

static void conv1(float *out)
{
  for (int oy = 0; oy < KWS_OH; oy++) {
    for (int ox = 0; ox < KWS_OW; ox++) {
      float *o = out + (oy * KWS_OW + ox) * KWS_CH;
      for (int oc = 0; oc < KWS_CH; oc++) {
        float acc = conv1_b[oc];
        const float *w = conv1_w + oc * KWS_C1_KH * KWS_C1_KW;
        for (int ky = 0; ky < KWS_C1_KH; ky++) {
          int iy = oy * KWS_C1_SH + ky - KWS_PAD_TOP;
          if (iy < 0 || iy >= KWS_FRAMES)
            continue;
          for (int kx = 0; kx < KWS_C1_KW; kx++) {
            int ix = ox * KWS_C1_SW + kx - KWS_PAD_LEFT;
            if (ix < 0 || ix >= KWS_COEFFS)
              continue;
            acc += input[iy * KWS_COEFFS + ix] * w[ky * KWS_C1_KW + kx];
          }
        }
        o[oc] = acc > 0.0f ? acc : 0.0f;
      }
    }
  }
}

static void depthwise(const float *in, float *out, const float *w, const float *b)
{
  for (int oy = 0; oy < KWS_OH; oy++) {
    for (int ox = 0; ox < KWS_OW; ox++) {
      float *o = out + (oy * KWS_OW + ox) * KWS_CH;
      for (int c = 0; c < KWS_CH; c++) {
        float acc = b[c];
        for (int ky = 0; ky < 3; ky++) {
          int iy = oy + ky - 1;
          if (iy < 0 || iy >= KWS_OH)
            continue;
          for (int kx = 0; kx < 3; kx++) {
            int ix = ox + kx - 1;
            if (ix < 0 || ix >= KWS_OW)
              continue;
            acc += in[(iy * KWS_OW + ix) * KWS_CH + c] * w[(ky * 3 + kx) * KWS_CH + c];
          }
        }
        o[c] = acc > 0.0f ? acc : 0.0f;
      }
    }
  }
}

static void pointwise(const float *in, float *out, const float *w, const float *b)
{
  for (int p = 0; p < AREA; p++) {
    const float *x = in + p * KWS_CH;
    for (int oc = 0; oc < KWS_CH; oc++) {
      const float *wr = w + oc * KWS_CH;
      float acc = b[oc];
      for (int ic = 0; ic < KWS_CH; ic++)
        acc += x[ic] * wr[ic];
      out[p * KWS_CH + oc] = acc > 0.0f ? acc : 0.0f;
    }
  }
}

void kws_invoke(void)
{
  conv1(act_a);
  for (int blk = 0; blk < KWS_DS_BLOCKS; blk++) {
    depthwise(act_a, act_b, dw_w[blk], dw_b[blk]);
    pointwise(act_b, act_a, pw_w[blk], pw_b[blk]);
  }
  for (int c = 0; c < KWS_CH; c++) {
    float s = 0.0f;
    for (int p = 0; p < AREA; p++)
      s += act_a[p * KWS_CH + c];
    pooled[c] = s / (float)AREA;
  }
  float logits[KWS_CLASSES];
  for (int k = 0; k < KWS_CLASSES; k++) {
    float acc = fc_b[k];
    for (int c = 0; c < KWS_CH; c++)
      acc += pooled[c] * fc_w[k * KWS_CH + c];
    logits[k] = acc;
  }
  float max = logits[0];
  for (int k = 1; k < KWS_CLASSES; k++)
    if (logits[k] > max)
      max = logits[k];
  float sum = 0.0f;
  for (int k = 0; k < KWS_CLASSES; k++) {
    scores[k] = expf(logits[k] - max);
    sum += scores[k];
  }
  for (int k = 0; k < KWS_CLASSES; k++)
    scores[k] = scores[k] / sum;
}

void kws_scores_milli(uint32_t out[KWS_N_CLASSES])
{
  for (int k = 0; k < KWS_CLASSES; k++)
    out[k] = (uint32_t)(scores[k] * 1000.0f + 0.5f);
}
