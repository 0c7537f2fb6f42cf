/*
 * lanboot_caps: the two prctl(2) calls Node does not offer, used by the
 * privilege drop (src/privileges.ts).
 *
 * After setuid() to an ordinary user the process has no capabilities, but the
 * capability bounding set survives: a child (the reset hook) that executes a
 * set-uid or file-capability program could still gain any of them. Emptying
 * the bounding set needs CAP_SETPCAP, so it happens while still root;
 * no_new_privs then keeps execve() from granting anything at all.
 *
 * Both are per-thread attributes inherited by children and new threads: call
 * them on the JS (loop) thread, the one that forks child processes.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <linux/capability.h>

#define CHECK(call) do { if ((call) != napi_ok) return NULL; } while (0)

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_throw_error(env, NULL, msg);
  return NULL;
}

/* Drop every capability from the bounding set; returns how many the kernel knows. */
static napi_value drop_bounding_set(napi_env env, napi_callback_info info) {
  int cap;
  /* The kernel may know more caps than our headers: go on until it says EINVAL. */
  for (cap = 0;; cap++) {
    if (prctl(PR_CAPBSET_READ, (unsigned long)cap, 0, 0, 0) < 0) {
      if (errno == EINVAL) break;
      return throw_errno(env, "PR_CAPBSET_READ", errno);
    }
    if (prctl(PR_CAPBSET_DROP, (unsigned long)cap, 0, 0, 0) < 0) return throw_errno(env, "PR_CAPBSET_DROP", errno);
  }
  napi_value n;
  CHECK(napi_create_int32(env, cap, &n));
  return n;
}

static napi_value set_no_new_privs(napi_env env, napi_callback_info info) {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return throw_errno(env, "PR_SET_NO_NEW_PRIVS", errno);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  CHECK(napi_create_function(env, "dropBoundingSet", NAPI_AUTO_LENGTH, drop_bounding_set, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "dropBoundingSet", fn));
  CHECK(napi_create_function(env, "setNoNewPrivs", NAPI_AUTO_LENGTH, set_no_new_privs, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "setNoNewPrivs", fn));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
