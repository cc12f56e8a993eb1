/* A runner for builds without TFLite Micro: every load is refused with a clear
 * message, so the protocol core itself can run on a device or an emulator
 * (the QEMU board in CI) and say honestly that it cannot run a model. */
#include "edgeml_no_runtime.h"

#include <string.h>

static int nr_load(void *ctx, const uint8_t *model, size_t n, char *err, size_t err_cap) {
  static const char msg[] = "this build has no TFLite Micro runtime";
  (void)ctx;
  (void)model;
  (void)n;
  if (err_cap > 0) {
    size_t k = sizeof msg - 1 < err_cap - 1 ? sizeof msg - 1 : err_cap - 1;
    memcpy(err, msg, k);
    err[k] = '\0';
  }
  return -1;
}

static size_t nr_zero(void *ctx) {
  (void)ctx;
  return 0;
}

static const char *nr_info(void *ctx, const char *key) {
  (void)ctx;
  if (strcmp(key, "tflm") == 0 || strcmp(key, "kernels") == 0) return "none";
  if (strcmp(key, "arena") == 0) return "0";
  return NULL;
}

const edgeml_runner_t edgeml_no_runtime_runner = {
    nr_load, nr_zero, NULL, NULL, nr_zero, NULL, nr_zero, nr_zero, nr_zero, NULL, nr_info, NULL};
