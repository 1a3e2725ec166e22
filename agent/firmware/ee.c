/* Command parser and commands of the MLPerf Tiny DUT protocol (performance mode):
 *   name, profile, timestamp, help, db load N, db <hex>, db print, infer N W, results.
 * Commands end with '%'; every command's output ends with "m-ready". Extra lines for benchfleet
 * (m-cycles-...) follow the protocol's m- convention so standard hosts skip them. */
#include <stdint.h>
#include <string.h>
#include "board.h"
#include "ee.h"
#include "kws.h"
#include "kws_model.h"
#include "out.h"
#include "timer.h"
#include "uart.h"

#define MAX_DB_INPUT_SIZE KWS_INPUT_BYTES
#define DEVICE_NAME "dut"
/* Followed by the build's flavor (fp32 or int8). */
#define VENDOR_PREFIX "benchfleet-mps2-an385-kws01-"

static char cmd_buf[EE_CMD_SIZE + 1u];
static uint32_t cmd_len;
static uint8_t parser_enabled;

static uint8_t db_buf[MAX_DB_INPUT_SIZE];
static uint32_t db_size;
static uint32_t db_pos;

/* ---- timestamps ---- */

static void th_timestamp(void)
{
  /* Microseconds printed as a 32-bit unsigned long, as on the reference boards. */
  uint64_t us = timer_cycles() / (CPU_HZ / 1000000u);
  out_str("m-lap-us-");
  out_u32((uint32_t)us);
  out_eol();
}

/* ---- helpers ---- */

/* Next space-separated token of *p (NUL-terminated in place), or NULL. */
static char *next_token(char **p)
{
  char *s = *p;
  while (*s == ' ')
    s++;
  if (*s == '\0') {
    *p = s;
    return 0;
  }
  char *start = s;
  while (*s != '\0' && *s != ' ')
    s++;
  if (*s == ' ')
    *s++ = '\0';
  *p = s;
  return start;
}

/* Like atol: optional sign, decimal digits up to the first other character; saturates. */
static int32_t parse_long(const char *s)
{
  int neg = 0;
  int64_t v = 0;
  if (*s == '-' || *s == '+')
    neg = *s++ == '-';
  while (*s >= '0' && *s <= '9') {
    v = v * 10 + (*s++ - '0');
    if (v > 0x7FFFFFFF)
      v = 0x7FFFFFFF;
  }
  return (int32_t)(neg ? -v : v);
}

