/* The device side of the MLPerf Tiny / EEMBC EnergyRunner serial protocol, performance mode. */
#ifndef EE_H
#define EE_H

#define EE_CMD_SIZE 80u
#define EE_CMD_TERMINATOR '%'
#define EE_FW_VERSION "ULPMark for tinyML Firmware V0.0.1"
#define EE_MODEL_VERSION "kws01"

/* Serial port, timestamps, model; then the banner: timestamp mode, a lap, m-init-done, m-ready. */
void ee_benchmark_initialize(void);
/* Feeds one received character to the command parser. */
void ee_serial_callback(char c);

#endif
