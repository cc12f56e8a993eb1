// The bench application shared by the TFLite Micro ports (see edgeml_bench.h).
#include "edgeml_bench.h"

#if defined(__has_include)
#if __has_include("edgeml_config.h")
#include "edgeml_config.h"
#endif
#endif

#include "edgeml_tflm.h"

#ifdef EDGEML_DEFAULT_MODEL  // the model the board boots with (edgeml export), in flash
#ifndef EDGEML_MODEL_HEADER
#define EDGEML_MODEL_HEADER "model_data.h"
#define EDGEML_MODEL_ARRAY g_model
#define EDGEML_MODEL_LEN g_model_len
#endif
#include EDGEML_MODEL_HEADER
#endif

#ifndef EDGEML_SLOT_BYTES
#define EDGEML_SLOT_BYTES (64u * 1024u)
#endif
#ifndef EDGEML_ARENA_BYTES
#define EDGEML_ARENA_BYTES (96u * 1024u)
#endif
#ifndef EDGEML_INPUT_BYTES
#define EDGEML_INPUT_BYTES (16u * 1024u)
#endif
#ifndef EDGEML_BUFFER_ATTR
#define EDGEML_BUFFER_ATTR  // e.g. a section attribute placing the buffers in a RAM bank
#endif

namespace {
edgeml_dut_t g_dut;
EDGEML_BUFFER_ATTR uint8_t g_slot[EDGEML_SLOT_BYTES];
EDGEML_BUFFER_ATTR uint8_t g_input[EDGEML_INPUT_BYTES];
alignas(16) EDGEML_BUFFER_ATTR uint8_t g_arena[EDGEML_ARENA_BYTES];
}  // namespace

extern "C" void edgeml_bench_start(const edgeml_port_t* port, const char* name,
                                   const char* timer_kind) {
  const edgeml_runner_t* runner =
      edgeml_tflm_runner(g_arena, sizeof g_arena, port->micros, port->ctx);
  edgeml_dut_init(&g_dut, port, runner, g_slot, sizeof g_slot, g_input, sizeof g_input, name);
  edgeml_dut_set_timer_kind(&g_dut, timer_kind);
#ifdef EDGEML_DEFAULT_MODEL
  (void)edgeml_dut_load_model(&g_dut, EDGEML_MODEL_ARRAY, EDGEML_MODEL_LEN);
#endif
  edgeml_dut_boot(&g_dut);
}

extern "C" void edgeml_bench_feed(const uint8_t* bytes, size_t n) {
  edgeml_dut_feed(&g_dut, bytes, n);
}
