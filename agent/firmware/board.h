/* Registers of the emulated board (ARM MPS2 with the AN385 FPGA image: Cortex-M3, CMSDK APB
 * peripherals) and of the Cortex-M3 core (SysTick, NVIC, SCB). */
#ifndef BOARD_H
#define BOARD_H
#include <stdint.h>

#define REG32(addr) (*(volatile uint32_t *)(addr))

/* Core clock of the AN385 image; SysTick counts it when CLKSOURCE = 1. */
#define CPU_HZ 25000000u

/* CMSDK APB UART0: RX interrupt is IRQ 0, TX interrupt IRQ 1. */
#define UART0_BASE 0x40004000u
#define UART_DATA(b) REG32((b) + 0x00u)
#define UART_STATE(b) REG32((b) + 0x04u)
#define UART_CTRL(b) REG32((b) + 0x08u)
#define UART_INTSTATUS(b) REG32((b) + 0x0Cu) /* write 1s to clear */
#define UART_BAUDDIV(b) REG32((b) + 0x10u)
#define UART_STATE_TXFULL (1u << 0)
#define UART_STATE_RXFULL (1u << 1)
#define UART_CTRL_TXEN (1u << 0)
#define UART_CTRL_RXEN (1u << 1)
#define UART_CTRL_RXINTEN (1u << 3)
#define UART_INT_RX (1u << 1)
#define UART0_RX_IRQN 0u

/* SysTick */
#define SYST_CSR REG32(0xE000E010u)
#define SYST_RVR REG32(0xE000E014u)
#define SYST_CVR REG32(0xE000E018u)
#define SYST_CSR_ENABLE (1u << 0)
#define SYST_CSR_TICKINT (1u << 1)
#define SYST_CSR_CLKSOURCE (1u << 2)

/* NVIC and SCB */
#define NVIC_ISER0 REG32(0xE000E100u)
#define NVIC_ICER0 REG32(0xE000E180u)
#define NVIC_ICPR0 REG32(0xE000E280u)
#define SCB_ICSR REG32(0xE000ED04u)
#define SCB_ICSR_PENDSTSET (1u << 26)
#define SCB_ICSR_PENDSTCLR (1u << 25)

static inline uint32_t irq_save(void)
{
  uint32_t primask;
  __asm volatile("mrs %0, primask\n\tcpsid i" : "=r"(primask)::"memory");
  return primask;
}

static inline void irq_restore(uint32_t primask)
{
  __asm volatile("msr primask, %0" ::"r"(primask) : "memory");
}

#endif
