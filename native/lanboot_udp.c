/*
 * lanboot_udp: a UDP/IPv4 server socket for Node.js (N-API, C), for the
 * DHCP sockets, which at thousands of requests a second spent half of the
 * main thread in Node dgram's per-datagram path (a JS call, a Buffer and an
 * rinfo object per datagram, one recvmsg that ends in EAGAIN per wake-up,
 * and a send request per reply).
 *
 * Receive: a level-triggered uv_poll; each wake reads up to BATCH datagrams
 * with one recvmmsg and hands them to JS in one call (one Buffer, a shared
 * Uint32Array of lengths/sources). IP_PKTINFO says which local address and
 * interface each arrived on (Node cannot, on a 0.0.0.0 bind).
 * Send: datagrams are queued and flushed with sendmmsg once per loop turn;
 * a datagram the kernel refuses for itself (no route, bad port) is reported
 * and skipped, the rest still leave. When the send buffer is full (EAGAIN)
 * the queue waits for POLLOUT and only then takes new datagrams up to a
 * total and per-destination limit (policy in src/net/udp.ts).
 */
#define _GNU_SOURCE /* recvmmsg, sendmmsg, in_pktinfo */
#include "napi_util.h"
#include "lanboot_udp.h"
#include <uv.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* Datagrams per wake-up, as the packet socket reads frames (lanboot_packet.c):
 * between two wakes the callback scope closes (replies leave) and timers and
 * file system completions get their turn. */
#define BATCH 64
/* Receive slot: larger than any DHCP/BOOTP message on an Ethernet path (a
 * client's option 57 may ask up to 1500; 4 KiB leaves room for jumbo-MTU
 * relays). A longer datagram is counted as truncated and dropped. */
#define SLOT 4096
/* Per datagram in the shared meta array: length, source address, source
 * port, local address (ipi_spec_dst: the destination, or for a broadcast the
 * address of the interface it came in on), ifindex. */
#define META 5

typedef struct Tx {
  struct Tx *next;
  struct sockaddr_in to;
  struct in_addr from; /* 0: the kernel picks the source by route */
  uint32_t len;
  unsigned char data[];
} Tx;

typedef struct {
  int fd, port;
  int in_cb, finalized, napi_released, handles_open;
  int blocked; /* the kernel refused with EAGAIN: the queue waits for POLLOUT */
  int flush_armed;
  uv_poll_t poll;
  /* Flushing: uv_check runs right after the poll phase, where nearly every
   * reply is made (the receive batch's promise continuations, journal
   * completions), so those leave within the same loop turn; uv_prepare runs
   * before the loop blocks again and catches what later phases queued
   * (setImmediate, close callbacks, timers). Neither makes the loop wake up
   * more often (an idle handle would), and both run only while something is
   * queued. Flushing from JS at the end of the batch callback would miss the
   * ACKs, which are sent from journal completions. */
  uv_check_t check;
  uv_prepare_t prepare;
  napi_env env;
  napi_ref self, on_batch, on_error, meta_ref;
  uint32_t *meta;
  napi_async_context actx;
  napi_async_cleanup_hook_handle teardown;
  unsigned char *rx;
  int64_t max_age_ns;
  Tx *head, *tail;
  uint32_t queued, max_queued, max_per_dest;
} Udp;

#define CHECK(call) do { if ((call) != napi_ok) return NULL; } while (0)

static void release_napi(Udp *s) {
  if (s->napi_released) return;
  s->napi_released = 1;
  napi_delete_reference(s->env, s->on_batch);
  napi_delete_reference(s->env, s->on_error);
  napi_delete_reference(s->env, s->meta_ref);
  napi_reference_unref(s->env, s->self, NULL);
  napi_async_destroy(s->env, s->actx);
}

static void free_queue(Udp *s) {
  while (s->head) {
    Tx *t = s->head;
    s->head = t->next;
    free(t);
  }
  s->tail = NULL;
  s->queued = 0;
}

static void on_handle_closed(uv_handle_t *h) {
  Udp *s = h->data;
  if (--s->handles_open > 0) return;
  napi_remove_async_cleanup_hook(s->teardown);
  if (s->finalized) { free(s->rx); free(s); }
}

static void flush(Udp *s, int report);

