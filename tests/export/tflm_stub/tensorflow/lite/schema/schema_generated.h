// Test stub of TensorFlow Lite Micro -- NOT the real header. It declares only the
// upstream API that edgeml's firmware (firmware/common/tflm_runner.cc) uses, with
// upstream's names, namespaces and signatures, checked against
// tensorflow/tflite-micro at commit 90b983c2b3f1480642e040bbd2ddb37b998f3424
// (2026-08-20), file tensorflow/lite/schema/schema_generated.h (the flatbuffer
// accessors tflite::Model::version() and tflite::GetModel()).
#ifndef FLATBUFFERS_GENERATED_SCHEMA_TFLITE_H_
#define FLATBUFFERS_GENERATED_SCHEMA_TFLITE_H_

#include <cstdint>

namespace tflite {

struct Model {
  uint32_t version() const;
};

const tflite::Model* GetModel(const void* buf);  // upstream: inline, reads the root table

}  // namespace tflite

#endif  // FLATBUFFERS_GENERATED_SCHEMA_TFLITE_H_
