// Test stub of TensorFlow Lite Micro -- NOT the real header. It declares only the
// upstream API that edgeml's firmware (firmware/common/tflm_runner.cc) uses, with
// upstream's names, namespaces and signatures, checked against
// tensorflow/tflite-micro at commit 90b983c2b3f1480642e040bbd2ddb37b998f3424
// (2026-08-20), file tensorflow/lite/micro/micro_profiler_interface.h (complete).
#ifndef TENSORFLOW_LITE_MICRO_MICRO_PROFILER_INTERFACE_H_
#define TENSORFLOW_LITE_MICRO_MICRO_PROFILER_INTERFACE_H_

#include <cstdint>

namespace tflite {

class MicroProfilerInterface {
 public:
  virtual ~MicroProfilerInterface() {}
  virtual uint32_t BeginEvent(const char* tag) = 0;
  virtual void EndEvent(uint32_t event_handle) = 0;
};

}  // namespace tflite

#endif  // TENSORFLOW_LITE_MICRO_MICRO_PROFILER_INTERFACE_H_