static void sock_close(Udp *s) {
  if (s->fd < 0) return;
  if (s->head && !s->blocked) flush(s, 0); /* replies of this turn still leave */
  free_queue(s);
  uv_close((uv_handle_t *)&s->poll, on_handle_closed);
  uv_close((uv_handle_t *)&s->check, on_handle_closed);
  uv_close((uv_handle_t *)&s->prepare, on_handle_closed);
  close(s->fd);
  s->fd = -1;
}

static void on_teardown(napi_async_cleanup_hook_handle handle, void *arg) {
  (void)handle;
  sock_close(arg);
}

static void on_io(uv_poll_t *h, int status, int events);

static void set_poll(Udp *s) {
  uv_poll_start(&s->poll, UV_READABLE | (s->blocked ? UV_WRITABLE : 0), on_io);
}

static void on_flush_handle(uv_handle_t *h);
static void on_check(uv_check_t *h) { on_flush_handle((uv_handle_t *)h); }
static void on_prepare(uv_prepare_t *h) { on_flush_handle((uv_handle_t *)h); }

static void arm_flush(Udp *s, int on) {
  if (s->flush_armed == on) return;
  s->flush_armed = on;
  if (on) {
    uv_check_start(&s->check, on_check);
    uv_prepare_start(&s->prepare, on_prepare);
  } else {
    uv_check_stop(&s->check);
    uv_prepare_stop(&s->prepare);
  }
}

/* A datagram the kernel refused for itself: onError(errno, address, port). */
static void report_error(Udp *s, int err, const struct sockaddr_in *to) {
  napi_env env = s->env;
  napi_value argv[3], cb;
  napi_create_int32(env, err, &argv[0]);
  napi_create_uint32(env, ntohl(to->sin_addr.s_addr), &argv[1]);
  napi_create_uint32(env, ntohs(to->sin_port), &argv[2]);
  napi_get_reference_value(env, s->on_error, &cb);
  call_js(env, cb, 3, argv);
}

/* Send what is queued, BATCH datagrams per sendmmsg. `report`: call JS for
 * refused datagrams (the caller has a handle and callback scope open). */
static void flush(Udp *s, int report) {
  struct mmsghdr mm[BATCH];
  struct iovec iov[BATCH];
  union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(struct in_pktinfo))]; } ctl[BATCH];
  while (s->head && !s->blocked && s->fd >= 0) {
    int n = 0;
    for (Tx *t = s->head; t && n < BATCH; t = t->next, n++) {
      iov[n] = (struct iovec){t->data, t->len};
      mm[n].msg_hdr = (struct msghdr){.msg_name = &t->to, .msg_namelen = sizeof t->to, .msg_iov = &iov[n], .msg_iovlen = 1};
      if (t->from.s_addr) {
        /* The source address the request came in on (the server identifier). */
        memset(&ctl[n], 0, sizeof ctl[n]);
        struct cmsghdr *c = &ctl[n].h;
        c->cmsg_level = IPPROTO_IP;
        c->cmsg_type = IP_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
        ((struct in_pktinfo *)CMSG_DATA(c))->ipi_spec_dst = t->from;
        mm[n].msg_hdr.msg_control = ctl[n].buf;
        mm[n].msg_hdr.msg_controllen = sizeof ctl[n].buf;
      }
    }
    int r = sendmmsg(s->fd, mm, (unsigned)n, 0);
    if (r < 0) {
      int e = errno;
      if (e == EINTR) continue;
      if (e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS) {
        s->blocked = 1;
        set_poll(s);
        break;
      }
      /* The first datagram failed (no route, EINVAL...): drop it alone. */
      r = 1;
      if (report) report_error(s, e, &s->head->to);
    }
    for (int i = 0; i < r && s->head; i++) {
      Tx *t = s->head;
      s->head = t->next;
      free(t);
      s->queued--;
    }
    if (!s->head) s->tail = NULL;
  }
  arm_flush(s, s->head != NULL && !s->blocked);
}

/* Call fn with the socket's callback scope open (microtasks run when it closes). */
static void with_scope(Udp *s, void (*fn)(Udp *, void *), void *arg) {
  napi_env env = s->env;
  napi_handle_scope hs;
  napi_callback_scope cs;
  napi_value self;
  napi_open_handle_scope(env, &hs);
  napi_get_reference_value(env, s->self, &self);
  napi_open_callback_scope(env, self, s->actx, &cs);
  s->in_cb = 1;
  fn(s, arg);
  s->in_cb = 0;
  napi_close_callback_scope(env, cs);
  napi_close_handle_scope(env, hs);
  if (s->fd < 0) release_napi(s);
}

