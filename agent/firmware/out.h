#ifndef OUT_H
#define OUT_H
#include <stdint.h>

/* Small output helpers (no printf: newlib's would dwarf the network in flash). */
void out_str(const char *s);
void out_u32(uint32_t v);
void out_i32(int32_t v);
void out_hex2(uint8_t v);
/* A value in thousandths as "<int>.<3 digits>". */
void out_milli(uint32_t milli);
void out_line(const char *s); /* s + "\r\n" */
void out_eol(void);

#endif
