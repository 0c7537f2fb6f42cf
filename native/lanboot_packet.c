/*
 * lanboot_packet: AF_PACKET raw sockets for Node.js (N-API, C).
 *
 * Node has no link-layer sockets; RPL (802.3/LLC) and DHCP replies to
 * clients without an address need them. This addon only moves frames:
 * open/bind, classic BPF, multicast membership, send, and frames delivered
 * through a libuv poll on the loop thread. Policy lives in src/net/packet.ts.
 * The same addon carries the batched UDP socket of lanboot_udp.c.
 */
#include "napi_util.h"
#include "lanboot_udp.h"
#include <uv.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <linux/filter.h>
#include <linux/if_packet.h>

#define RXBUF 65536      /* veth GRO can hand us frames larger than the MTU */
/* Frames handed to JS per wake-up. The poll is level-triggered and fires again
 * on the next loop iteration; in between, the callback scope closes (promise
 * continuations run: replies leave), and timers, other sockets and file
 * system completions get their turn. 4096 here held the loop for 300 ms. */
#define MAX_PER_WAKE 64
#define MAX_READS_PER_WAKE 4096

typedef struct {
  int fd, ifindex;
  int in_cb, finalized, handle_closed, napi_released;
  uv_poll_t poll;
  napi_env env;
  napi_ref self, cb;
  napi_async_context actx;
  napi_async_cleanup_hook_handle teardown;
  unsigned char *rx;
  int64_t max_age_ns; /* > 0: frames that waited longer in the kernel are dropped unread by JS */
} Sock;

#define CHECK(call) do { if ((call) != napi_ok) return NULL; } while (0)

static int get_ifname(napi_env env, napi_value v, char *out) {
  size_t n = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &n) != napi_ok || n == 0 || n >= IFNAMSIZ) return 0;
  return napi_get_value_string_utf8(env, v, out, IFNAMSIZ, &n) == napi_ok;
}

/* SO_ATTACH_FILTER from [{code,jt,jf,k}]; kernel verifies the program. */
static napi_value attach_filter(napi_env env, int fd, napi_value arr) {
  uint32_t n = 0, i;
  bool isarr = false;
  napi_is_array(env, arr, &isarr);
  if (!isarr) return throw_type(env, "filter must be an array of {code,jt,jf,k}");
  napi_get_array_length(env, arr, &n);
  if (n == 0 || n > BPF_MAXINSNS) return throw_type(env, "filter length must be 1..4096");
  struct sock_filter *ins = calloc(n, sizeof *ins);
  if (!ins) return throw_errno(env, "filter", ENOMEM);
  for (i = 0; i < n; i++) {
    napi_value el, f[4];
    int64_t v[4];
    static const char *names[4] = {"code", "jt", "jf", "k"};
    static const int64_t hi[4] = {0xffff, 0xff, 0xff, 0xffffffffLL};
    napi_valuetype t;
    if (napi_get_element(env, arr, i, &el) != napi_ok || napi_typeof(env, el, &t) != napi_ok ||
        t != napi_object) { free(ins); return throw_type(env, "filter element must be an object"); }
    for (int j = 0; j < 4; j++) {
      if (napi_get_named_property(env, el, names[j], &f[j]) != napi_ok ||
          !get_num(env, f[j], j == 3 ? -0x80000000LL : 0, hi[j], &v[j])) {
        free(ins);
        return throw_type(env, "filter element needs integer code(u16) jt(u8) jf(u8) k(u32)");
      }
    }
    ins[i] = (struct sock_filter){(uint16_t)v[0], (uint8_t)v[1], (uint8_t)v[2], (uint32_t)v[3]};
  }
  struct sock_fprog prog = {(unsigned short)n, ins};
  int rc = setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog);
  free(ins);
  if (rc < 0) return throw_errno(env, "setsockopt(SO_ATTACH_FILTER)", errno);
  napi_value undef;
  napi_get_undefined(env, &undef);
  return undef;
}

/* Drop the JS references; deferred while a frame callback is on the stack. */
static void release_napi(Sock *s) {
  if (s->napi_released) return;
  s->napi_released = 1;
  napi_delete_reference(s->env, s->cb);
  napi_reference_unref(s->env, s->self, NULL);
  napi_async_destroy(s->env, s->actx);
}

