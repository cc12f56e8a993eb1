// edgeml_runner_t over TensorFlow Lite Micro: GetModel + schema check,
// MicroMutableOpResolver with every operator of edgeml's targets (edgeml_ops.h),
// MicroInterpreter placed in static storage over the caller's arena, per-operator
// times through a MicroProfilerInterface on the port's clock, and the
// smallest-arena bisection (fresh interpreters on a shrinking arena, then the
// full one again). No heap: everything lives in static storage.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <new>

#include "edgeml_dut.h"
#include "edgeml_ops.h"
#include "edgeml_tflm.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/micro/micro_profiler_interface.h"
#include "tensorflow/lite/schema/schema_generated.h"

#ifndef EDGEML_KERNELS
#define EDGEML_KERNELS "reference"
#endif
#ifndef EDGEML_TFLM_VERSION
#define EDGEML_TFLM_VERSION "unknown"
#endif
#ifndef EDGEML_MAX_OP_EVENTS
#define EDGEML_MAX_OP_EVENTS 128
#endif

namespace {

constexpr size_t kAlign = 16;

// Per-operator times of one Invoke(), read from the port's microsecond clock.
class OpProfiler : public tflite::MicroProfilerInterface {
 public:
  void SetClock(uint64_t (*micros)(void*), void* ctx) {
    micros_ = micros;
    ctx_ = ctx;
  }
  void Clear() { count_ = 0; }
  uint32_t BeginEvent(const char* tag) override {
    if (count_ >= EDGEML_MAX_OP_EVENTS) return EDGEML_MAX_OP_EVENTS;  // dropped
    tags_[count_] = tag;
    start_[count_] = Now();
    end_[count_] = start_[count_];
    return count_++;
  }
  void EndEvent(uint32_t handle) override {
    if (handle < count_) end_[handle] = Now();
  }
  size_t count() const { return count_; }
  const char* tag(size_t i) const { return tags_[i]; }
  uint32_t micros(size_t i) const { return static_cast<uint32_t>(end_[i] - start_[i]); }

