/* TEST DOUBLE runner for the protocol core's tests (see echo_runner.c). */
#ifndef EDGEML_TEST_ECHO_RUNNER_H_
#define EDGEML_TEST_ECHO_RUNNER_H_

#include "edgeml_dut.h"

extern const edgeml_runner_t echo_runner;

#endif
