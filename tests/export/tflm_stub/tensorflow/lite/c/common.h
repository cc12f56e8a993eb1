// Test stub of TensorFlow Lite Micro -- NOT the real header. It declares only the
// upstream API that edgeml's firmware (firmware/common/tflm_runner.cc) uses, with
// upstream's names, namespaces and signatures, checked against
// tensorflow/tflite-micro at commit 90b983c2b3f1480642e040bbd2ddb37b998f3424
// (2026-08-20), files tensorflow/lite/c/common.h -> tensorflow/lite/core/c/common.h
// (TfLitePtrUnion, TfLiteIntArray, and the TFLITE_STATIC_MEMORY TfLiteTensor that
// TFLM builds with; only the members edgeml reads are declared).
#ifndef TENSORFLOW_LITE_C_COMMON_H_
#define TENSORFLOW_LITE_C_COMMON_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tensorflow/lite/c/c_api_types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct TfLiteIntArray {
  int size;
  int data[1];  // upstream: a flexible array member
} TfLiteIntArray;

typedef union TfLitePtrUnion {
  int32_t* i32;
  uint32_t* u32;
  int64_t* i64;
  uint64_t* u64;
  float* f;
  double* f64;
  char* raw;
  const char* raw_const;
  uint8_t* uint8;
  bool* b;
  int16_t* i16;
  uint16_t* ui16;
  int8_t* int8;
  void* data;
} TfLitePtrUnion;

typedef struct TfLiteTensor {
  TfLiteQuantizationParams params;
  TfLitePtrUnion data;
  TfLiteIntArray* dims;
  size_t bytes;
  TfLiteType type;
  bool is_variable;
} TfLiteTensor;

#ifdef __cplusplus
}
#endif

#endif  // TENSORFLOW_LITE_C_COMMON_H_