static void on_poll_closed(uv_handle_t *h) {
  Sock *s = h->data;
  s->handle_closed = 1;
  napi_remove_async_cleanup_hook(s->teardown); /* lets env teardown (and addon unload) proceed */
  if (s->finalized) { free(s->rx); free(s); }
}

static void sock_close(Sock *s) {
  if (s->fd < 0) return;
  uv_close((uv_handle_t *)&s->poll, on_poll_closed); /* removes fd from epoll first */
  close(s->fd);
  s->fd = -1;
}

/* Worker exit with the socket open: close it before Node unloads this addon,
 * or libuv would later call on_poll_closed in unmapped code. */
static void on_teardown(napi_async_cleanup_hook_handle handle, void *arg) {
  Sock *s = arg;
  (void)handle;
  sock_close(s); /* on_poll_closed removes the hook; already closing: it will too */
}

static void on_readable(uv_poll_t *h, int status, int events) {
  Sock *s = h->data;
  napi_env env = s->env;
  napi_handle_scope hs;
  napi_callback_scope cs;
  napi_value self, cb, argv[4];
  (void)events;
  uint32_t stale = 0;
  int64_t now_ns = 0;
  if (s->fd < 0) return;
  if (s->max_age_ns > 0) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts); /* SO_TIMESTAMPNS stamps are CLOCK_REALTIME */
    now_ns = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
  }
  napi_open_handle_scope(env, &hs);
  napi_get_reference_value(env, s->self, &self);
  napi_open_callback_scope(env, self, s->actx, &cs);
  s->in_cb = 1;
  if (status < 0) {
    /* POLLERR: ENETDOWN when the link went down (the kernel rebinds the socket
     * when it comes back), ENODEV when it was deleted. libuv stopped the poll;
     * clear the error, keep listening, and tell JS as onFrame(null, errno). */
    int err = 0;
    socklen_t l = sizeof err;
    getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &l);
    uv_poll_start(&s->poll, UV_READABLE, on_readable);
    napi_get_null(env, &argv[0]);
    napi_create_uint32(env, (uint32_t)err, &argv[1]);
    napi_get_reference_value(env, s->cb, &cb);
    if (err) call_js(env, cb, 2, argv);
  }
  /* Stale and outgoing frames cost a recvmsg only: more of them may be read per wake. */
  for (int delivered = 0, reads = 0; delivered < MAX_PER_WAKE && reads < MAX_READS_PER_WAKE && s->fd >= 0 && status >= 0; reads++) {
    struct sockaddr_ll from;
    union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(struct tpacket_auxdata)) + CMSG_SPACE(sizeof(struct timespec))]; } ctl;
    struct iovec iov = {s->rx, RXBUF};
    struct msghdr msg = {&from, sizeof from, &iov, 1, ctl.buf, sizeof ctl.buf, 0};
    ssize_t n = recvmsg(s->fd, &msg, MSG_TRUNC);
    if (n < 0) break; /* EAGAIN: drained; ENETDOWN comes back as POLLERR above */
    if (from.sll_pkttype == PACKET_OUTGOING || n > RXBUF) continue;
    /* tp_status tells JS whether the L4 checksum is still partial (veth, local
     * senders) and whether a VLAN tag was stripped off the frame. */
    uint32_t nums[3] = {from.sll_pkttype, 0, 0};
    int64_t rx_ns = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_AUXDATA) {
        struct tpacket_auxdata aux;
        memcpy(&aux, CMSG_DATA(c), sizeof aux);
        nums[1] = aux.tp_status;
        nums[2] = aux.tp_vlan_tci;
      } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
        struct timespec ts;
        memcpy(&ts, CMSG_DATA(c), sizeof ts);
        rx_ns = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
      }
    }
    /* Waited too long in the receive queue (the loop was busy): its sender has
     * given up or retransmitted; answering it only delays the fresh ones. */
    if (rx_ns > 0 && now_ns - rx_ns > s->max_age_ns) { stale++; continue; }
    napi_handle_scope fs;
    napi_open_handle_scope(env, &fs);
    napi_create_buffer_copy(env, (size_t)n, s->rx, NULL, &argv[0]);
    for (int k = 0; k < 3; k++) napi_create_uint32(env, nums[k], &argv[k + 1]);
    napi_get_reference_value(env, s->cb, &cb);
    int ok = call_js(env, cb, 4, argv);
    napi_close_handle_scope(env, fs);
    if (!ok) break;
    delivered++;
  }
  if (stale && s->fd >= 0) {
    /* onFrame(null, 0, n): n frames dropped for their age */
    napi_get_null(env, &argv[0]);
    napi_create_uint32(env, 0, &argv[1]);
    napi_create_uint32(env, stale, &argv[2]);
    napi_get_reference_value(env, s->cb, &cb);
    call_js(env, cb, 3, argv);
  }
  s->in_cb = 0;
  napi_close_callback_scope(env, cs);
  napi_close_handle_scope(env, hs);
  if (s->fd < 0) release_napi(s);
}

