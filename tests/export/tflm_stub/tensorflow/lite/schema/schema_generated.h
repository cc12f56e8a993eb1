// Test stub of TensorFlow Lite's flatbuffer schema header -- NOT the real header.
// Declares tflite::Model and tflite::GetModel with the real names and signature, so
// generated C++ compiles in edgeml's tests without TFLM sources.
#ifndef EDGEML_TEST_STUB_SCHEMA_GENERATED_H_
#define EDGEML_TEST_STUB_SCHEMA_GENERATED_H_

namespace tflite {

struct Model {};

inline const Model* GetModel(const void* buf) { return static_cast<const Model*>(buf); }

}  // namespace tflite

#endif  // EDGEML_TEST_STUB_SCHEMA_GENERATED_H_
