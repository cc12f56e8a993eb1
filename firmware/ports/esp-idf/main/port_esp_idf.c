/* ESP-IDF port: the console UART (UART0, 115200 8N1) for the protocol,
 * esp_timer_get_time() as the microsecond clock, an optional GPIO pulsed low at
 * every timestamp (-DEDGEML_TIMESTAMP_GPIO=N). */
#include <stdint.h>

#include "driver/gpio.h"
#include "driver/uart.h"
#include "edgeml_bench.h"
#include "esp_rom_sys.h"
#include "esp_timer.h"

#ifndef EDGEML_BOARD_NAME
#define EDGEML_BOARD_NAME "edgeml-esp-idf"
#endif
#define EDGEML_UART UART_NUM_0

static void uart_out(void *ctx, const char *bytes, size_t n) {
  (void)ctx;
  uart_write_bytes(EDGEML_UART, bytes, n);
}

static uint64_t micros(void *ctx) {
  (void)ctx;
  return (uint64_t)esp_timer_get_time();
}

#ifdef EDGEML_TIMESTAMP_GPIO
static void pulse(void *ctx) {
  (void)ctx;
  gpio_set_level(EDGEML_TIMESTAMP_GPIO, 0);
  esp_rom_delay_us(10);
  gpio_set_level(EDGEML_TIMESTAMP_GPIO, 1);
}
static const edgeml_port_t port = {uart_out, micros, pulse, NULL};
#else
static const edgeml_port_t port = {uart_out, micros, NULL, NULL};
#endif

void app_main(void) {
  uint8_t buf[64];
  uart_driver_install(EDGEML_UART, 1024, 1024, 0, NULL, 0);
#ifdef EDGEML_TIMESTAMP_GPIO
  gpio_set_direction(EDGEML_TIMESTAMP_GPIO, GPIO_MODE_OUTPUT);
  gpio_set_level(EDGEML_TIMESTAMP_GPIO, 1);
#endif
  edgeml_bench_start(&port, EDGEML_BOARD_NAME, "device");
  for (;;) {
    int n = uart_read_bytes(EDGEML_UART, buf, sizeof buf, pdMS_TO_TICKS(20));
    if (n > 0) edgeml_bench_feed(buf, (size_t)n);
  }
}
