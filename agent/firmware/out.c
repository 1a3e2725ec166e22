#include "out.h"
#include "uart.h"

void out_str(const char *s)
{
  uart_puts(s);
}

void out_eol(void)
{
  uart_puts("\r\n");
}

void out_line(const char *s)
{
  uart_puts(s);
  uart_puts("\r\n");
}

void out_u32(uint32_t v)
{
  char digits[10];
  int n = 0;
  do {
    digits[n++] = (char)('0' + v % 10u);
    v /= 10u;
  } while (v != 0u);
  while (n > 0)
    uart_putc(digits[--n]);
}

void out_i32(int32_t v)
{
  if (v < 0) {
    uart_putc('-');
    out_u32(0u - (uint32_t)v);
  } else {
    out_u32((uint32_t)v);
  }
}

void out_hex2(uint8_t v)
{
  static const char hex[] = "0123456789abcdef";
  uart_putc(hex[v >> 4]);
  uart_putc(hex[v & 15u]);
}

void out_milli(uint32_t milli)
{
  out_u32(milli / 1000u);
  uart_putc('.');
  uart_putc((char)('0' + milli / 100u % 10u));
  uart_putc((char)('0' + milli / 10u % 10u));
  uart_putc((char)('0' + milli % 10u));
}
