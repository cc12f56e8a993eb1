/* edgeml bench firmware for the MPS2 AN386 board (Cortex-M4) under QEMU:
 * CMSDK UART0 (0x40004000) for the protocol, CMSDK TIMER0 (0x40000000, 25 MHz,
 * wraps counted in its interrupt) as the microsecond clock (QEMU does not
 * model the DWT cycle counter). With EDGEML_WITH_TFLM the runner is TFLite Micro
 * (tflm_runner.cc); without it, a runner that refuses every model, so the
 * protocol core itself runs on the emulated Cortex-M4. */
#include <stdint.h>

#include "edgeml_dut.h"
#include "edgeml_no_runtime.h"
#ifdef EDGEML_WITH_TFLM
#include "edgeml_tflm.h"
#endif

#ifndef EDGEML_SLOT_BYTES
#define EDGEML_SLOT_BYTES (1024u * 1024u)
#endif
#ifndef EDGEML_INPUT_BYTES
#define EDGEML_INPUT_BYTES (64u * 1024u)
#endif
#ifndef EDGEML_ARENA_BYTES
#define EDGEML_ARENA_BYTES (1024u * 1024u)
#endif

#define REG(addr) (*(volatile uint32_t *)(addr))
#define UART0 0x40004000u
#define UART_DATA (UART0 + 0x00u)
#define UART_STATE (UART0 + 0x04u) /* bit0 TX full, bit1 RX full */
#define UART_CTRL (UART0 + 0x08u)  /* bit0 TX enable, bit1 RX enable */
#define UART_BAUDDIV (UART0 + 0x10u)
#define TIMER0 0x40000000u
#define TIMER_CTRL (TIMER0 + 0x00u) /* bit0 enable, bit3 interrupt enable */
#define TIMER_VALUE (TIMER0 + 0x04u)
#define TIMER_RELOAD (TIMER0 + 0x08u)
#define TIMER_INTCLEAR (TIMER0 + 0x0Cu)
#define NVIC_ISER0 0xE000E100u
#define SYSCLK_HZ 25000000u

static volatile uint32_t timer_wraps;

void mps2_timer0_irq(void) {
  REG(TIMER_INTCLEAR) = 1u;
  timer_wraps++;
}

/* A fault (e.g. TFLM crashing in the arena search, see PROTOCOL.md) says so and
 * resets the board, which boots again: the host sees the boot lines. */
void mps2_fault(void) {
  static const char msg[] = "\r\ne-[Board fault: resetting]\r\n";
  size_t i;
  for (i = 0; i < sizeof msg - 1; ++i) {
    while (REG(UART_STATE) & 1u) {
    }
    REG(UART_DATA) = (uint8_t)msg[i];
  }
  REG(0xE000ED0Cu) = 0x05FA0004u; /* AIRCR: SYSRESETREQ */
  for (;;) {
  }
}

static void uart_write(void *ctx, const char *bytes, size_t n) {
  size_t i;
  (void)ctx;
  for (i = 0; i < n; ++i) {
    while (REG(UART_STATE) & 1u) {
    }
    REG(UART_DATA) = (uint8_t)bytes[i];
  }
}

static uint64_t micros(void *ctx) {
  uint32_t w, v;
  (void)ctx;
  do {
    w = timer_wraps;
    v = REG(TIMER_VALUE);
  } while (w != timer_wraps);
  return ((((uint64_t)w) << 32) + (0xFFFFFFFFu - v)) / (SYSCLK_HZ / 1000000u);
}

static const edgeml_port_t port = {uart_write, micros, 0, 0};

static uint8_t slot[EDGEML_SLOT_BYTES];
static uint8_t input[EDGEML_INPUT_BYTES];
#ifdef EDGEML_WITH_TFLM
static uint8_t arena[EDGEML_ARENA_BYTES] __attribute__((aligned(16)));
#endif
#ifdef EDGEML_DEFAULT_MODEL
#include "model_data.h" /* g_model, g_model_len: the model the board boots with */
#endif

int main(void) {
  static edgeml_dut_t dut;
  const edgeml_runner_t *runner = &edgeml_no_runtime_runner;
  REG(UART_BAUDDIV) = SYSCLK_HZ / 115200u;
  REG(UART_CTRL) = 3u;
  REG(TIMER_RELOAD) = 0xFFFFFFFFu;
  REG(TIMER_VALUE) = 0xFFFFFFFFu;
  REG(TIMER_CTRL) = 1u | 8u;
  REG(NVIC_ISER0) = 1u << 8;
#ifdef EDGEML_WITH_TFLM
  runner = edgeml_tflm_runner(arena, sizeof arena, micros, 0);
#endif
  edgeml_dut_init(&dut, &port, runner, slot, sizeof slot, input, sizeof input,
                  "edgeml-mps2-an386");
  edgeml_dut_set_timer_kind(&dut, "emulated");
#ifdef EDGEML_DEFAULT_MODEL
  (void)edgeml_dut_load_model(&dut, g_model, g_model_len);
#endif
  edgeml_dut_boot(&dut);
  for (;;) {
    if (REG(UART_STATE) & 2u) {
      uint8_t c = (uint8_t)REG(UART_DATA);
      edgeml_dut_feed(&dut, &c, 1);
    }
  }
}
