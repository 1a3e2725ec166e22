/* CMSDK APB UART0 driver: receive interrupt into a ring buffer, polled transmit. When the ring
 * buffer is full the receive interrupt is masked, so further bytes stay in the UART (and on the
 * QEMU side in the pseudo-terminal) instead of being dropped. */
#include "uart.h"
#include "board.h"

#define RX_SIZE 256u /* power of two */

static volatile uint8_t rx_buf[RX_SIZE];
static volatile uint32_t rx_head; /* written by the interrupt */
static volatile uint32_t rx_tail; /* written by the main loop */
static volatile uint8_t rx_paused;
static volatile uint8_t rx_full;

static void rx_irq_update(void)
{
  if (!rx_paused && !rx_full)
    NVIC_ISER0 = 1u << UART0_RX_IRQN;
  else
    NVIC_ICER0 = 1u << UART0_RX_IRQN;
}

void uart_init(uint32_t baud)
{
  UART_CTRL(UART0_BASE) = 0;
  UART_BAUDDIV(UART0_BASE) = CPU_HZ / baud;
  UART_INTSTATUS(UART0_BASE) = 0xFu;
  UART_CTRL(UART0_BASE) = UART_CTRL_TXEN | UART_CTRL_RXEN | UART_CTRL_RXINTEN;
  NVIC_ICPR0 = 1u << UART0_RX_IRQN;
  rx_irq_update();
}

void uart0_rx_handler(void)
{
  /* Clear first: a byte arriving while we drain raises the interrupt again. */
  UART_INTSTATUS(UART0_BASE) = UART_INT_RX;
  while (UART_STATE(UART0_BASE) & UART_STATE_RXFULL) {
    if (rx_head - rx_tail >= RX_SIZE) {
      rx_full = 1;
      rx_irq_update();
      return;
    }
    rx_buf[rx_head % RX_SIZE] = (uint8_t)UART_DATA(UART0_BASE);
    rx_head++;
  }
}

uint8_t uart_getc(void)
{
  for (;;) {
    /* Check and sleep with interrupts masked: an interrupt between the check and the WFI still
     * wakes the core (WFI wakes on a pending interrupt even when PRIMASK is set). */
    uint32_t pm = irq_save();
    if (rx_head != rx_tail) {
      uint8_t c = rx_buf[rx_tail % RX_SIZE];
      rx_tail++;
      if (rx_full) {
        rx_full = 0;
        rx_irq_update();
      }
      irq_restore(pm);
      return c;
    }
    __asm volatile("wfi");
    irq_restore(pm);
  }
}

void uart_rx_pause(void)
{
  uint32_t pm = irq_save();
  rx_paused = 1;
  rx_irq_update();
  irq_restore(pm);
}

void uart_rx_resume(void)
{
  uint32_t pm = irq_save();
  rx_paused = 0;
  rx_irq_update();
  irq_restore(pm);
}

void uart_putc(char c)
{
  while (UART_STATE(UART0_BASE) & UART_STATE_TXFULL) {
  }
  UART_DATA(UART0_BASE) = (uint8_t)c;
}

void uart_puts(const char *s)
{
  while (*s)
    uart_putc(*s++);
}

void uart_write_polled(const char *s)
{
  UART_CTRL(UART0_BASE) |= UART_CTRL_TXEN;
  uart_puts(s);
}
