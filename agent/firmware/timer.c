/* Cycle counter from SysTick: the 24-bit down-counter runs on the core clock with the largest
 * reload; its interrupt counts the wraps. Under QEMU with -icount the core clock follows the
 * instruction count, so cycle figures are deterministic. */
#include "timer.h"
#include "board.h"

#define RELOAD 0x00FFFFFFu
#define PERIOD ((uint64_t)RELOAD + 1u)

static volatile uint32_t wraps;
static uint64_t base; /* cycles counted before the last (re)start of SysTick */

void systick_handler(void)
{
  wraps++;
}

static void start(void)
{
  SYST_CSR = 0;
  SYST_RVR = RELOAD;
  SYST_CVR = 0; /* clears the counter; the first tick loads RELOAD */
  SCB_ICSR = SCB_ICSR_PENDSTCLR;
  wraps = 0;
  SYST_CSR = SYST_CSR_ENABLE | SYST_CSR_TICKINT | SYST_CSR_CLKSOURCE;
  while (SYST_CVR == 0) {
  }
}

void timer_init(void)
{
  base = 0;
  start();
}

/* With interrupts masked. The counter goes RELOAD..0 within one period; the wrap is flagged when
 * it reaches 0, and counted here once the reload has happened but the interrupt has not run. */
static uint64_t cycles_locked(void)
{
  uint32_t v = SYST_CVR;
  uint32_t w = wraps;
  if (SCB_ICSR & SCB_ICSR_PENDSTSET) {
    v = SYST_CVR;
    if (v != 0)
      w++;
  }
  return base + (uint64_t)w * PERIOD + (RELOAD - v);
}

uint64_t timer_cycles(void)
{
  uint32_t pm = irq_save();
  uint64_t c = cycles_locked();
  irq_restore(pm);
  return c;
}

void timer_rephase(void)
{
  uint32_t pm = irq_save();
  uint64_t now = cycles_locked();
  start();
  base = now + 1u; /* the tick spent reloading */
  irq_restore(pm);
}
