/* edgeml bench firmware: the protocol core. See edgeml_dut.h and firmware/PROTOCOL.md. */
#include "edgeml_dut.h"

#include <string.h>

#define PROFILE_ID "ULPMark for tinyML Firmware V0.0.1"
#define BUFFER_PRINT_BYTES 32 /* bytes per m-buffer-[...] line */

/* ------------------------------------------------------------------ output */
static void flush(edgeml_dut_t *d) {
  if (d->out_len > 0 && d->port && d->port->write) d->port->write(d->port->ctx, d->out, d->out_len);
  d->out_len = 0;
}

static void put(edgeml_dut_t *d, const char *s, size_t n) {
  while (n > 0) {
    size_t room = EDGEML_OUT_BUF - d->out_len;
    size_t k = n < room ? n : room;
    memcpy(d->out + d->out_len, s, k);
    d->out_len += k;
    s += k;
    n -= k;
    if (d->out_len == EDGEML_OUT_BUF) flush(d);
  }
}

static void puts_(edgeml_dut_t *d, const char *s) { put(d, s, strlen(s)); }

static void put_u64(edgeml_dut_t *d, uint64_t v) {
  char buf[21];
  size_t i = sizeof buf;
  do {
    buf[--i] = (char)('0' + (int)(v % 10u));
    v /= 10u;
  } while (v != 0);
  put(d, buf + i, sizeof buf - i);
}

static const char HEX[] = "0123456789abcdef";

static void put_hex32(edgeml_dut_t *d, uint32_t v) {
  char buf[8];
  int i;
  for (i = 7; i >= 0; --i) {
    buf[i] = HEX[v & 0xfu];
    v >>= 4;
  }
  put(d, buf, 8);
}

static void eol(edgeml_dut_t *d) {
  put(d, "\r\n", 2);
  flush(d);
}

static void line(edgeml_dut_t *d, const char *s) {
  puts_(d, s);
  eol(d);
}

static void ready(edgeml_dut_t *d) { line(d, "m-ready"); }

/* e-[TEXT] with TEXT written by the caller between err_begin and err_end */
static void err_begin(edgeml_dut_t *d) { puts_(d, "e-["); }
static void err_end(edgeml_dut_t *d) {
  put(d, "]", 1);
  eol(d);
}
/* echo received text safely: anything outside printable ASCII becomes '?' */
static void put_clean(edgeml_dut_t *d, const char *s, size_t n) {
  size_t i;
  for (i = 0; i < n; ++i) {
    char c = s[i];
    if (c < 0x20 || c > 0x7e) c = '?';
    put(d, &c, 1);
  }
}

static void err_line(edgeml_dut_t *d, const char *s) {
  err_begin(d);
  puts_(d, s);
  err_end(d);
}

/* ------------------------------------------------------------------ crc32 (zlib) */
uint32_t edgeml_crc32(uint32_t crc, const uint8_t *data, size_t n) {
  static const uint32_t nib[16] = {
      0x00000000u, 0x1db71064u, 0x3b6e20c8u, 0x26d930acu, 0x76dc4190u, 0x6b6b51f4u,
      0x4db26158u, 0x5005713cu, 0xedb88320u, 0xf00f9344u, 0xd6d6a3e8u, 0xcb61b38cu,
      0x9b64c2b0u, 0x86d3d2d4u, 0xa00ae278u, 0xbdbdf21cu};
  size_t i;
  crc = ~crc;
  for (i = 0; i < n; ++i) {
    crc ^= data[i];
    crc = (crc >> 4) ^ nib[crc & 0xfu];
    crc = (crc >> 4) ^ nib[crc & 0xfu];
  }
  return ~crc;
}

/* ------------------------------------------------------------------ float formatting */
static size_t put_digits_u64(char *buf, size_t cap, size_t pos, uint64_t v) {
  char tmp[21];
  size_t i = sizeof tmp;
  do {
    tmp[--i] = (char)('0' + (int)(v % 10u));
    v /= 10u;
  } while (v != 0);
  while (i < sizeof tmp && pos + 1 < cap) buf[pos++] = tmp[i++];
  return pos;
}

