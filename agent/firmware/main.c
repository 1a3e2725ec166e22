#include "ee.h"
#include "uart.h"

int main(void)
{
  ee_benchmark_initialize();
  for (;;)
    ee_serial_callback((char)uart_getc());
}
