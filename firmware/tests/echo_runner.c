/* TEST DOUBLE, not a model runtime: a deterministic edgeml_runner_t for the
 * protocol core's unit tests and fuzzing. It "loads" any model whose bytes
 * start with "ECHO" (byte 4 = input size 1..255, 0 meaning 256) and outputs the
 * input bytes as int8 values scaled by 1/128; a model starting with "FAIL" is
 * refused like a model whose AllocateTensors fails, and invoke fails after 5000
 * invokes per load (the invoke-failure path, and it keeps fuzzing fast when a
 * fuzzed "infer N" asks for millions of runs). The real runner
 * (tflm_runner.cc) and the tflite-micro interpreter are tested elsewhere. */
#include "echo_runner.h"

#include <string.h>

typedef struct {
  size_t model_bytes;
  size_t in_bytes;
  uint8_t in[256];
  uint8_t out[256];
  int invoked;
  unsigned invokes;
} echo_state_t;

static echo_state_t st;

static void copy_err(char *err, size_t cap, const char *msg) {
  size_t k = strlen(msg);
  if (cap == 0) return;
  if (k > cap - 1) k = cap - 1;
  memcpy(err, msg, k);
  err[k] = '\0';
}

static int e_load(void *ctx, const uint8_t *model, size_t n, char *err, size_t err_cap) {
  (void)ctx;
  memset(&st, 0, sizeof st);
  if (n >= 4 && memcmp(model, "FAIL", 4) == 0) {
    copy_err(err, err_cap, "AllocateTensors failed: test double refuses FAIL models");
    return -1;
  }
  if (n < 5 || memcmp(model, "ECHO", 4) != 0) {
    copy_err(err, err_cap, "Not a test model");
    return -1;
  }
  st.model_bytes = n;
  st.in_bytes = model[4] ? model[4] : 256;
  return 0;
}

static size_t e_input_bytes(void *ctx) {
  (void)ctx;
  return st.in_bytes;
}

static int e_set_input(void *ctx, const uint8_t *data, size_t n) {
  (void)ctx;
  if (n != st.in_bytes) return -1;
  memcpy(st.in, data, n);
  return 0;
}

static int e_invoke(void *ctx) {
  (void)ctx;
  if (st.in_bytes == 0 || st.invokes >= 5000u) return -1;
  memcpy(st.out, st.in, st.in_bytes);
  st.invoked = 1;
  st.invokes++;
  return 0;
}

static size_t e_output_count(void *ctx) {
  (void)ctx;
  return st.in_bytes;
}

static float e_output_float(void *ctx, size_t i) {
  (void)ctx;
  return i < st.in_bytes ? (float)(int8_t)st.out[i] / 128.0f : 0.0f;
}

static size_t e_arena_used(void *ctx) {
  (void)ctx;
  return st.model_bytes * 2u;
}

static size_t e_arena_min(void *ctx) {
  (void)ctx;
  return (st.model_bytes + 15u) / 16u * 16u;
}

static size_t e_op_count(void *ctx) {
  (void)ctx;
  return st.invoked ? 2u : 0u;
}

static int e_op_profile(void *ctx, size_t i, char *name, size_t cap, uint32_t *us) {
  (void)ctx;
  if (i >= 2) return -1;
  copy_err(name, cap, i == 0 ? "COPY" : "SCALE");
  *us = (uint32_t)(i + 1);
  return 0;
}

static const char *e_info(void *ctx, const char *key) {
  (void)ctx;
  if (strcmp(key, "tflm") == 0) return "test-double";
  if (strcmp(key, "kernels") == 0) return "reference";
  if (strcmp(key, "arena") == 0) return "4096";
  return NULL;
}

const edgeml_runner_t echo_runner = {e_load,         e_input_bytes, e_set_input, e_invoke,
                                     e_output_count, e_output_float, e_arena_used, e_arena_min,
                                     e_op_count,     e_op_profile,  e_info,       NULL};
