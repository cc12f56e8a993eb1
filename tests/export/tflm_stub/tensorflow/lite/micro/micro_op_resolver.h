// Test stub of TensorFlow Lite Micro -- NOT the real header. It declares only the
// upstream API that edgeml's firmware (firmware/common/tflm_runner.cc) uses, with
// upstream's names, namespaces and signatures, checked against
// tensorflow/tflite-micro at commit 90b983c2b3f1480642e040bbd2ddb37b998f3424
// (2026-08-20), file tensorflow/lite/micro/micro_op_resolver.h. edgeml only passes a
// MicroMutableOpResolver as this base class to MicroInterpreter, so the lookup
// methods (FindOp, GetOpDataParser) are not declared here.
#ifndef TENSORFLOW_LITE_MICRO_MICRO_OP_RESOLVER_H_
#define TENSORFLOW_LITE_MICRO_MICRO_OP_RESOLVER_H_

#include "tensorflow/lite/c/common.h"

namespace tflite {

class MicroOpResolver {
 public:
  virtual ~MicroOpResolver() {}
};

}  // namespace tflite

#endif  // TENSORFLOW_LITE_MICRO_MICRO_OP_RESOLVER_H_
