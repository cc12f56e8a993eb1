/* The edgeml_runner_t over TensorFlow Lite Micro (tflm_runner.cc, C++17).
 *
 *     alignas(16) static uint8_t arena[96 * 1024];
 *     const edgeml_runner_t *r = edgeml_tflm_runner(arena, sizeof arena, my_micros, NULL);
 *
 * One runner per firmware (static state). The clock times the per-operator
 * profile (the port's microsecond clock, the same one as m-lap-us).
 * Compile defines: EDGEML_KERNELS ("reference", "cmsis-nn", "esp-nn"; the
 * kernels the TFLM library was built with), EDGEML_TFLM_VERSION (its git hash
 * or release), EDGEML_MAX_OP_EVENTS (per-operator profile entries, default 128). */
#ifndef EDGEML_TFLM_H_
#define EDGEML_TFLM_H_

#include "edgeml_dut.h"

#ifdef __cplusplus
extern "C" {
#endif

const edgeml_runner_t *edgeml_tflm_runner(uint8_t *arena, size_t arena_size,
                                          uint64_t (*micros)(void *ctx), void *clock_ctx);

#ifdef __cplusplus
}
#endif

#endif /* EDGEML_TFLM_H_ */
