/* The runner of a build without TFLite Micro (see edgeml_no_runtime.c). */
#ifndef EDGEML_NO_RUNTIME_H_
#define EDGEML_NO_RUNTIME_H_

#include "edgeml_dut.h"

#ifdef __cplusplus
extern "C" {
#endif

extern const edgeml_runner_t edgeml_no_runtime_runner;

#ifdef __cplusplus
}
#endif

#endif /* EDGEML_NO_RUNTIME_H_ */