/* |v| >= 2^53 / 1000: an integer-valued float; print it exactly (base-1e9 limbs). */
static size_t put_big_integer(char *buf, size_t cap, size_t pos, float av) {
  uint32_t limb[6] = {0, 0, 0, 0, 0, 0}; /* up to 54 decimal digits; FLT_MAX has 39 */
  int nlimb = 1, e = 0, i, k;
  double m = (double)av;
  while (m >= 16777216.0) { /* m = mantissa * 2^e, mantissa < 2^24, exact */
    m /= 2.0;
    ++e;
  }
  limb[0] = (uint32_t)m;
  for (k = 0; k < e; ++k) {
    uint32_t carry = 0;
    for (i = 0; i < nlimb; ++i) {
      uint64_t x = (uint64_t)limb[i] * 2u + carry;
      limb[i] = (uint32_t)(x % 1000000000u);
      carry = (uint32_t)(x / 1000000000u);
    }
    if (carry && nlimb < 6) limb[nlimb++] = carry;
  }
  pos = put_digits_u64(buf, cap, pos, limb[nlimb - 1]);
  for (i = nlimb - 2; i >= 0; --i) {
    char tmp[9];
    uint32_t v = limb[i];
    for (k = 8; k >= 0; --k) {
      tmp[k] = (char)('0' + (int)(v % 10u));
      v /= 10u;
    }
    for (k = 0; k < 9 && pos + 1 < cap; ++k) buf[pos++] = tmp[k];
  }
  return pos;
}

size_t edgeml_format_float3(char *buf, size_t cap, float v) {
  size_t pos = 0;
  float av;
  int neg;
  if (cap == 0) return 0;
  if (v != v) {
    const char *s = "nan";
    while (*s && pos + 1 < cap) buf[pos++] = *s++;
    buf[pos] = '\0';
    return pos;
  }
  {
    union { float f; uint32_t u; } bits;
    bits.f = v;
    neg = (bits.u >> 31) != 0u;
  }
  av = neg ? -v : v;
  if (neg && pos + 1 < cap) buf[pos++] = '-';
  if (av > 3.402823466e38f) {
    const char *s = "inf";
    while (*s && pos + 1 < cap) buf[pos++] = *s++;
    buf[pos] = '\0';
    return pos;
  }
  {
    /* av * 1000 is exact in a double (24 + 10 bits), so rounding is exact. */
    double x = (double)av * 1000.0;
    if (x < 9007199254740992.0) { /* 2^53 */
      uint64_t q = (uint64_t)x;
      double frac = x - (double)q;
      if (frac > 0.5 || (frac == 0.5 && (q & 1u))) ++q; /* round half to even */
      pos = put_digits_u64(buf, cap, pos, q / 1000u);
      if (pos + 5 <= cap) {
        uint32_t f = (uint32_t)(q % 1000u);
        buf[pos++] = '.';
        buf[pos++] = (char)('0' + (int)(f / 100u));
        buf[pos++] = (char)('0' + (int)(f / 10u % 10u));
        buf[pos++] = (char)('0' + (int)(f % 10u));
      }
    } else {
      pos = put_big_integer(buf, cap, pos, av);
      if (pos + 5 <= cap) {
        memcpy(buf + pos, ".000", 4);
        pos += 4;
      }
    }
  }
  buf[pos] = '\0';
  return pos;
}

/* ------------------------------------------------------------------ parsing helpers */
static int is_space(char c) { return c == ' ' || c == '\t'; }

/* next whitespace-separated token of *s (NUL-terminated line); returns its length */
static size_t token(const char **s, const char **tok) {
  const char *p = *s;
  size_t n = 0;
  while (is_space(*p)) ++p;
  *tok = p;
  while (p[n] && !is_space(p[n])) ++n;
  *s = p + n;
  return n;
}

static int tok_is(const char *tok, size_t n, const char *word) {
  return strlen(word) == n && memcmp(tok, word, n) == 0;
}

/* decimal, no sign, no overflow; 0 on success */
static int parse_dec(const char *tok, size_t n, size_t *out) {
  size_t v = 0, i;
  if (n == 0 || n > 10) return -1;
  for (i = 0; i < n; ++i) {
    if (tok[i] < '0' || tok[i] > '9') return -1;
    v = v * 10u + (size_t)(tok[i] - '0');
  }
  if (v > 0x7fffffffu) return -1;
  *out = v;
  return 0;
}

