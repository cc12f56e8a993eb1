/* Cortex-M4 start-up for the MPS2 AN386 board: vector table, FPU enable (before
 * any float code runs), .data copy, .bss zero, C++ constructors, main. */
#include <stdint.h>

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
extern void __libc_init_array(void);
extern int main(void);
void Reset_Handler(void);
void mps2_timer0_irq(void);
void mps2_fault(void);

static void default_handler(void) {
  for (;;) {
  }
}

void _init(void) {} /* called by __libc_init_array; no crt0 here */
void _fini(void) {}

__attribute__((section(".vectors"), used)) static void (*const vectors[16 + 9])(void) = {
    (void (*)(void))(&_estack), /* initial stack pointer */
    Reset_Handler,
    default_handler, /* NMI */
    mps2_fault,      /* HardFault */
    mps2_fault,      /* MemManage */
    mps2_fault,      /* BusFault */
    mps2_fault,      /* UsageFault */
    0, 0, 0, 0,
    default_handler, /* SVCall */
    default_handler, /* DebugMonitor */
    0,
    default_handler, /* PendSV */
    default_handler, /* SysTick */
    default_handler, default_handler, default_handler, default_handler, /* IRQ 0-3 */
    default_handler, default_handler, default_handler, default_handler, /* IRQ 4-7 */
    mps2_timer0_irq,                                                    /* IRQ 8: TIMER0 */
};

void Reset_Handler(void) {
  volatile uint32_t *cpacr = (volatile uint32_t *)0xE000ED88u;
  uint32_t *src = &_sidata, *dst = &_sdata;
  *cpacr |= 0xFu << 20; /* CP10 + CP11 full access: the FPU */
  __asm volatile("dsb\n isb" ::: "memory");
  while (dst < &_edata) *dst++ = *src++;
  for (dst = &_sbss; dst < &_ebss;) *dst++ = 0;
  __libc_init_array();
  (void)main();
  for (;;) {
  }
}
