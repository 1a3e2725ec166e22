/* The keyword-spotting network, in one of two builds from the same generated weights:
 * kws_fp32.c (float32) or kws_int8.c (int8 weights and activations, int32 accumulation). */
#ifndef KWS_H
#define KWS_H
#include <stdint.h>

#define KWS_N_CLASSES 12

/* "fp32" or "int8". */
extern const char kws_flavor[];
void kws_init(void);
/* Takes the 49x10 int8 input (kws01 wire format) into the network's input tensor. */
void kws_load_input(const int8_t *data, uint32_t len);
void kws_invoke(void);
/* Class scores of the last invocation in thousandths (softmax, rounded to 3 decimals). */
void kws_scores_milli(uint32_t out[KWS_N_CLASSES]);

#endif
