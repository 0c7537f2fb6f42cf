/* See napi_util.h. */
#include "napi_util.h"
#include <uv.h>
#include <stdio.h>
#include <string.h>

napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  const char *name = uv_err_name(uv_translate_sys_error(err));
  snprintf(msg, sizeof msg, "%s: %s (%s)", what, strerror(err), name);
  napi_value code, text, e, num;
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
  napi_create_error(env, code, text, &e);
  napi_create_int32(env, -err, &num);
  napi_set_named_property(env, e, "errno", num);
  napi_throw(env, e);
  return NULL;
}

napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

int get_num(napi_env env, napi_value v, int64_t lo, int64_t hi, int64_t *out) {
  napi_valuetype t;
  double d;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) return 0;
  napi_get_value_double(env, v, &d);
  if (d != d || d < (double)lo || d > (double)hi || d != (double)(int64_t)d) return 0;
  *out = (int64_t)d;
  return 1;
}

void set_u32(napi_env env, napi_value obj, const char *name, uint32_t v) {
  napi_value x;
  napi_create_uint32(env, v, &x);
  napi_set_named_property(env, obj, name, x);
}

void *unwrap_this(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv, const char *what) {
  napi_value self;
  void *p = NULL;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok || napi_unwrap(env, self, &p) != napi_ok || !p) {
    char msg[64];
    snprintf(msg, sizeof msg, "not a %s", what);
    throw_type(env, msg);
    return NULL;
  }
  return p;
}

int call_js(napi_env env, napi_value cb, size_t argc, napi_value *argv) {
  napi_value undef, err;
  napi_get_undefined(env, &undef);
  if (napi_call_function(env, undef, cb, argc, argv, NULL) != napi_pending_exception) return 1;
  napi_get_and_clear_last_exception(env, &err);
  napi_fatal_exception(env, err);
  return 0;
}