static void flush_reporting(Udp *s, void *arg) {
  (void)arg;
  flush(s, 1);
}

static void on_flush_handle(uv_handle_t *h) {
  Udp *s = h->data;
  if (s->fd < 0 || !s->head || s->blocked) return;
  with_scope(s, flush_reporting, NULL);
}

/* recvmmsg once; hand the batch to JS as onBatch(buf, count, stale, truncated). */
static void receive(Udp *s, void *arg) {
  (void)arg;
  struct mmsghdr mm[BATCH];
  struct iovec iov[BATCH];
  struct sockaddr_in from[BATCH];
  union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(struct in_pktinfo)) + CMSG_SPACE(sizeof(struct timespec))]; } ctl[BATCH];
  for (int i = 0; i < BATCH; i++) {
    iov[i] = (struct iovec){s->rx + (size_t)i * SLOT, SLOT};
    mm[i].msg_hdr = (struct msghdr){.msg_name = &from[i], .msg_namelen = sizeof from[i], .msg_iov = &iov[i], .msg_iovlen = 1,
                                    .msg_control = ctl[i].buf, .msg_controllen = sizeof ctl[i].buf};
  }
  int n = recvmmsg(s->fd, mm, BATCH, MSG_DONTWAIT, NULL);
  if (n <= 0) return; /* EAGAIN: another reader got there first */
  int64_t now_ns = 0;
  if (s->max_age_ns > 0) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts); /* SO_TIMESTAMPNS stamps are CLOCK_REALTIME */
    now_ns = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
  }
  uint32_t count = 0, stale = 0, trunc = 0;
  size_t total = 0;
  for (int i = 0; i < n; i++) {
    struct msghdr *m = &mm[i].msg_hdr;
    if (m->msg_flags & MSG_TRUNC) { trunc++; continue; }
    struct in_pktinfo pi = {0};
    int64_t rx_ns = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) memcpy(&pi, CMSG_DATA(c), sizeof pi);
      else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
        struct timespec ts;
        memcpy(&ts, CMSG_DATA(c), sizeof ts);
        rx_ns = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
      }
    }
    /* Waited too long in the receive queue: its client has retransmitted. */
    if (rx_ns > 0 && now_ns - rx_ns > s->max_age_ns) { stale++; continue; }
    uint32_t len = mm[i].msg_len, *meta = s->meta + (size_t)count * META;
    memmove(s->rx + total, iov[i].iov_base, len); /* compact: the batch leaves in one Buffer */
    total += len;
    meta[0] = len;
    meta[1] = ntohl(from[i].sin_addr.s_addr);
    meta[2] = ntohs(from[i].sin_port);
    meta[3] = ntohl(pi.ipi_spec_dst.s_addr);
    meta[4] = (uint32_t)pi.ipi_ifindex;
    count++;
  }
  napi_env env = s->env;
  napi_value argv[4], cb;
  if (count) napi_create_buffer_copy(env, total, s->rx, NULL, &argv[0]);
  else napi_get_null(env, &argv[0]);
  napi_create_uint32(env, count, &argv[1]);
  napi_create_uint32(env, stale, &argv[2]);
  napi_create_uint32(env, trunc, &argv[3]);
  napi_get_reference_value(env, s->on_batch, &cb);
  call_js(env, cb, 4, argv);
}

static void on_io(uv_poll_t *h, int status, int events) {
  Udp *s = h->data;
  if (s->fd < 0) return;
  if (status < 0) {
    /* A pending socket error (an ICMP error on some kernels): clear it, keep going. */
    int err = 0;
    socklen_t l = sizeof err;
    getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &l);
    set_poll(s);
    return;
  }
  if (events & UV_WRITABLE) {
    s->blocked = 0;
    set_poll(s);
    if (s->head) with_scope(s, flush_reporting, NULL);
  }
  if ((events & UV_READABLE) && s->fd >= 0) with_scope(s, receive, NULL);
}

static void finalize(napi_env env, void *data, void *hint) {
  Udp *s = data;
  (void)hint;
  s->finalized = 1;
  sock_close(s);
  napi_delete_reference(env, s->self);
  if (s->handles_open == 0) { free(s->rx); free(s); }
}

static Udp *unwrap_open(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  Udp *s = unwrap_this(env, info, argc, argv, "UDP socket");
  if (!s) return NULL;
  if (s->fd < 0) { throw_errno(env, "socket is closed", EBADF); return NULL; }
  return s;
}

