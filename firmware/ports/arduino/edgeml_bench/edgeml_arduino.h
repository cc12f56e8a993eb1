// The Arduino port of the edgeml bench firmware (edgeml_arduino.cpp).
#ifndef EDGEML_ARDUINO_H_
#define EDGEML_ARDUINO_H_

void edgeml_arduino_setup();
void edgeml_arduino_loop();

#endif  // EDGEML_ARDUINO_H_
