// Test stub of TensorFlow Lite Micro -- NOT the real header. It declares only the
// upstream API that edgeml's firmware (firmware/common/tflm_runner.cc) uses, with
// upstream's names, namespaces and signatures, checked against
// tensorflow/tflite-micro at commit 90b983c2b3f1480642e040bbd2ddb37b998f3424
// (2026-08-20), file tensorflow/lite/micro/micro_interpreter.h (the constructor with an
// arena buffer, AllocateTensors, Invoke, input/output, inputs_size/outputs_size
// (inline upstream), arena_used_bytes (inline upstream), TFLITE_SCHEMA_VERSION).
#ifndef TENSORFLOW_LITE_MICRO_MICRO_INTERPRETER_H_
#define TENSORFLOW_LITE_MICRO_MICRO_INTERPRETER_H_

#include <cstddef>
#include <cstdint>

#include "tensorflow/lite/c/c_api_types.h"
#include "tensorflow/lite/c/common.h"
#include "tensorflow/lite/micro/micro_op_resolver.h"
#include "tensorflow/lite/micro/micro_profiler_interface.h"
#include "tensorflow/lite/schema/schema_generated.h"

#define TFLITE_SCHEMA_VERSION (3)

namespace tflite {

class MicroResourceVariables;

class MicroInterpreter {
 public:
  MicroInterpreter(const Model* model, const MicroOpResolver& op_resolver,
                   uint8_t* tensor_arena, size_t tensor_arena_size,
                   MicroResourceVariables* resource_variables = nullptr,
                   MicroProfilerInterface* profiler = nullptr,
                   bool preserve_all_tensors = false);
  ~MicroInterpreter();

  TfLiteStatus AllocateTensors();
  TfLiteStatus Invoke();
  TfLiteTensor* input(size_t index);
  size_t inputs_size() const;
  TfLiteTensor* output(size_t index);
  size_t outputs_size() const;
  size_t arena_used_bytes() const;

 private:
  const Model* model_;  // upstream keeps more state; a stub only needs a size > 0
};

}  // namespace tflite

#endif  // TENSORFLOW_LITE_MICRO_MICRO_INTERPRETER_H_
