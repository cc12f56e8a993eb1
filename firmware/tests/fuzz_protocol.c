/* libFuzzer target for the protocol core (with the echo test double runner):
 *
 *   clang -g -O1 -std=c99 -fsanitize=fuzzer,address,undefined -Ifirmware/common \
 *     firmware/tests/fuzz_protocol.c firmware/tests/echo_runner.c \
 *     firmware/common/edgeml_dut.c firmware/common/edgeml_no_runtime.c \
 *     -o fuzz_protocol && ./fuzz_protocol -max_total_time=120 firmware/tests/fuzz_corpus
 *
 * Each input is a byte stream sent to a freshly booted board. Besides the
 * sanitizers, it checks that every '%' gets exactly one reply ending in
 * "m-ready\r\n" and that the board still answers "name%" afterwards. */
#include <stdlib.h>
#include <string.h>

#include "echo_runner.h"
#include "edgeml_dut.h"

static char out[1 << 16];
static size_t out_len;
static unsigned readies;
static uint64_t t;

static void w(void *ctx, const char *b, size_t n) {
  (void)ctx;
  size_t i;
  for (i = 0; i < n; ++i) {
    if (out_len < sizeof out) out[out_len++] = b[i];
  }
}
static void count_readies(void) {
  size_t i;
  for (i = 0; i + 9 <= out_len; ++i) {
    if (memcmp(out + i, "m-ready\r\n", 9) == 0) readies++;
  }
  out_len = 0;
}
static uint64_t us(void *ctx) {
  (void)ctx;
  return t += 3;
}

static uint8_t slot[2048];
static uint8_t input[300];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static edgeml_dut_t dut;
  edgeml_port_t port = {w, us, NULL, NULL};
  unsigned commands = 0, expect;
  size_t i;
  out_len = 0;
  readies = 0;
  edgeml_dut_init(&dut, &port, &echo_runner, slot, sizeof slot, input, sizeof input, "fuzz");
  edgeml_dut_boot(&dut);
  count_readies();
  for (i = 0; i < size; ++i) {
    edgeml_dut_feed(&dut, data + i, 1);
    if (data[i] == '%') commands++;
    count_readies();
  }
  expect = commands + 1; /* boot */
  if (readies != expect) abort();
  edgeml_dut_feed(&dut, (const uint8_t *)"%name%", 6);
  if (out_len < 9 || memcmp(out + out_len - 9, "m-ready\r\n", 9) != 0) abort();
  {
    static const char want[] = "m-name-dut-[fuzz]\r\nm-ready\r\n";
    size_t k = sizeof want - 1;
    if (out_len < k || memcmp(out + out_len - k, want, k) != 0) abort();
  }
  return 0;
}