static int hex_value(char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

static void print_results(void)
{
  uint32_t scores[KWS_N_CLASSES];
  kws_scores_milli(scores);
  out_str("m-results-[");
  for (uint32_t i = 0; i < KWS_N_CLASSES; i++) {
    if (i)
      out_str(",");
    out_milli(scores[i]);
  }
  out_line("]");
}

/* ---- commands ---- */

static void cmd_db(char *rest)
{
  char *sub = next_token(&rest);
  if (sub == 0)
    return;
  if (strcmp(sub, "load") == 0) {
    char *n = next_token(&rest);
    int32_t size = n ? parse_long(n) : 0;
    if (size <= 0) {
      out_line("e-[Command 'db load' must be >0 bytes]");
    } else if ((uint32_t)size > MAX_DB_INPUT_SIZE) {
      /* The reference sets the size anyway and may overflow its buffer; this one refuses. */
      out_str("e-[Supplied buffer size ");
      out_i32(size);
      out_str(" exceeds maximum of ");
      out_u32(MAX_DB_INPUT_SIZE);
      out_line("]");
    } else {
      db_size = (uint32_t)size;
      db_pos = 0;
      out_str("m-[Expecting ");
      out_u32(db_size);
      out_line(" bytes]");
    }
  } else if (strcmp(sub, "print") == 0) {
    for (uint32_t i = 0; i < db_size; i += 8u) {
      out_str("m-buffer");
      for (uint32_t j = i; j < i + 8u && j < db_size; j++) {
        out_str("-");
        out_hex2(db_buf[j]);
      }
      out_eol();
    }
  } else {
    uint32_t len = (uint32_t)strlen(sub);
    if (len & 1u) {
      out_line("e-[Insufficent number of hex digits]");
      return;
    }
    uint32_t before = db_pos;
    for (uint32_t i = 0; i < len; i += 2u) {
      int hi = hex_value(sub[i]);
      int lo = hex_value(sub[i + 1u]);
      if (hi < 0 || lo < 0) {
        char pair[3] = {sub[i], sub[i + 1u], '\0'};
        out_str("e-[Invalid hex digit '");
        out_str(pair);
        out_line("']");
        return;
      }
      if (db_pos < db_size) /* digits past the announced size are ignored */
        db_buf[db_pos++] = (uint8_t)(hi << 4 | lo);
    }
    if (db_size > 0u && db_pos == db_size && before < db_size)
      out_line("m-load-done");
  }
}

static void cmd_infer(char *rest)
{
  char *a = next_token(&rest);
  char *b = next_token(&rest);
  int32_t iterations = a ? parse_long(a) : 1;
  int32_t warmup = b ? parse_long(b) : 10; /* the reference's default, whatever its help says */
  if (iterations <= 0) {
    out_line("e-[Inference iterations must be >0]");
    return;
  }
  if (warmup < 0) {
    out_line("e-[Inference warmup iterations must be >=0]");
    return;
  }
  kws_load_input((const int8_t *)db_buf, MAX_DB_INPUT_SIZE);
  out_str("m-warmup-start-");
  out_u32((uint32_t)warmup);
  out_eol();
  for (int32_t i = 0; i < warmup; i++)
    kws_invoke();
  out_line("m-warmup-done");
  out_str("m-infer-start-");
  out_u32((uint32_t)iterations);
  out_eol();
  /* th_pre: no receive interrupt and a fixed SysTick phase inside the window. */
  uart_rx_pause();
  th_timestamp();
  timer_rephase();
  uint64_t c0 = timer_cycles();
  for (int32_t i = 0; i < iterations; i++)
    kws_invoke();
  uint64_t c1 = timer_cycles();
  th_timestamp();
  uart_rx_resume();
  out_line("m-infer-done");
  uint64_t total = c1 - c0;
  out_str("m-cycles-total-");
  if (total > 0xFFFFFFFFu) { /* 64-bit decimal without 64-bit division helpers per digit */
    uint64_t hi = total / 1000000000u;
    out_u32((uint32_t)hi);
    uint32_t lo = (uint32_t)(total - hi * 1000000000u);
    for (uint32_t d = 100000000u; d > 0u; d /= 10u)
      out_u32(lo / d % 10u);
  } else {
    out_u32((uint32_t)total);
  }
  out_eol();
  out_str("m-cycles-per-inference-");
  out_u32((uint32_t)(total / (uint32_t)iterations));
  out_eol();
  print_results();
}

static void cmd_help(void)
{
  out_str(VENDOR_PREFIX);
  out_str(kws_flavor);
  out_line(" (" EE_MODEL_VERSION ", performance mode)");
  out_line("name        : device name");
  out_line("profile     : benchmark profile and model");
  out_line("timestamp   : current time in microseconds");
  out_line("db load N   : expect N input bytes (at most 490)");
  out_line("db HEX      : input bytes as hex digit pairs");
  out_line("db print    : show the input buffer");
  out_line("infer N W   : W warm-up inferences, then N timed inferences (W defaults to 10)");
  out_line("results     : scores of the last inference");
}

static void dispatch(char *line)
{
  char *rest = line;
  char *tok = next_token(&rest);
  if (tok == 0) {
    /* empty command (a lone '%'): nothing but m-ready */
  } else if (strcmp(tok, "name") == 0) {
    out_str("m-name-" DEVICE_NAME "-[" VENDOR_PREFIX);
    out_str(kws_flavor);
    out_line("]");
  } else if (strcmp(tok, "profile") == 0) {
    out_line("m-profile-[" EE_FW_VERSION "]");
    out_line("m-model-[" EE_MODEL_VERSION "]");
  } else if (strcmp(tok, "timestamp") == 0) {
    th_timestamp();
  } else if (strcmp(tok, "help") == 0) {
    cmd_help();
  } else if (strcmp(tok, "db") == 0) {
    cmd_db(rest);
  } else if (strcmp(tok, "infer") == 0) {
    cmd_infer(rest);
  } else if (strcmp(tok, "results") == 0) {
    print_results();
  } else {
    out_str("e-[Unknown command: ");
    out_str(tok);
    out_line("]");
  }
  out_line("m-ready");
}

void ee_serial_callback(char c)
{
  if (!parser_enabled)
    return;
  if (c == EE_CMD_TERMINATOR) {
    cmd_buf[cmd_len] = '\0';
    dispatch(cmd_buf);
    cmd_len = 0;
  } else if (cmd_len < EE_CMD_SIZE) {
    cmd_buf[cmd_len++] = c;
  } else {
    /* Buffer full: like the reference, later characters overwrite the last slot. */
    cmd_buf[EE_CMD_SIZE - 1u] = c;
  }
}

void ee_benchmark_initialize(void)
{
  uart_init(115200u); /* th_serialport_initialize */
  timer_init();       /* th_timestamp_initialize */
  out_line("m-timestamp-mode-performance");
  th_timestamp();
  kws_init(); /* th_final_initialize */
  out_line("m-init-done");
  parser_enabled = 1;
  out_line("m-ready");
}