static void finalize(napi_env env, void *data, void *hint) {
  Sock *s = data;
  (void)hint;
  s->finalized = 1;
  sock_close(s); /* only at env teardown: an open socket holds a strong ref */
  napi_delete_reference(env, s->self); /* napi_wrap's reference is ours to delete */
  if (s->handle_closed) { free(s->rx); free(s); }
}

static Sock *unwrap_open(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  Sock *s = unwrap_this(env, info, argc, argv, "packet socket");
  if (!s) return NULL;
  if (s->fd < 0) { throw_errno(env, "socket is closed", EBADF); return NULL; }
  return s;
}

/* new Socket(ifname, protocol, rcvbuf, filter|null, onFrame(buf, pktType, tpStatus, vlanTci), maxAgeMs?)
 * onFrame(null, errno) reports a link error (ENETDOWN, ENODEV); onFrame(null, 0, n)
 * that n frames older than maxAgeMs (0 = no limit) were dropped. */
static napi_value sock_new(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6], self;
  char ifname[IFNAMSIZ];
  int64_t proto, rcvbuf, max_age_ms = 0;
  napi_valuetype t;
  napi_value target;
  CHECK(napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  if (napi_get_new_target(env, info, &target) != napi_ok || !target) return throw_type(env, "Socket must be called with new");
  if (argc < 5 || !get_ifname(env, argv[0], ifname)) return throw_type(env, "ifname must be a non-empty string shorter than 16");
  if (!get_num(env, argv[1], 0, 0xffff, &proto)) return throw_type(env, "protocol must be an integer 0..65535");
  if (!get_num(env, argv[2], 0, 0x7fffffff, &rcvbuf)) return throw_type(env, "rcvbuf must be a non-negative integer");
  napi_typeof(env, argv[4], &t);
  if (t != napi_function) return throw_type(env, "onFrame must be a function");
  if (argc >= 6 && !get_num(env, argv[5], 0, 3600000, &max_age_ms)) return throw_type(env, "maxAgeMs must be an integer 0..3600000");
  unsigned ifindex = if_nametoindex(ifname);
  if (!ifindex) return throw_errno(env, ifname, errno);
  /* Protocol 0 receives nothing until bind(), so the filter is in place before the first frame. */
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), v = (int)rcvbuf, one = 1;
  const char *what = "socket(AF_PACKET)";
  if (fd < 0) return throw_errno(env, what, errno);
  what = "setsockopt(SO_RCVBUF)";
  if (v > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof v) < 0 &&
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v) < 0) goto fail;
  what = "setsockopt(PACKET_AUXDATA)";
  if (setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof one) < 0) goto fail;
  what = "setsockopt(SO_TIMESTAMPNS)";
  if (max_age_ms > 0 && setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) < 0) goto fail;
#ifdef PACKET_IGNORE_OUTGOING
  setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one); /* best effort, Linux >= 4.20 */
