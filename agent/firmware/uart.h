#ifndef UART_H
#define UART_H
#include <stdint.h>

void uart_init(uint32_t baud);
/* Blocking byte read; sleeps (WFI) while nothing has arrived. */
uint8_t uart_getc(void);
void uart_putc(char c);
void uart_puts(const char *s);
/* Stops taking received bytes into the buffer (they wait in the UART; QEMU holds the rest
 * back), so no receive interrupt lands inside a timed window. */
void uart_rx_pause(void);
void uart_rx_resume(void);
/* For fault handlers: polled output without interrupts. */
void uart_write_polled(const char *s);

#endif