/* new UdpSocket(address u32, port, rcvbuf, maxAgeMs, meta: Uint32Array(udpBatch * udpMeta),
 *               onBatch(buf|null, count, stale, truncated), onError(errno, address u32, port))
 * SO_BROADCAST on (DHCP answers by broadcast), no SO_REUSEADDR (a second
 * server on the port is an error, as with dgram's exclusive bind). */
static napi_value udp_new(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7], self, target;
  int64_t addr, port, rcvbuf, max_age_ms;
  napi_valuetype t1, t2;
  napi_typedarray_type tt;
  size_t mlen = 0;
  void *mdata = NULL;
  CHECK(napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  if (napi_get_new_target(env, info, &target) != napi_ok || !target) return throw_type(env, "UdpSocket must be called with new");
  if (argc < 7 || !get_num(env, argv[0], 0, 0xffffffffLL, &addr)) return throw_type(env, "address must be an IPv4 address as u32");
  if (!get_num(env, argv[1], 0, 0xffff, &port)) return throw_type(env, "port must be an integer 0..65535");
  if (!get_num(env, argv[2], 0, 0x3fffffff, &rcvbuf)) return throw_type(env, "rcvbuf must be a non-negative integer");
  if (!get_num(env, argv[3], 0, 3600000, &max_age_ms)) return throw_type(env, "maxAgeMs must be an integer 0..3600000");
  bool ista = false;
  napi_is_typedarray(env, argv[4], &ista);
  if (!ista || napi_get_typedarray_info(env, argv[4], &tt, &mlen, &mdata, NULL, NULL) != napi_ok || tt != napi_uint32_array ||
      mlen < BATCH * META)
    return throw_type(env, "meta must be a Uint32Array of udpBatch * udpMeta");
  napi_typeof(env, argv[5], &t1);
  napi_typeof(env, argv[6], &t2);
  if (t1 != napi_function || t2 != napi_function) return throw_type(env, "onBatch and onError must be functions");

  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1, v = (int)rcvbuf;
  const char *what = "socket(AF_INET)";
  if (fd < 0) return throw_errno(env, what, errno);
  what = "setsockopt(SO_RCVBUF)";
  if (v > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof v) < 0 &&
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v) < 0) goto fail;
  what = "setsockopt(SO_BROADCAST)";
  if (setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) < 0) goto fail;
  what = "setsockopt(IP_PKTINFO)";
  if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one) < 0) goto fail;
  what = "setsockopt(SO_TIMESTAMPNS)";
  if (max_age_ms > 0 && setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) < 0) goto fail;
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl((uint32_t)addr)};
  what = "bind";
  if (bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0) goto fail;
  socklen_t sl = sizeof sin;
  getsockname(fd, (struct sockaddr *)&sin, &sl);

  Udp *s = calloc(1, sizeof *s);
  unsigned char *rx = malloc((size_t)BATCH * SLOT);
  uv_loop_t *loop;
  if (!s || !rx) { free(s); free(rx); close(fd); return throw_errno(env, "alloc", ENOMEM); }
  s->fd = fd; s->port = ntohs(sin.sin_port); s->env = env; s->rx = rx; s->meta = mdata;
  s->max_age_ns = max_age_ms * 1000000LL;
  s->max_queued = 256; s->max_per_dest = 4;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || uv_poll_init(loop, &s->poll, fd) != 0) {
    free(s); free(rx); close(fd); return throw_errno(env, "uv_poll_init", EINVAL);
  }
  uv_check_init(loop, &s->check);
  uv_prepare_init(loop, &s->prepare);
  s->poll.data = s->check.data = s->prepare.data = s;
  s->handles_open = 3;
  napi_value name;
  napi_create_string_utf8(env, "lanboot:udp", NAPI_AUTO_LENGTH, &name);
  napi_wrap(env, self, s, finalize, NULL, &s->self);
  napi_reference_ref(env, s->self, NULL); /* keep alive while open */
  napi_create_reference(env, argv[4], 1, &s->meta_ref);
  napi_create_reference(env, argv[5], 1, &s->on_batch);
  napi_create_reference(env, argv[6], 1, &s->on_error);
  napi_async_init(env, self, name, &s->actx);
  napi_add_async_cleanup_hook(env, on_teardown, s, &s->teardown);
  set_poll(s);
  return self;