#endif
  napi_typeof(env, argv[3], &t);
  if (t != napi_null && t != napi_undefined && !attach_filter(env, fd, argv[3])) { close(fd); return NULL; }
  struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons((uint16_t)proto), .sll_ifindex = (int)ifindex};
  what = "bind(AF_PACKET)";
  if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) goto fail;
  Sock *s = calloc(1, sizeof *s);
  unsigned char *rx = malloc(RXBUF);
  uv_loop_t *loop;
  if (!s || !rx) { free(s); free(rx); close(fd); return throw_errno(env, "alloc", ENOMEM); }
  s->fd = fd; s->ifindex = (int)ifindex; s->env = env; s->rx = rx;
  s->max_age_ns = max_age_ms * 1000000LL;
  napi_value name;
  napi_create_string_utf8(env, "lanboot:packet", NAPI_AUTO_LENGTH, &name);
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || uv_poll_init(loop, &s->poll, fd) != 0) {
    free(s); free(rx); close(fd); return throw_errno(env, "uv_poll_init", EINVAL);
  }
  s->poll.data = s;
  napi_wrap(env, self, s, finalize, NULL, &s->self);
  napi_reference_ref(env, s->self, NULL); /* keep alive while open */
  napi_create_reference(env, argv[4], 1, &s->cb);
  napi_async_init(env, self, name, &s->actx);
  napi_add_async_cleanup_hook(env, on_teardown, s, &s->teardown);
  uv_poll_start(&s->poll, UV_READABLE, on_readable);
  return self;
fail:;
  int e = errno;
  close(fd);
  return throw_errno(env, what, e);
}

static napi_value sock_send(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  Sock *s = unwrap_open(env, info, &argc, argv);
  void *data; size_t len; bool isbuf = false;
  if (!s) return NULL;
  if (argc < 1 || napi_is_buffer(env, argv[0], &isbuf) != napi_ok || !isbuf) return throw_type(env, "frame must be a Buffer");
  napi_get_buffer_info(env, argv[0], &data, &len);
  if (len < 14) return throw_type(env, "frame shorter than an Ethernet header");
  struct sockaddr_ll to = {.sll_family = AF_PACKET, .sll_ifindex = s->ifindex, .sll_halen = 6};
  memcpy(to.sll_addr, data, 6);
  if (sendto(s->fd, data, len, 0, (struct sockaddr *)&to, sizeof to) < 0) return throw_errno(env, "sendto", errno);
  return NULL;
}

static napi_value sock_set_filter(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  Sock *s = unwrap_open(env, info, &argc, argv);
  return s ? attach_filter(env, s->fd, argv[0]) : NULL;
}

/* membership(add: boolean, type: PACKET_MR_*, mac: Buffer|null) */
static napi_value sock_membership(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  Sock *s = unwrap_open(env, info, &argc, argv);
  bool add = false, isbuf = false;
  int64_t type;
  if (!s) return NULL;
  if (argc < 3 || napi_get_value_bool(env, argv[0], &add) != napi_ok) return throw_type(env, "add must be a boolean");
  if (!get_num(env, argv[1], 0, 3, &type)) return throw_type(env, "type must be a PACKET_MR_* value");
  struct packet_mreq mr = {.mr_ifindex = s->ifindex, .mr_type = (unsigned short)type};
  if (type == PACKET_MR_MULTICAST) {
    void *mac; size_t len;
    if (napi_is_buffer(env, argv[2], &isbuf) != napi_ok || !isbuf) return throw_type(env, "mac must be a Buffer");
    napi_get_buffer_info(env, argv[2], &mac, &len);
    if (len != 6) return throw_type(env, "mac must be 6 bytes");
    mr.mr_alen = 6;
    memcpy(mr.mr_address, mac, 6);
  }
  if (setsockopt(s->fd, SOL_PACKET, add ? PACKET_ADD_MEMBERSHIP : PACKET_DROP_MEMBERSHIP, &mr, sizeof mr) < 0)
    return throw_errno(env, "setsockopt(PACKET_MEMBERSHIP)", errno);
  return NULL;
}

/* stats() -> {packets, drops, rcvbuf}; the kernel resets the counters on every read. */
static napi_value sock_stats(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Sock *s = unwrap_open(env, info, &argc, NULL);
  struct tpacket_stats st;
  socklen_t l = sizeof st;
  napi_value o;
  if (!s) return NULL;
  if (getsockopt(s->fd, SOL_PACKET, PACKET_STATISTICS, &st, &l) < 0) return throw_errno(env, "getsockopt(PACKET_STATISTICS)", errno);
  int rb = 0;
  l = sizeof rb;
  getsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &rb, &l);
  CHECK(napi_create_object(env, &o));
  set_u32(env, o, "packets", st.tp_packets);
  set_u32(env, o, "drops", st.tp_drops);
  set_u32(env, o, "rcvbuf", (uint32_t)rb);
  return o;
}