 private:
  uint64_t Now() const { return micros_ ? micros_(ctx_) : 0; }
  uint64_t (*micros_)(void*) = nullptr;
  void* ctx_ = nullptr;
  const char* tags_[EDGEML_MAX_OP_EVENTS] = {};
  uint64_t start_[EDGEML_MAX_OP_EVENTS] = {};
  uint64_t end_[EDGEML_MAX_OP_EVENTS] = {};
  uint32_t count_ = 0;
};

using Resolver = tflite::MicroMutableOpResolver<EDGEML_OP_COUNT>;

struct State {
  uint8_t* arena = nullptr;
  size_t arena_size = 0;
  const tflite::Model* model = nullptr;
  tflite::MicroInterpreter* interp = nullptr;
  bool resolver_ready = false;
  bool resolver_ok = false;
  char arena_text[16] = {};
};

State g;
Resolver g_resolver;
OpProfiler g_profiler;
alignas(tflite::MicroInterpreter) uint8_t g_interp_storage[sizeof(tflite::MicroInterpreter)];

void Say(char* err, size_t cap, const char* msg, long a = -1, long b = -1) {
  if (cap == 0) return;
  if (a >= 0 && b >= 0) {
    snprintf(err, cap, msg, a, b);
  } else if (a >= 0) {
    snprintf(err, cap, msg, a);
  } else {
    snprintf(err, cap, "%s", msg);
  }
}

bool RegisterOps() {
  if (!g.resolver_ready) {
    g.resolver_ready = true;
    g.resolver_ok = true;
#define EDGEML_ADD(method) \
  if (g_resolver.method() != kTfLiteOk) g.resolver_ok = false;
    EDGEML_FOR_EACH_OP(EDGEML_ADD)
#undef EDGEML_ADD
  }
  return g.resolver_ok;
}

void DropInterpreter() {
  if (g.interp != nullptr) {
    g.interp->~MicroInterpreter();
    g.interp = nullptr;
  }
}

// A fresh interpreter over the first `size` bytes of the arena; nullptr when
// AllocateTensors fails.
tflite::MicroInterpreter* MakeInterpreter(size_t size, bool profile) {
  DropInterpreter();
  // A fresh arena each time: on its failure paths TFLM can read arena bytes left
  // by an earlier interpreter (seen: GreedyMemoryPlanner crashing on a reused
  // arena at a size that fails cleanly on a zeroed one).
  std::memset(g.arena, 0, size);
  auto* interp = new (g_interp_storage) tflite::MicroInterpreter(
      g.model, g_resolver, g.arena, size, nullptr, profile ? &g_profiler : nullptr);
  if (interp->AllocateTensors() != kTfLiteOk) {
    interp->~MicroInterpreter();
    return nullptr;
  }
  g.interp = interp;
  return interp;
}

float Dequantize(const TfLiteTensor* t, size_t i) {
  switch (t->type) {
    case kTfLiteInt8:
      return t->params.scale * static_cast<float>(t->data.int8[i] - t->params.zero_point);
    case kTfLiteUInt8:
      return t->params.scale * static_cast<float>(t->data.uint8[i] - t->params.zero_point);
    case kTfLiteInt16:
      return t->params.scale * static_cast<float>(t->data.i16[i] - t->params.zero_point);
    case kTfLiteFloat32:
      return t->data.f[i];
    default:
      return 0.0f;
  }
}

size_t ElementSize(TfLiteType type) {
  switch (type) {
    case kTfLiteInt8:
    case kTfLiteUInt8:
      return 1;
    case kTfLiteInt16:
      return 2;
    case kTfLiteFloat32:
      return 4;
    default:
      return 0;
  }
}

// ---------------------------------------------------------------- edgeml_runner_t
int Load(void*, const uint8_t* model, size_t n, char* err, size_t cap) {
  // Abandon, do not destroy, the previous interpreter: the core has already
  // overwritten its model in the slot, and ~MicroInterpreter() walks the model's
  // operators. Everything it owns lives in the arena, which is reused below.
  g.interp = nullptr;
  g.model = nullptr;
  g_profiler.Clear();
  if (!RegisterOps()) {
    Say(err, cap, "Op resolver has room for %ld operators but registration failed",
        static_cast<long>(EDGEML_OP_COUNT));
    return -1;
  }
  if (n < 8 || std::memcmp(model + 4, "TFL3", 4) != 0) {
    Say(err, cap, "Not a TFLite flatbuffer (no TFL3 identifier)");
    return -1;
  }
  const tflite::Model* m = tflite::GetModel(model);
  if (m->version() != TFLITE_SCHEMA_VERSION) {
    Say(err, cap, "Model schema version %ld is not supported (expected %ld)",
        static_cast<long>(m->version()), static_cast<long>(TFLITE_SCHEMA_VERSION));
    return -1;
  }
  g.model = m;
  tflite::MicroInterpreter* interp = MakeInterpreter(g.arena_size, true);
  if (interp == nullptr) {
    g.model = nullptr;
    Say(err, cap,
        "AllocateTensors failed: arena of %ld bytes too small or an operator is not "
        "registered (see the TFLM log)",
        static_cast<long>(g.arena_size));
    return -1;
  }
  if (interp->inputs_size() != 1 || interp->outputs_size() < 1) {
    Say(err, cap, "Model has %ld inputs and %ld outputs; the bench runs 1 input",
        static_cast<long>(interp->inputs_size()), static_cast<long>(interp->outputs_size()));
    DropInterpreter();
    g.model = nullptr;
    return -1;
  }
  if (ElementSize(interp->input(0)->type) == 0 || ElementSize(interp->output(0)->type) == 0) {
    Say(err, cap, "Model input or output type %ld is not int8, uint8, int16 or float32",
        static_cast<long>(ElementSize(interp->input(0)->type) == 0 ? interp->input(0)->type
                                                                   : interp->output(0)->type));
    DropInterpreter();
    g.model = nullptr;
    return -1;
  }
  return 0;
}

size_t InputBytes(void*) { return g.interp ? g.interp->input(0)->bytes : 0; }

int SetInput(void*, const uint8_t* data, size_t n) {
  if (g.interp == nullptr) return -1;
  TfLiteTensor* in = g.interp->input(0);
  if (n != in->bytes) return -1;
  std::memcpy(in->data.raw, data, n);
  return 0;
}

int Invoke(void*) {
  if (g.interp == nullptr) return -1;
  g_profiler.Clear();
  return g.interp->Invoke() == kTfLiteOk ? 0 : -1;
}

size_t OutputCount(void*) {
  if (g.interp == nullptr) return 0;
  const TfLiteTensor* out = g.interp->output(0);
  return out->bytes / ElementSize(out->type);
}

float OutputFloat(void*, size_t i) {
  if (g.interp == nullptr || i >= OutputCount(nullptr)) return 0.0f;
  return Dequantize(g.interp->output(0), i);
}

size_t ArenaUsed(void*) { return g.interp ? g.interp->arena_used_bytes() : 0; }

bool Works(size_t size) {
  tflite::MicroInterpreter* interp = MakeInterpreter(size, false);
  if (interp == nullptr) return false;
  TfLiteTensor* in = interp->input(0);
  std::memset(in->data.raw, 0, in->bytes);
  return interp->Invoke() == kTfLiteOk;
}

// Smallest multiple of 16 bytes, searched from arena_used_bytes(), in which
// AllocateTensors and one Invoke succeed: the loaded interpreter's
// arena_used_bytes() rounded up is tried first (the same plan in a smaller arena
// makes the same allocations; Prepare's temporary tensors may need a little
// more), then it gallops up (16, 32, 64... bytes more) to a working size and
// bisects back down; when the first try works, it steps down (at most 8 x 16 bytes:
// arena_used_bytes() counts alignment padding the plan may not need) while it
// still works. Finally the full-size interpreter the core was using is restored.
// Known upstream issue:
// TFLM can crash instead of failing cleanly 16 bytes below the need (seen on the
// host at 90b983c for 2 of 3 models); see firmware/PROTOCOL.md, `arena%`.
size_t ArenaMin(void*) {
  if (g.model == nullptr || g.interp == nullptr) return 0;
  const size_t full = g.arena_size / kAlign;  // known good, in 16-byte units
  size_t lo = (g.interp->arena_used_bytes() + kAlign - 1) / kAlign;
  size_t hi = full;
  if (lo > full) lo = full;
  size_t first = lo;
  if (Works(lo * kAlign)) {
    hi = lo;
  } else {
    size_t step = 1;
    while (lo + step < full && !Works((lo + step) * kAlign)) {
      lo += step;
      step *= 2;
    }
    hi = lo + step < full ? lo + step : full;
    while (hi - lo > 1) {  // lo fails, hi works
      const size_t mid = lo + (hi - lo) / 2;
      if (Works(mid * kAlign)) {
        hi = mid;
      } else {
        lo = mid;
      }
    }
  }
  // arena_used_bytes() includes alignment padding the plan may not need: step down
  // a little while it still works
  for (int i = 0; i < 8 && hi == first && hi > 1 && Works((hi - 1) * kAlign); ++i) {
    hi -= 1;
    first = hi;
  }
  if (MakeInterpreter(g.arena_size, true) == nullptr) return 0;
  g_profiler.Clear();
  return hi * kAlign;
}

size_t OpCount(void*) { return g_profiler.count(); }

int OpProfile(void*, size_t i, char* name, size_t cap, uint32_t* us) {
  if (i >= g_profiler.count() || cap == 0) return -1;
  const char* tag = g_profiler.tag(i) ? g_profiler.tag(i) : "?";
  snprintf(name, cap, "%s", tag);
  *us = g_profiler.micros(i);
  return 0;
}

const char* Info(void*, const char* key) {
  if (std::strcmp(key, "tflm") == 0) return EDGEML_TFLM_VERSION;
  if (std::strcmp(key, "kernels") == 0) return EDGEML_KERNELS;
  if (std::strcmp(key, "arena") == 0) {
    snprintf(g.arena_text, sizeof g.arena_text, "%lu", static_cast<unsigned long>(g.arena_size));
    return g.arena_text;
  }
  return nullptr;
}

const edgeml_runner_t kRunner = {Load,      InputBytes, SetInput,  Invoke,  OutputCount, OutputFloat,
                                 ArenaUsed, ArenaMin,   OpCount,   OpProfile, Info,       nullptr};

}  // namespace

extern "C" const edgeml_runner_t* edgeml_tflm_runner(uint8_t* arena, size_t arena_size,
                                                     uint64_t (*micros)(void*), void* clock_ctx) {
  const uintptr_t p = reinterpret_cast<uintptr_t>(arena);
  const size_t skip = (kAlign - p % kAlign) % kAlign;
  g.arena = arena + skip;
  g.arena_size = arena_size > skip ? (arena_size - skip) / kAlign * kAlign : 0;
  g_profiler.SetClock(micros, clock_ctx);
  RegisterOps();
  return &kRunner;
}