fail:;
  int e = errno;
  close(fd);
  return throw_errno(env, what, e);
}

/* send(buf, port, address u32, from u32) -> false when the queue waits for
 * the kernel and is at its total or per-destination limit (dropped). */
static napi_value udp_send(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], out;
  Udp *s = unwrap_open(env, info, &argc, argv);
  int64_t port, addr, from;
  void *data;
  size_t len;
  bool isbuf = false;
  if (!s) return NULL;
  if (argc < 4 || napi_is_buffer(env, argv[0], &isbuf) != napi_ok || !isbuf) return throw_type(env, "datagram must be a Buffer");
  if (!get_num(env, argv[1], 0, 0xffff, &port) || !get_num(env, argv[2], 0, 0xffffffffLL, &addr) ||
      !get_num(env, argv[3], 0, 0xffffffffLL, &from))
    return throw_type(env, "port must be u16, address and from IPv4 addresses as u32");
  napi_get_buffer_info(env, argv[0], &data, &len);
  if (len > 65507) return throw_type(env, "datagram longer than 65507 bytes");
  uint32_t to = htonl((uint32_t)addr);
  bool ok = true;
  if (s->blocked) {
    uint32_t same = 0;
    for (Tx *t = s->head; t; t = t->next) same += t->to.sin_addr.s_addr == to;
    ok = s->queued < s->max_queued && same < s->max_per_dest;
  }
  if (ok) {
    Tx *t = malloc(sizeof *t + len);
    if (!t) return throw_errno(env, "alloc", ENOMEM);
    t->next = NULL;
    t->to = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = to};
    t->from.s_addr = htonl((uint32_t)from);
    t->len = (uint32_t)len;
    memcpy(t->data, data, len);
    if (s->tail) s->tail->next = t;
    else s->head = t;
    s->tail = t;
    s->queued++;
    if (!s->blocked) arm_flush(s, 1);
  }
  napi_get_boolean(env, ok, &out);
  return out;
}

/* limits(total, perDestination): what may wait while the kernel refuses. */
static napi_value udp_limits(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int64_t total, per;
  Udp *s = unwrap_open(env, info, &argc, argv);
  if (!s) return NULL;
  if (argc < 2 || !get_num(env, argv[0], 1, 1 << 20, &total) || !get_num(env, argv[1], 1, 1 << 20, &per))
    return throw_type(env, "limits must be integers 1..1048576");
  s->max_queued = (uint32_t)total;
  s->max_per_dest = (uint32_t)per;
  return NULL;
}

/* info() -> {fd, port, queued, blocked} */
static napi_value udp_info(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  napi_value o, b;
  Udp *s = unwrap_open(env, info, &argc, NULL);
  if (!s) return NULL;
  CHECK(napi_create_object(env, &o));
  set_u32(env, o, "fd", (uint32_t)s->fd);
  set_u32(env, o, "port", (uint32_t)s->port);
  set_u32(env, o, "queued", s->queued);
  napi_get_boolean(env, s->blocked, &b);
  napi_set_named_property(env, o, "blocked", b);
  return o;
}

/* close(): idempotent; what this turn queued is sent first; no callback runs after it returns. */
static napi_value udp_close(napi_env env, napi_callback_info info) {
  Udp *s = unwrap_this(env, info, NULL, NULL, "UDP socket");
  if (!s || s->fd < 0) return NULL;
  sock_close(s);
  if (!s->in_cb) release_napi(s);
  return NULL;
}

napi_status udp_init(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
    {"send", NULL, udp_send, NULL, NULL, NULL, napi_default, NULL},
    {"limits", NULL, udp_limits, NULL, NULL, NULL, napi_default, NULL},
    {"info", NULL, udp_info, NULL, NULL, NULL, napi_default, NULL},
    {"close", NULL, udp_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value cls, batch, meta;
  napi_status st = napi_define_class(env, "UdpSocket", NAPI_AUTO_LENGTH, udp_new, NULL, 4, methods, &cls);
  if (st != napi_ok) return st;
  if ((st = napi_set_named_property(env, exports, "UdpSocket", cls)) != napi_ok) return st;
  napi_create_uint32(env, BATCH, &batch);
  napi_create_uint32(env, META, &meta);
  if ((st = napi_set_named_property(env, exports, "udpBatch", batch)) != napi_ok) return st;
  return napi_set_named_property(env, exports, "udpMeta", meta);
}
