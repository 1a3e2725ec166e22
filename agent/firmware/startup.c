/* Reset handler and vector table. The core loads the initial stack pointer and the reset
 * address from the first two words at 0x00000000; the reset handler copies .data from flash,
 * clears .bss and calls main. */
#include <stdint.h>
#include "board.h"
#include "uart.h"

extern uint32_t _data_load, _data_start, _data_end, _bss_start, _bss_end, _stack_top;
extern int main(void);
void reset_handler(void);
void systick_handler(void);
void uart0_rx_handler(void);

static void fault_handler(void)
{
  /* Polled output: interrupts may be what failed. The host sees an e- line, then silence. */
  uart_write_polled("e-[Fault]\r\n");
  for (;;)
    __asm volatile("wfi");
}

static void unused_handler(void)
{
  for (;;)
    __asm volatile("wfi");
}

void reset_handler(void)
{
  uint32_t *src = &_data_load;
  for (uint32_t *dst = &_data_start; dst < &_data_end;)
    *dst++ = *src++;
  for (uint32_t *dst = &_bss_start; dst < &_bss_end;)
    *dst++ = 0;
  main();
  for (;;)
    __asm volatile("wfi");
}

typedef void (*vector_t)(void);

#define N_IRQ 32

__attribute__((section(".vectors"), used)) static const vector_t vectors[16 + N_IRQ] = {
    [0] = (vector_t)(uintptr_t)&_stack_top,
    [1] = reset_handler,
    [2] = fault_handler,  /* NMI */
    [3] = fault_handler,  /* HardFault */
    [4] = fault_handler,  /* MemManage */
    [5] = fault_handler,  /* BusFault */
    [6] = fault_handler,  /* UsageFault */
    [11] = unused_handler, /* SVCall */
    [12] = unused_handler, /* DebugMonitor */
    [14] = unused_handler, /* PendSV */
    [15] = systick_handler,
    [16 + UART0_RX_IRQN] = uart0_rx_handler,
};
