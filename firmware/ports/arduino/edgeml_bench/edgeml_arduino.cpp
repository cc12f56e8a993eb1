// Arduino port: Serial (115200 8N1) for the protocol, micros() widened to 64 bits
// as the clock, an optional GPIO pulsed low at every timestamp (energy mode).
//   -DEDGEML_BOARD_NAME="\"my-board\""   name% reply (default: edgeml-arduino)
//   -DEDGEML_TIMESTAMP_PIN=7             the energy-timestamp pin (default: none)
#include <Arduino.h>

// The TFLite Micro library of this board (the Arduino builder finds libraries by
// their headers): TensorFlowLite_ESP32 on ESP32 chips, Arduino_TensorFlowLite else.
#if defined(EDGEML_TFLM_ARDUINO_HEADER)
#include EDGEML_TFLM_ARDUINO_HEADER
#elif defined(ARDUINO_ARCH_ESP32)
#include <TensorFlowLite_ESP32.h>
#else
#include <TensorFlowLite.h>
#endif

#include "edgeml_arduino.h"
#include "edgeml_bench.h"

#ifndef EDGEML_BOARD_NAME
#define EDGEML_BOARD_NAME "edgeml-arduino"
#endif

namespace {

uint64_t Micros(void*) {
  static uint32_t last = 0;
  static uint64_t high = 0;
  const uint32_t now = micros();
  if (now < last) high += (1ull << 32);  // micros() wraps every 71 minutes
  last = now;
  return high | now;
}

void Write(void*, const char* bytes, size_t n) {
  Serial.write(reinterpret_cast<const uint8_t*>(bytes), n);
}

#ifdef EDGEML_TIMESTAMP_PIN
void Pulse(void*) {
  digitalWrite(EDGEML_TIMESTAMP_PIN, LOW);
  delayMicroseconds(10);
  digitalWrite(EDGEML_TIMESTAMP_PIN, HIGH);
}
const edgeml_port_t kPort = {Write, Micros, Pulse, nullptr};
#else
const edgeml_port_t kPort = {Write, Micros, nullptr, nullptr};
#endif

}  // namespace

void edgeml_arduino_setup() {
  Serial.begin(115200);
  const unsigned long start = millis();
  while (!Serial && millis() - start < 3000) {
  }  // native-USB boards: wait (a little) for the host to open the port
#ifdef EDGEML_TIMESTAMP_PIN
  pinMode(EDGEML_TIMESTAMP_PIN, OUTPUT);
  digitalWrite(EDGEML_TIMESTAMP_PIN, HIGH);
#endif
  edgeml_bench_start(&kPort, EDGEML_BOARD_NAME, "device");
}

void edgeml_arduino_loop() {
  while (Serial.available() > 0) {
    const int c = Serial.read();
    if (c < 0) break;
    const uint8_t byte = static_cast<uint8_t>(c);
    edgeml_bench_feed(&byte, 1);
  }
}
