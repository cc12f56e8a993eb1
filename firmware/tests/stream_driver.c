/* Test driver: the protocol core with the echo test double, fed from stdin.
 *
 *   stream_driver [SLOT_BYTES [INPUT_BYTES]] < commands > replies
 *
 * Feeds stdin in chunks of varying size (so a command split across reads is
 * exercised), writes every reply to stdout, and exits 0. The clock advances by
 * 7 us per read. Built by tests/firmware with -fsanitize=address,undefined. */
#include <stdio.h>
#include <stdlib.h>

#include "echo_runner.h"
#include "edgeml_dut.h"

static uint64_t clock_us;
static unsigned pulses;

static void w(void *ctx, const char *b, size_t n) {
  (void)ctx;
  fwrite(b, 1, n, stdout);
}
static uint64_t us(void *ctx) {
  (void)ctx;
  return clock_us;
}
static void pin(void *ctx) {
  (void)ctx;
  pulses++;
}

static uint8_t slot[4096];
static uint8_t input[300];

int main(int argc, char **argv) {
  static edgeml_dut_t dut;
  edgeml_port_t port = {w, us, pin, NULL};
  size_t slot_cap = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : sizeof slot;
  size_t in_cap = argc > 2 ? (size_t)strtoul(argv[2], NULL, 10) : sizeof input;
  uint8_t buf[97];
  size_t n, chunk = 1;
  if (slot_cap > sizeof slot) slot_cap = sizeof slot;
  if (in_cap > sizeof input) in_cap = sizeof input;
  edgeml_dut_init(&dut, &port, &echo_runner, slot, slot_cap, input, in_cap, "stream-driver");
  edgeml_dut_boot(&dut);
  while ((n = fread(buf, 1, chunk, stdin)) > 0) {
    clock_us += 7;
    edgeml_dut_feed(&dut, buf, n);
    chunk = chunk % sizeof buf + 13;
    if (chunk > sizeof buf) chunk = 1;
  }
  fflush(stdout);
  return 0;
}
