/* Zephyr port: the console UART (zephyr,console, 115200 8N1 in the board's
 * devicetree) polled for the protocol, the 64-bit cycle counter as the
 * microsecond clock, and an optional GPIO pulsed low at every timestamp
 * (devicetree alias `edgeml-timestamp`). */
#include <zephyr/device.h>
#include <zephyr/drivers/gpio.h>
#include <zephyr/drivers/uart.h>
#include <zephyr/kernel.h>

#include "edgeml_bench.h"

#ifndef EDGEML_BOARD_NAME
#define EDGEML_BOARD_NAME "edgeml-" CONFIG_BOARD
#endif

static const struct device *const uart = DEVICE_DT_GET(DT_CHOSEN(zephyr_console));

static void uart_out(void *ctx, const char *bytes, size_t n) {
  (void)ctx;
  for (size_t i = 0; i < n; ++i) uart_poll_out(uart, (unsigned char)bytes[i]);
}

static uint64_t micros(void *ctx) {
  (void)ctx;
  return k_cyc_to_us_floor64(k_cycle_get_64());
}

#if DT_NODE_EXISTS(DT_ALIAS(edgeml_timestamp))
static const struct gpio_dt_spec pin = GPIO_DT_SPEC_GET(DT_ALIAS(edgeml_timestamp), gpios);
static void pulse(void *ctx) {
  (void)ctx;
  gpio_pin_set_dt(&pin, 0);
  k_busy_wait(10);
  gpio_pin_set_dt(&pin, 1);
}
static const edgeml_port_t port = {uart_out, micros, pulse, NULL};
#else
static const edgeml_port_t port = {uart_out, micros, NULL, NULL};
#endif

int main(void) {
  if (!device_is_ready(uart)) return 0;
#if DT_NODE_EXISTS(DT_ALIAS(edgeml_timestamp))
  gpio_pin_configure_dt(&pin, GPIO_OUTPUT_ACTIVE);
#endif
  edgeml_bench_start(&port, EDGEML_BOARD_NAME, "device");
  for (;;) {
    unsigned char c;
    if (uart_poll_in(uart, &c) == 0) {
      edgeml_bench_feed(&c, 1);
    } else {
      k_yield();
    }
  }
}
