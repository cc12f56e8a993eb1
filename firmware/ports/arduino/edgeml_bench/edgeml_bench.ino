// edgeml bench firmware as an Arduino sketch: the MLPerf Tiny / EEMBC DUT protocol
// plus edgeml's extension over Serial at 115200 baud, models run by TensorFlow
// Lite Micro. See ../README.md for the files to copy next to this sketch.
#include "edgeml_arduino.h"

void setup() { edgeml_arduino_setup(); }

void loop() { edgeml_arduino_loop(); }
