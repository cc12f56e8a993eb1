/* The bench application every TFLite Micro port shares (edgeml_bench.cc): static
 * buffers, the TFLM runner, the protocol core and an optional baked-in model.
 * A port fills an edgeml_port_t and calls:
 *
 *     edgeml_bench_start(&port, "my-board", "device");   // prints the boot lines
 *     for (;;) { uint8_t c = ...; edgeml_bench_feed(&c, 1); }
 *
 * Sizes come from edgeml_config.h when the build has one (an `edgeml export
 * --format firmware` project), else from -D flags, else the defaults below:
 * EDGEML_SLOT_BYTES (RAM for a model sent over the line), EDGEML_ARENA_BYTES
 * (the TFLM tensor arena), EDGEML_INPUT_BYTES (the input buffer). With
 * EDGEML_DEFAULT_MODEL the board boots with model_data.h's g_model (in flash;
 * EDGEML_MODEL_HEADER / _ARRAY / _LEN name another export's header and symbols). */
#ifndef EDGEML_BENCH_H_
#define EDGEML_BENCH_H_

#include "edgeml_dut.h"

#ifdef __cplusplus
extern "C" {
#endif

void edgeml_bench_start(const edgeml_port_t *port, const char *name, const char *timer_kind);
void edgeml_bench_feed(const uint8_t *bytes, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* EDGEML_BENCH_H_ */