static int hex_val(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static int parse_hex32(const char *tok, size_t n, uint32_t *out) {
  uint32_t v = 0;
  size_t i;
  if (n != 8) return -1;
  for (i = 0; i < n; ++i) {
    int h = hex_val(tok[i]);
    if (h < 0) return -1;
    v = (v << 4) | (uint32_t)h;
  }
  *out = v;
  return 0;
}

static int at_end(const char *s) {
  while (is_space(*s)) ++s;
  return *s == '\0';
}

/* ------------------------------------------------------------------ state helpers */
static size_t runner_input_bytes(edgeml_dut_t *d) {
  return d->runner && d->runner->input_bytes ? d->runner->input_bytes(d->runner->ctx) : 0;
}

static const char *runner_info(edgeml_dut_t *d, const char *key) {
  return d->runner && d->runner->info ? d->runner->info(d->runner->ctx, key) : NULL;
}

static void unload(edgeml_dut_t *d) {
  d->model_loaded = 0;
  d->model_bytes = 0;
  d->model_crc = 0;
  d->results_valid = 0;
  d->profiled = 0;
  d->input_len = 0;
  d->input_expected = 0;
}

static void put_model_id(edgeml_dut_t *d) {
  if (d->model_loaded) {
    puts_(d, "edgeml-");
    put_hex32(d, d->model_crc);
  } else {
    puts_(d, "edgeml-none");
  }
}

static void put_got_of(edgeml_dut_t *d, size_t got, size_t n) {
  puts_(d, "got ");
  put_u64(d, got);
  puts_(d, " of ");
  put_u64(d, n);
  puts_(d, " bytes");
}

static void abort_transfer(edgeml_dut_t *d) {
  if (d->xfer == EDGEML_XFER_NONE) return;
  err_begin(d);
  puts_(d, d->xfer == EDGEML_XFER_MODEL ? "Model load aborted: " : "Input load aborted: ");
  put_got_of(d, d->xfer_got, d->xfer_expected);
  err_end(d);
  if (d->xfer == EDGEML_XFER_INPUT) {
    d->input_len = 0;
    d->input_expected = 0;
  }
  /* an aborted model load leaves the slot empty (it was being overwritten) */
  d->xfer = EDGEML_XFER_NONE;
}

/* runner load of bytes in memory; on failure writes the error into err */
static int do_load(edgeml_dut_t *d, const uint8_t *model, size_t n, char *err, size_t cap) {
  size_t in;
  err[0] = '\0';
  if (!d->runner || !d->runner->load) {
    strncpy(err, "this build has no model runner", cap - 1);
    err[cap - 1] = '\0';
    return -1;
  }
  if (d->runner->load(d->runner->ctx, model, n, err, cap) != 0) {
    err[cap - 1] = '\0';
    if (err[0] == '\0') strncpy(err, "the runner refused the model", cap - 1);
    return -1;
  }
  in = runner_input_bytes(d);
  if (in == 0 || in > d->input_cap) {
    /* report it through the caller: the board cannot take this model's input */
    return -2;
  }
  d->model_loaded = 1;
  d->model_bytes = n;
  d->model_crc = edgeml_crc32(0, model, n);
  return 0;
}

/* ------------------------------------------------------------------ commands */
static void cmd_name(edgeml_dut_t *d) {
  puts_(d, "m-name-dut-[");
  puts_(d, d->name ? d->name : "edgeml");
  put(d, "]", 1);
  eol(d);
}

static void cmd_profile(edgeml_dut_t *d) {
  line(d, "m-profile-[" PROFILE_ID "]");
  puts_(d, "m-model-[");
  put_model_id(d);
  put(d, "]", 1);
  eol(d);
}

static uint64_t now(edgeml_dut_t *d) {
  return d->port && d->port->micros ? d->port->micros(d->port->ctx) : 0;
}

static void pin(edgeml_dut_t *d) {
  if (d->port && d->port->timestamp_pin) d->port->timestamp_pin(d->port->ctx);
}

static void put_lap(edgeml_dut_t *d, uint64_t t) {
  puts_(d, "m-lap-us-");
  put_u64(d, t);
  eol(d);
}

static void cmd_timestamp(edgeml_dut_t *d) {
  uint64_t t;
  pin(d);
  t = now(d);
  put_lap(d, t);
}

static void cmd_db_load(edgeml_dut_t *d, const char *rest) {
  const char *tok;
  size_t n_tok = token(&rest, &tok), n = 0;
  if (parse_dec(tok, n_tok, &n) != 0 || n == 0 || !at_end(rest)) {
    err_line(d, "Bad db load: expected db load N with N a positive decimal byte count");
    return;
  }
  if (n > d->input_cap) {
    err_begin(d);
    puts_(d, "Input of ");
    put_u64(d, n);
    puts_(d, " bytes exceeds the input buffer of ");
    put_u64(d, d->input_cap);
    puts_(d, " bytes");
    err_end(d);
    return;
  }
  if (d->model_loaded && n != runner_input_bytes(d)) {
    err_begin(d);
    puts_(d, "Input must be ");
    put_u64(d, runner_input_bytes(d));
    puts_(d, " bytes for the loaded model, got db load ");
    put_u64(d, n);
    err_end(d);
    return;
  }
  d->xfer = EDGEML_XFER_INPUT;
  d->xfer_expected = n;
  d->xfer_got = 0;
  d->input_len = 0;
  d->input_expected = n;
  d->results_valid = 0;
  puts_(d, "m-[Expecting ");
  put_u64(d, n);
  puts_(d, " bytes]");
  eol(d);
}

static void put_model_line(edgeml_dut_t *d) {
  puts_(d, "m-model-[bytes=");
  put_u64(d, d->model_bytes);
  puts_(d, ",crc=");
  put_hex32(d, d->model_crc);
  puts_(d, ",input_bytes=");
  put_u64(d, runner_input_bytes(d));
  puts_(d, ",output_count=");
  put_u64(d, d->runner->output_count ? d->runner->output_count(d->runner->ctx) : 0);
  puts_(d, ",arena_used=");
  put_u64(d, d->runner->arena_used ? d->runner->arena_used(d->runner->ctx) : 0);
  put(d, "]", 1);
  eol(d);
}

static void finish_model_load(edgeml_dut_t *d) {
  char err[EDGEML_LINE_MAX];
  uint32_t crc = d->xfer_crc;
  size_t n = d->xfer_expected;
  int rc;
  d->xfer = EDGEML_XFER_NONE;
  if (crc != d->xfer_crc_expected) {
    err_begin(d);
    puts_(d, "Model checksum mismatch: got ");
    put_hex32(d, crc);
    puts_(d, ", expected ");
    put_hex32(d, d->xfer_crc_expected);
    err_end(d);
    return;
  }
  rc = do_load(d, d->slot, n, err, sizeof err);
  if (rc == -1) {
    err_line(d, err);
    return;
  }
  if (rc == -2) {
    size_t in = runner_input_bytes(d);
    err_begin(d);
    puts_(d, "Model input of ");
    put_u64(d, in);
    puts_(d, " bytes does not fit the input buffer of ");
    put_u64(d, d->input_cap);
    puts_(d, " bytes");
    err_end(d);
    return;
  }
  line(d, "m-load-done");
  put_model_line(d);
}

static void cmd_db_hex(edgeml_dut_t *d, const char *hex, size_t n) {
  size_t i, nbytes;
  uint8_t *dst;
  if (d->xfer == EDGEML_XFER_NONE) {
    err_line(d, "No load in progress: send db load N or model load N CRC first");
    return;
  }
  for (i = 0; i < n; ++i) {
    if (hex_val(hex[i]) < 0) {
      err_begin(d);
      puts_(d, "Bad hex: '");
      put_clean(d, hex + i, 1);
      puts_(d, "' at digit ");
      put_u64(d, i + 1);
      puts_(d, ", line ignored");
      err_end(d);
      return;
    }
  }
  if (n % 2u != 0 || n == 0) {
    err_begin(d);
    puts_(d, "Bad hex: ");
    put_u64(d, n);
    puts_(d, " digits, need an even number; line ignored");
    err_end(d);
    return;
  }
  nbytes = n / 2u;
  if (nbytes > d->xfer_expected - d->xfer_got) {
    err_begin(d);
    puts_(d, "Too many bytes: line has ");
    put_u64(d, nbytes);
    puts_(d, ", ");
    put_u64(d, d->xfer_expected - d->xfer_got);
    puts_(d, " left; line ignored");
    err_end(d);
    return;
  }
  dst = (d->xfer == EDGEML_XFER_MODEL ? d->slot : d->input) + d->xfer_got;
  for (i = 0; i < nbytes; ++i)
    dst[i] = (uint8_t)((hex_val(hex[2 * i]) << 4) | hex_val(hex[2 * i + 1]));
  if (d->xfer == EDGEML_XFER_MODEL) d->xfer_crc = edgeml_crc32(d->xfer_crc, dst, nbytes);
  d->xfer_got += nbytes;
  if (d->xfer == EDGEML_XFER_INPUT) d->input_len = d->xfer_got;
  if (d->xfer_got == d->xfer_expected) {
    if (d->xfer == EDGEML_XFER_INPUT) {
      d->xfer = EDGEML_XFER_NONE;
      line(d, "m-load-done");
    } else {
      finish_model_load(d);
    }
  }
}

static void cmd_db_print(edgeml_dut_t *d) {
  size_t i;
  for (i = 0; i < d->input_len; ++i) {
    char hx[2];
    if (i % BUFFER_PRINT_BYTES == 0) puts_(d, "m-buffer-[");
    hx[0] = HEX[d->input[i] >> 4];
    hx[1] = HEX[d->input[i] & 0xfu];
    put(d, hx, 2);
    if (i % BUFFER_PRINT_BYTES == BUFFER_PRINT_BYTES - 1 || i + 1 == d->input_len) {
      put(d, "]", 1);
      eol(d);
    }
  }
}

static void put_results(edgeml_dut_t *d) {
  size_t i, k = d->runner->output_count ? d->runner->output_count(d->runner->ctx) : 0;
  puts_(d, "m-results-[");
  for (i = 0; i < k; ++i) {
    char buf[64];
    size_t n = edgeml_format_float3(buf, sizeof buf, d->runner->output_float(d->runner->ctx, i));
    if (i) put(d, ",", 1);
    put(d, buf, n);
  }
  put(d, "]", 1);
  eol(d);
}

static int input_ready(edgeml_dut_t *d) {
  size_t need = runner_input_bytes(d);
  if (d->input_len == need && d->input_expected == need && d->xfer != EDGEML_XFER_INPUT)
    return 1;
  err_begin(d);
  puts_(d, "Input not loaded: ");
  put_got_of(d, d->input_expected == need ? d->input_len : 0, need);
  err_end(d);
  return 0;
}

static int run_once(edgeml_dut_t *d) {
  const edgeml_runner_t *r = d->runner;
  if (r->set_input && r->set_input(r->ctx, d->input, d->input_len) != 0) return -1;
  return r->invoke(r->ctx);
}

static void cmd_infer(edgeml_dut_t *d, const char *rest) {
  const char *tok;
  size_t n_tok, n = 1, w = 0, i;
  uint64_t t0, t1;
  n_tok = token(&rest, &tok);
  if (n_tok && (parse_dec(tok, n_tok, &n) != 0 || n == 0)) goto bad;
  n_tok = token(&rest, &tok);
  if (n_tok && parse_dec(tok, n_tok, &w) != 0) goto bad;
  if (!at_end(rest)) goto bad;
  if (!d->model_loaded) {
    err_line(d, "No model loaded: send model load N CRC first");
    return;
  }
  if (!d->runner->invoke || !d->runner->output_float) {
    err_line(d, "this build has no model runner");
    return;
  }
  if (!input_ready(d)) return;
  d->results_valid = 0;
  puts_(d, "m-warmup-start-");
  put_u64(d, w);
  eol(d);
  for (i = 0; i < w; ++i) {
    if (run_once(d) != 0) goto failed;
  }
  line(d, "m-warmup-done");
  puts_(d, "m-infer-start-");
  put_u64(d, n);
  eol(d);
  pin(d);
  t0 = now(d);
  for (i = 0; i < n; ++i) {
    if (run_once(d) != 0) goto failed;
  }
  t1 = now(d);
  pin(d);
  d->results_valid = 1;
  d->profiled = 1;
  put_lap(d, t0);
  put_lap(d, t1);
  line(d, "m-infer-done");
  put_results(d);
  return;
bad:
  err_line(d, "Bad infer: expected infer N W with N >= 1 runs and W >= 0 warm-up runs");
  return;
failed:
  err_line(d, "Invoke failed");
}

static void cmd_results(edgeml_dut_t *d) {
  if (!d->model_loaded || !d->results_valid) {
    err_line(d, "No results: run infer N W first");
    return;
  }
  put_results(d);
}

static void info_line(edgeml_dut_t *d, const char *key, const char *value) {
  puts_(d, "m-info-[");
  puts_(d, key);
  put(d, "=", 1);
  puts_(d, value);
  put(d, "]", 1);
  eol(d);
}

static void info_num(edgeml_dut_t *d, const char *key, uint64_t v) {
  puts_(d, "m-info-[");
  puts_(d, key);
  put(d, "=", 1);
  put_u64(d, v);
  put(d, "]", 1);
  eol(d);
}

static void cmd_edgeml(edgeml_dut_t *d) {
  const char *v;
  puts_(d, "m-edgeml-[");
  put_u64(d, EDGEML_PROTOCOL_VERSION);
  put(d, "]", 1);
  eol(d);
  v = runner_info(d, "tflm");
  info_line(d, "tflm", v ? v : "none");
  v = runner_info(d, "kernels");
  info_line(d, "kernels", v ? v : "none");
  info_num(d, "slot", d->slot ? d->slot_cap : 0);
  info_num(d, "input", d->input_cap);
  v = runner_info(d, "arena");
  info_line(d, "arena", v ? v : "0");
  if (d->model_loaded) {
    puts_(d, "m-info-[model=");
    put_model_id(d);
    put(d, "]", 1);
    eol(d);
  } else {
    info_line(d, "model", "none");
  }
  v = runner_info(d, "timer");
  info_line(d, "timer", v ? v : d->timer_kind);
  info_num(d, "line", EDGEML_LINE_MAX);
}

static void cmd_model_load(edgeml_dut_t *d, const char *rest) {
  const char *tok;
  size_t n_tok, n = 0;
  uint32_t crc = 0;
  n_tok = token(&rest, &tok);
  if (parse_dec(tok, n_tok, &n) != 0 || n == 0) goto bad;
  n_tok = token(&rest, &tok);
  if (parse_hex32(tok, n_tok, &crc) != 0 || !at_end(rest)) goto bad;
  if (!d->slot || n > d->slot_cap) {
    err_begin(d);
    puts_(d, "Model of ");
    put_u64(d, n);
    puts_(d, " bytes exceeds the slot of ");
    put_u64(d, d->slot ? d->slot_cap : 0);
    puts_(d, " bytes");
    err_end(d);
    return;
  }
  unload(d); /* the slot is about to be overwritten */
  d->xfer = EDGEML_XFER_MODEL;
  d->xfer_expected = n;
  d->xfer_got = 0;
  d->xfer_crc = 0;
  d->xfer_crc_expected = crc;
  puts_(d, "m-[Expecting ");
  put_u64(d, n);
  puts_(d, " bytes]");
  eol(d);
  return;
bad:
  err_line(d, "Bad model load: expected model load N CRC with N decimal bytes and CRC 8 hex digits");
}

static void cmd_arena(edgeml_dut_t *d) {
  size_t used, min;
  if (!d->model_loaded) {
    err_line(d, "No model loaded: send model load N CRC first");
    return;
  }
  used = d->runner->arena_used ? d->runner->arena_used(d->runner->ctx) : 0;
  min = d->runner->arena_min ? d->runner->arena_min(d->runner->ctx) : 0;
  /* the bisection ran other interpreters: the last outputs and profile are gone */
  d->results_valid = 0;
  puts_(d, "m-arena-used-[");
  put_u64(d, used);
  put(d, "]", 1);
  eol(d);
  if (min == 0) {
    err_line(d, "Arena bisection failed: no arena up to the full buffer allocates and invokes");
    return;
  }
  puts_(d, "m-arena-min-[");
  put_u64(d, min);
  put(d, "]", 1);
  eol(d);
}

static void cmd_ops(edgeml_dut_t *d) {
  size_t i, k;
  uint64_t total = 0;
  const edgeml_runner_t *r = d->runner;
  k = d->model_loaded && d->profiled && r->op_count ? r->op_count(r->ctx) : 0;
  if (k == 0 || !r->op_profile) {
    err_line(d, "No inference profiled yet");
    return;
  }
  for (i = 0; i < k; ++i) {
    char name[48];
    uint32_t us = 0;
    name[0] = '\0';
    if (r->op_profile(r->ctx, i, name, sizeof name, &us) != 0) continue;
    name[sizeof name - 1] = '\0';
    total += us;
    puts_(d, "m-op-[");
    put_u64(d, i);
    put(d, ",", 1);
    puts_(d, name);
    put(d, ",", 1);
    put_u64(d, us);
    put(d, "]", 1);
    eol(d);
  }
  puts_(d, "m-op-total-us-[");
  put_u64(d, total);
  put(d, "]", 1);
  eol(d);
}

static void unknown(edgeml_dut_t *d, const char *cmd) {
  err_begin(d);
  puts_(d, "Unknown command: ");
  put_clean(d, cmd, strlen(cmd));
  err_end(d);
}

static void dispatch(edgeml_dut_t *d, const char *cmd) {
  const char *rest = cmd, *tok;
  size_t n = token(&rest, &tok);
  if (tok_is(tok, n, "db")) {
    const char *rest2 = rest, *tok2;
    size_t n2 = token(&rest2, &tok2);
    if (tok_is(tok2, n2, "load")) {
      abort_transfer(d);
      cmd_db_load(d, rest2);
    } else if (tok_is(tok2, n2, "print")) {
      abort_transfer(d);
      if (at_end(rest2)) cmd_db_print(d);
      else unknown(d, cmd);
    } else if (n2 > 0 && at_end(rest2)) {
      cmd_db_hex(d, tok2, n2);
    } else {
      abort_transfer(d);
      err_line(d, "Bad db: expected db load N, db print or db HEX");
    }
    ready(d);
    return;
  }
  abort_transfer(d);
  if (n == 0) {
    unknown(d, cmd);
  } else if (tok_is(tok, n, "name") && at_end(rest)) {
    cmd_name(d);
  } else if (tok_is(tok, n, "profile") && at_end(rest)) {
    cmd_profile(d);
  } else if (tok_is(tok, n, "timestamp") && at_end(rest)) {
    cmd_timestamp(d);
  } else if (tok_is(tok, n, "infer")) {
    cmd_infer(d, rest);
  } else if (tok_is(tok, n, "results") && at_end(rest)) {
    cmd_results(d);
  } else if (tok_is(tok, n, "edgeml") && at_end(rest)) {
    cmd_edgeml(d);
  } else if (tok_is(tok, n, "arena") && at_end(rest)) {
    cmd_arena(d);
  } else if (tok_is(tok, n, "ops") && at_end(rest)) {
    cmd_ops(d);
  } else if (tok_is(tok, n, "model")) {
    const char *rest2 = rest, *tok2;
    size_t n2 = token(&rest2, &tok2);
    if (tok_is(tok2, n2, "load")) cmd_model_load(d, rest2);
    else unknown(d, cmd);
  } else {
    unknown(d, cmd);
  }
  ready(d);
}

/* ------------------------------------------------------------------ public API */
size_t edgeml_dut_size(void) { return sizeof(edgeml_dut_t); }

void edgeml_dut_init(edgeml_dut_t *dut, const edgeml_port_t *port, const edgeml_runner_t *runner,
                     uint8_t *model_slot, size_t slot_cap, uint8_t *input_buf, size_t input_cap,
                     const char *name) {
  memset(dut, 0, sizeof *dut);
  dut->port = port;
  dut->runner = runner;
  dut->slot = model_slot;
  dut->slot_cap = model_slot ? slot_cap : 0;
  dut->input = input_buf;
  dut->input_cap = input_buf ? input_cap : 0;
  dut->name = name;
  dut->timer_kind = "device";
}

void edgeml_dut_set_timer_kind(edgeml_dut_t *dut, const char *kind) {
  dut->timer_kind = kind ? kind : "device";
}

int edgeml_dut_load_model(edgeml_dut_t *dut, const uint8_t *model, size_t n) {
  char err[EDGEML_LINE_MAX];
  unload(dut);
  if (!model || n == 0) return -1;
  return do_load(dut, model, n, err, sizeof err) == 0 ? 0 : -1;
}

void edgeml_dut_boot(edgeml_dut_t *dut) {
  line(dut, "m-timestamp-mode-performance");
  line(dut, "m-init-done");
  ready(dut);
}

void edgeml_dut_feed(edgeml_dut_t *dut, const uint8_t *bytes, size_t n) {
  size_t i;
  for (i = 0; i < n; ++i) {
    char c = (char)bytes[i];
    if (c == '\r' || c == '\n' || c == '\0') continue;
    if (c != '%') {
      if (dut->line_len < EDGEML_LINE_MAX) dut->line[dut->line_len++] = c;
      else dut->line_overflow = 1;
      continue;
    }
    dut->line[dut->line_len] = '\0';
    if (dut->line_overflow) {
      abort_transfer(dut);
      err_line(dut, "Command too long");
      ready(dut);
    } else {
      dispatch(dut, dut->line);
    }
    dut->line_len = 0;
    dut->line_overflow = 0;
  }
}
