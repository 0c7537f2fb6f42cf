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
 *
 * execv: `lanboot start` re-executes node with the V8 heap flags it needs
 * (src/node-flags.ts), which only take effect at start-up. Node 20 has no
 * process.execve; a child process would leave the parent's ~40 MB behind, and
 * systemd/procd watch this PID.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>
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

/* execv(path, argv): replaces the process (same PID, environment, open descriptors); returns only by throwing. */
static napi_value exec_v(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value args[2];
  CHECK(napi_get_cb_info(env, info, &argc, args, NULL, NULL));
  if (argc < 2) {
    napi_throw_type_error(env, NULL, "execv(path, argv)");
    return NULL;
  }
  uint32_t n;
  CHECK(napi_get_array_length(env, args[1], &n));
  char **argv = calloc((size_t)n + 1, sizeof *argv);
  char *path = NULL;
  size_t len;
  if (!argv) return throw_errno(env, "execv", ENOMEM);
  int ok = napi_get_value_string_utf8(env, args[0], NULL, 0, &len) == napi_ok && (path = malloc(len + 1)) &&
           napi_get_value_string_utf8(env, args[0], path, len + 1, &len) == napi_ok;
  for (uint32_t i = 0; ok && i < n; i++) {
    napi_value v;
    ok = napi_get_element(env, args[1], i, &v) == napi_ok && napi_get_value_string_utf8(env, v, NULL, 0, &len) == napi_ok &&
         (argv[i] = malloc(len + 1)) && napi_get_value_string_utf8(env, v, argv[i], len + 1, &len) == napi_ok;
  }
  int err = EINVAL;
  if (ok) {
    /* Node marks its stdio close-on-exec; the new image must get them. */
    int fl[3];
    for (int fd = 0; fd < 3; fd++)
      if ((fl[fd] = fcntl(fd, F_GETFD)) >= 0) fcntl(fd, F_SETFD, fl[fd] & ~FD_CLOEXEC);
    execv(path, argv);
    err = errno;
    for (int fd = 0; fd < 3; fd++)
      if (fl[fd] >= 0) fcntl(fd, F_SETFD, fl[fd]);
  }
  for (uint32_t i = 0; i < n; i++) free(argv[i]);
  free(argv);
  free(path);
  return throw_errno(env, "execv", err);
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  CHECK(napi_create_function(env, "dropBoundingSet", NAPI_AUTO_LENGTH, drop_bounding_set, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "dropBoundingSet", fn));
  CHECK(napi_create_function(env, "setNoNewPrivs", NAPI_AUTO_LENGTH, set_no_new_privs, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "setNoNewPrivs", fn));
  CHECK(napi_create_function(env, "execv", NAPI_AUTO_LENGTH, exec_v, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "execv", fn));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
