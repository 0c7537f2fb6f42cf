/*
 * Small N-API helpers shared by the addons (errors with errno codes like
 * Node's own, argument checks, calling back into JS from a libuv callback).
 */
#ifndef LANBOOT_NAPI_UTIL_H
#define LANBOOT_NAPI_UTIL_H
#define NAPI_VERSION 8
#include <node_api.h>
#include <stdint.h>

/* Throw an Error whose code is the errno name (EPERM...) and errno is -err; returns NULL. */
napi_value throw_errno(napi_env env, const char *what, int err);
/* Throw a TypeError ERR_INVALID_ARG_TYPE; returns NULL. */
napi_value throw_type(napi_env env, const char *msg);
/* Integer argument in [lo, hi]; 0 if not a number, not an integer or out of range. */
int get_num(napi_env env, napi_value v, int64_t lo, int64_t hi, int64_t *out);
void set_u32(napi_env env, napi_value obj, const char *name, uint32_t v);
/* The object a method was called on, as napi_wrap stored it; NULL after a TypeError "not a <what>". */
void *unwrap_this(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv, const char *what);
/* Call cb(...argv) from a libuv callback; 0 when it threw (surfaced as an uncaught exception). */
int call_js(napi_env env, napi_value cb, size_t argc, napi_value *argv);

#endif
