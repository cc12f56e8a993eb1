/* edgeml bench firmware: the protocol core (portable C99, no malloc, no printf).
 *
 * The MLPerf Tiny / EEMBC device-under-test protocol plus the edgeml extension
 * (firmware/PROTOCOL.md). A port fills an edgeml_port_t (UART write, microsecond
 * clock, optional timestamp GPIO), a runner fills an edgeml_runner_t (TFLite Micro
 * on a device, the tflite-micro Python interpreter on the host), hands the core
 * a model slot and an input buffer, and feeds it every byte the UART receives:
 *
 *     static edgeml_dut_t dut;
 *     edgeml_dut_init(&dut, &port, &runner, slot, sizeof slot, input, sizeof input, "my-board");
 *     edgeml_dut_boot(&dut);
 *     for (;;) { uint8_t c = uart_getc(); edgeml_dut_feed(&dut, &c, 1); }
 *
 * Every reply goes out through port->write; every command's reply ends with the
 * line "m-ready". The host shared library (cc -shared -fPIC firmware/common/\*.c)
 * exports exactly the functions declared here.
 */
#ifndef EDGEML_DUT_H_
#define EDGEML_DUT_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EDGEML_PROTOCOL_VERSION 1
#define EDGEML_LINE_MAX 80 /* characters of one command before the '%' */
#define EDGEML_OUT_BUF 96  /* reply bytes buffered before port->write */

/* What the platform gives the core. micros() is the clock of m-lap-us. */
typedef struct edgeml_port {
  void (*write)(void *ctx, const char *bytes, size_t n);
  uint64_t (*micros)(void *ctx);
  void (*timestamp_pin)(void *ctx); /* may be NULL: pulsed at every timestamp */
  void *ctx;
} edgeml_port_t;

/* The model runtime. load() must keep using the bytes it was given (TFLM does not
 * copy the model). Errors are written into err as one sentence without brackets. */
typedef struct edgeml_runner {
  int (*load)(void *ctx, const uint8_t *model, size_t n, char *err, size_t err_cap); /* 0 ok */
  size_t (*input_bytes)(void *ctx);
  int (*set_input)(void *ctx, const uint8_t *data, size_t n); /* 0 ok */
  int (*invoke)(void *ctx);                                   /* 0 ok */
  size_t (*output_count)(void *ctx);
  float (*output_float)(void *ctx, size_t i); /* dequantized */
  size_t (*arena_used)(void *ctx);
  size_t (*arena_min)(void *ctx); /* 0: could not find one */
  size_t (*op_count)(void *ctx);  /* operators profiled in the last invoke */
  int (*op_profile)(void *ctx, size_t i, char *name, size_t name_cap, uint32_t *us); /* 0 ok */
  const char *(*info)(void *ctx, const char *key); /* "tflm", "kernels", "arena", "timer"; NULL if unknown */
  void *ctx;
} edgeml_runner_t;

enum { EDGEML_XFER_NONE = 0, EDGEML_XFER_INPUT = 1, EDGEML_XFER_MODEL = 2 };

/* The whole state of one device under test. Treat as opaque; allocate it
 * statically (Python: edgeml_dut_size() bytes). */
typedef struct edgeml_dut {
  const edgeml_port_t *port;
  const edgeml_runner_t *runner;
  uint8_t *slot;
  size_t slot_cap;
  uint8_t *input;
  size_t input_cap;
  const char *name;
  const char *timer_kind;
  /* line assembly */
  char line[EDGEML_LINE_MAX + 1];
  size_t line_len;
  int line_overflow;
  /* reply buffer */
  char out[EDGEML_OUT_BUF];
  size_t out_len;
  /* an open transfer (db load N or model load N CRC) */
  int xfer;
  size_t xfer_expected;
  size_t xfer_got;
  uint32_t xfer_crc;          /* running crc32 of the model bytes received */
  uint32_t xfer_crc_expected; /* from "model load N CRC" */
  /* the input buffer */
  size_t input_len;
  size_t input_expected;
  /* the model */
  int model_loaded;
  size_t model_bytes;
  uint32_t model_crc;
  int results_valid;
  int profiled;
} edgeml_dut_t;

size_t edgeml_dut_size(void);

void edgeml_dut_init(edgeml_dut_t *dut, const edgeml_port_t *port, const edgeml_runner_t *runner,
                     uint8_t *model_slot, size_t slot_cap, uint8_t *input_buf, size_t input_cap,
                     const char *name);

/* "device" (default), "emulated" or "simulated": reported as m-info-[timer=...] unless
 * the runner's info("timer") answers. The string must outlive the dut. */
void edgeml_dut_set_timer_kind(edgeml_dut_t *dut, const char *kind);

/* Load a model that is already in memory (a firmware's baked-in default, in flash)
 * before boot: the bytes must outlive the dut. Prints nothing; returns 0 when the
 * runner accepted it (else the board boots with model = none). */
int edgeml_dut_load_model(edgeml_dut_t *dut, const uint8_t *model, size_t n);

/* Boot lines: m-timestamp-mode-performance, m-init-done, m-ready. */
void edgeml_dut_boot(edgeml_dut_t *dut);

/* Consume received bytes; replies go out through port->write. */
void edgeml_dut_feed(edgeml_dut_t *dut, const uint8_t *bytes, size_t n);

/* zlib's crc32 (crc = 0 to start), for ports and tests. */
uint32_t edgeml_crc32(uint32_t crc, const uint8_t *data, size_t n);

/* Format v with 3 decimals, correctly rounded like printf("%.3f") (nan, inf, -inf
 * for the special values). Returns the length written (cap >= 32 always suffices). */
size_t edgeml_format_float3(char *buf, size_t cap, float v);

#ifdef __cplusplus
}
#endif

#endif /* EDGEML_DUT_H_ */