/* close(): idempotent; no frame callback runs after it returns. */
static napi_value sock_close_js(napi_env env, napi_callback_info info) {
  Sock *s = unwrap_this(env, info, NULL, NULL, "packet socket");
  if (!s || s->fd < 0) return NULL;
  sock_close(s);
  if (!s->in_cb) release_napi(s);
  return NULL;
}

/* attachFilter(fd, filter): SO_ATTACH_FILTER on a socket opened elsewhere (a
 * dgram socket's fd), replacing its program atomically. */
static napi_value attach_filter_fd(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int64_t fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || !get_num(env, argv[0], 0, 0x7fffffff, &fd)) return throw_type(env, "fd must be a non-negative integer");
  return attach_filter(env, (int)fd, argv[1]);
}

/* setRcvbuf(fd, bytes) -> effective SO_RCVBUF: SO_RCVBUFFORCE (root, CAP_NET_ADMIN)
 * passes net.core.rmem_max; without it, SO_RCVBUF (capped there). */
static napi_value set_rcvbuf_fd(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], out;
  int64_t fd, bytes;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || !get_num(env, argv[0], 0, 0x7fffffff, &fd)) return throw_type(env, "fd must be a non-negative integer");
  if (!get_num(env, argv[1], 0, 0x3fffffff, &bytes)) return throw_type(env, "bytes must be an integer");
  int v = (int)bytes, rb = 0;
  socklen_t l = sizeof rb;
  if (setsockopt((int)fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof v) < 0 &&
      setsockopt((int)fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v) < 0) return throw_errno(env, "setsockopt(SO_RCVBUF)", errno);
  getsockopt((int)fd, SOL_SOCKET, SO_RCVBUF, &rb, &l);
  napi_create_int32(env, rb, &out);
  return out;
}

/* ifInfo(ifname) -> {ifindex, mtu, mac: Buffer} via SIOCGIFINDEX/MTU/HWADDR */
static napi_value if_info(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], o, v;
  struct ifreq ifr;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  memset(&ifr, 0, sizeof ifr);
  if (argc < 1 || !get_ifname(env, argv[0], ifr.ifr_name)) return throw_type(env, "ifname must be a non-empty string shorter than 16");
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ifindex, mtu, e = 0;
  const char *what = ifr.ifr_name;
  if (fd < 0) return throw_errno(env, "socket", errno);
  if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0) e = errno;
  ifindex = ifr.ifr_ifindex;
  if (!e && ioctl(fd, SIOCGIFMTU, &ifr) < 0) { e = errno; what = "SIOCGIFMTU"; }
  mtu = ifr.ifr_mtu;
  if (!e && ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) { e = errno; what = "SIOCGIFHWADDR"; }
  close(fd);
  if (e) return throw_errno(env, what, e);
  CHECK(napi_create_object(env, &o));
  set_u32(env, o, "ifindex", (uint32_t)ifindex);
  set_u32(env, o, "mtu", (uint32_t)mtu);
  napi_create_buffer_copy(env, 6, ifr.ifr_hwaddr.sa_data, NULL, &v);
  napi_set_named_property(env, o, "mac", v);
  return o;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
    {"send", NULL, sock_send, NULL, NULL, NULL, napi_default, NULL},
    {"setFilter", NULL, sock_set_filter, NULL, NULL, NULL, napi_default, NULL},
    {"membership", NULL, sock_membership, NULL, NULL, NULL, napi_default, NULL},
    {"stats", NULL, sock_stats, NULL, NULL, NULL, napi_default, NULL},
    {"close", NULL, sock_close_js, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value cls, fn;
  CHECK(napi_define_class(env, "Socket", NAPI_AUTO_LENGTH, sock_new, NULL, 5, methods, &cls));
  CHECK(napi_set_named_property(env, exports, "Socket", cls));
  CHECK(napi_create_function(env, "ifInfo", NAPI_AUTO_LENGTH, if_info, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "ifInfo", fn));
  CHECK(napi_create_function(env, "attachFilter", NAPI_AUTO_LENGTH, attach_filter_fd, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "attachFilter", fn));
  CHECK(napi_create_function(env, "setRcvbuf", NAPI_AUTO_LENGTH, set_rcvbuf_fd, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "setRcvbuf", fn));
  CHECK(udp_init(env, exports));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
