#ifndef TIMER_H
#define TIMER_H
#include <stdint.h>

void timer_init(void);
/* Core clock cycles since timer_init (64-bit: SysTick wraps are counted by its interrupt). */
uint64_t timer_cycles(void);
/* Restarts the SysTick period here (the running total is kept), so the wrap interrupts inside
 * the window that follows come at the same offsets on every run. */
void timer_rephase(void);

#endif
