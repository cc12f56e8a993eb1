// Test stub of TensorFlow Lite Micro's interpreter API -- NOT the real TFLM header.
// Like micro_mutable_op_resolver.h here, it lets edgeml's tests compile generated C++
// (edgeml_predict.cc) on a machine without TFLM sources: it declares the members of
// tflite::MicroInterpreter and TfLiteTensor that generated code uses, with TFLM's
// names and signatures, and does nothing. Set EDGEML_TFLM_INCLUDE to compile against
// a real TFLM tree instead.
#ifndef EDGEML_TEST_STUB_MICRO_INTERPRETER_H_
#define EDGEML_TEST_STUB_MICRO_INTERPRETER_H_

#include <cstddef>
#include <cstdint>

#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"

typedef union TfLitePtrUnion {
  int32_t* i32;
  float* f;
  int8_t* int8;
  uint8_t* uint8;
  void* data;
} TfLitePtrUnion;

typedef struct TfLiteTensor {
  TfLitePtrUnion data;
} TfLiteTensor;

namespace tflite {

class MicroOpResolver {};

class MicroInterpreter {
 public:
  template <unsigned int N>
  MicroInterpreter(const Model* model, const MicroMutableOpResolver<N>& op_resolver,
                   uint8_t* tensor_arena, size_t tensor_arena_size)
      : model_(model), arena_(tensor_arena), arena_size_(tensor_arena_size) {
    (void)op_resolver;
  }
  TfLiteStatus AllocateTensors() { return model_ && arena_ && arena_size_ ? kTfLiteOk : kTfLiteError; }
  TfLiteTensor* input(size_t index) { (void)index; return &tensor_; }
  TfLiteTensor* output(size_t index) { (void)index; return &tensor_; }
  TfLiteStatus Invoke() { return kTfLiteOk; }

 private:
  const Model* model_;
  uint8_t* arena_;
  size_t arena_size_;
  TfLiteTensor tensor_ = {};
};

}  // namespace tflite

#endif  // EDGEML_TEST_STUB_MICRO_INTERPRETER_H_
