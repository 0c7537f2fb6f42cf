/*
 * lanboot_tftp: the per-packet loop of a TFTP read transfer (RRQ) in C.
 *
 * Node's dgram costs a few microseconds of JS and libuv work per datagram,
 * which caps lock-step throughput below tftp-hpa's. JS still decides
 * everything (request, options, confinement, cache); this engine only moves
 * DATA out and ACKs in: RFC 1350 lock-step, RFC 7440 windows, RFC 2348
 * blksize, block-number rollover, adaptive RTO (RFC 6298 style, Karn),
 * wrong-TID error 5, and one completion callback.
 *
 * Transfers run on engine threads (one per CPU, at most 8; the environment
 * variable LANBOOT_TFTP_THREADS overrides), each with its own libuv loop, not on Node's:
 * a lock-step ACK then costs recv + sendmsg and no JS-loop turn (Node's
 * per-iteration immediates and microtask checkpoint showed up in perf), and
 * DHCP/HTTP work on the JS thread and packets of a boot storm no longer wait
 * for each other; a boot storm spreads over the cores as tftp-hpa's forks and
 * atftpd's threads do. A transfer stays on the thread it was given (round
 * robin). Each thread meets JS only at two queues under its mutex: commands
 * (start, abort) in, finished engines out to JS, which alone calls into JS
 * and frees.
 *
 * Two sockets share the transfer's port (its TID): one connected to the
 * peer (the kernel caches the route and delivers only the peer's packets
 * to it) and one unconnected that receives everything else, answered with
 * error 5. The port is bound exclusively first, shared only for the second
 * bind, then made exclusive again (SO_REUSEADDR is checked at bind time).
 */
#define _GNU_SOURCE /* sendmmsg */
#include "napi_util.h"
#include <uv.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define RXBUF 1024
#define MAX_PER_WAKE 256
#define OP_DATA 3
#define OP_ACK 4
#define OP_ERROR 5
#define BATCH 64

typedef struct Engine Engine;
typedef struct { Engine *e; } Box;

/* One per Node environment (napi instance data). */
typedef struct {
  napi_env env;
  uv_thread_t thread;
  uv_loop_t loop;   /* the engine thread's loop */
  uv_async_t wake;  /* on loop: commands queued */
  uv_async_t done;  /* on Node's loop: finished engines queued */
  uv_mutex_t mu;
  uv_cond_t closed_cv; /* an engine's sockets are closed (engineAbort waits for it) */
  Engine *cmds, *finished, *live;
  int stopping, running;
} Worker;

struct Engine {
  napi_env env;
  Worker *w;
  /* under w->mu */
  Engine *cmd_next, *done_next;
  Engine *live_prev, *live_next; /* every engine the worker owns, for teardown */
  int queued, abort_req, closed;
  /* engine thread only, until closed */
  Engine *run_next; /* this wake's batch: cmd_next may be reused by a new abort meanwhile */
  int polling, abort_seen; /* handles on the engine loop: bit 1 poll, 2 spoll, 4 timer */
  double ended;
  napi_ref cb, data_ref;
  napi_async_context actx;
  uv_poll_t poll, spoll;
  uv_timer_t timer;
  int handles_open;
  int sock, stray;
  int file_fd;
  const uint8_t *data;
  uint64_t size;
  struct sockaddr_in peer;
  uint32_t B, W;
  uint64_t total, acked, next, sent_high;
  int oack_state;
  uint8_t *oack;
  size_t oack_len;
  int oack_retx;
  double oack_sent_at;
  uint8_t *tx;
  uint32_t batch; /* blocks per sendmmsg (tx holds batch * B on the fd path) */
  uint64_t tx_first, tx_count; /* blocks tx holds (read ahead while the client ACKs) */
  /* RTO (same rules as src/tftp/rto.ts) */
  double srtt, rttvar, rto, rto_init, rto_min, rto_max;
  int sampled, backoff;
  uint32_t retries, consec_timeouts;
  double give_up_ms, no_progress_ms, last_progress, started;
  int64_t sample_block;
  double sample_at;
  int dup_goback_done, probe_candidate;
  double retrans, dup_acks, gobacks, strangers, malformed;
  int finished, no_cb, notified;
  const char *outcome;
  char detail[200];
  Box *box;
  uint8_t rx[RXBUF];
};

static const uint8_t ERR5[] = {0, OP_ERROR, 0, 5, 'U', 'n', 'k', 'n', 'o', 'w', 'n', ' ', 't', 'r', 'a', 'n',
                               's', 'f', 'e', 'r', ' ', 'I', 'D', 0};

static double now_ms(void) { return (double)uv_hrtime() / 1e6; }

/* ---------- RTO ---------- */

static void rto_update(Engine *e) {
  double base = e->sampled ? e->srtt + (4 * e->rttvar > 1 ? 4 * e->rttvar : 1) : e->rto_init;
  if (base < e->rto_min) base = e->rto_min;
  base *= e->backoff;
  e->rto = base > e->rto_max ? e->rto_max : base;
}

static void rto_sample(Engine *e, double rtt) {
  if (!e->sampled) {
    e->srtt = rtt;
    e->rttvar = rtt / 2;
    e->sampled = 1;
  } else {
    double d = e->srtt - rtt;
    e->rttvar = 0.75 * e->rttvar + 0.25 * (d < 0 ? -d : d);
    e->srtt = 0.875 * e->srtt + 0.125 * rtt;
  }
  e->backoff = 1;
  rto_update(e);
}

static void on_timeout(uv_timer_t *h);

/* Next timeout: one RTO, or the no-progress cap if that comes first (a
 * client's timeout option can make the RTO minutes long). */
static void arm(Engine *e) {
  double wait = e->rto;
  double left = e->last_progress + e->no_progress_ms - now_ms();
  if (left < wait) wait = left;
  uint64_t ms = wait > 0 ? (uint64_t)(wait + 0.999) : 1;
  uv_timer_start(&e->timer, on_timeout, ms ? ms : 1, 0);
}

/* ---------- finishing ---------- */

static void notify(Engine *e);
static void free_engine(Engine *e);

/* Engine thread: hand a finished engine (no handles left) to the JS thread. */
static void hand_back(Engine *e) {
  Worker *w = e->w;
  uv_mutex_lock(&w->mu);
  if (e->live_prev) e->live_prev->live_next = e->live_next;
  else w->live = e->live_next;
  if (e->live_next) e->live_next->live_prev = e->live_prev;
  e->live_prev = e->live_next = NULL;
  e->done_next = w->finished;
  w->finished = e;
  uv_mutex_unlock(&w->mu);
  uv_async_send(&w->done);
}

static void on_closed(uv_handle_t *h) {
  Engine *e = h->data;
  if (--e->handles_open > 0) return;
  hand_back(e);
}

static void finish(Engine *e, const char *outcome, const char *detail) {
  if (e->finished) return;
  /* The results first, then the flag engineStats goes by (release/acquire). */
  e->ended = now_ms();
  e->outcome = outcome;
  if (detail) snprintf(e->detail, sizeof e->detail, "%s", detail);
  __atomic_store_n(&e->finished, 1, __ATOMIC_RELEASE);
  if (e->polling & 1) uv_close((uv_handle_t *)&e->poll, on_closed);
  if (e->polling & 2) uv_close((uv_handle_t *)&e->spoll, on_closed);
  if (e->polling & 4) uv_close((uv_handle_t *)&e->timer, on_closed);
  close(e->sock);
  close(e->stray);
  e->sock = e->stray = -1;
  uv_mutex_lock(&e->w->mu);
  if (e->queued) {
    /* An abort queued for an engine that ended by itself: drop the command,
     * or the next wake would touch it after JS has freed it. */
    for (Engine **pp = &e->w->cmds; *pp; pp = &(*pp)->cmd_next)
      if (*pp == e) {
        *pp = e->cmd_next;
        break;
      }
    e->queued = 0;
  }
  e->closed = 1;
  uv_cond_broadcast(&e->w->closed_cv);
  uv_mutex_unlock(&e->w->mu);
  /* Aborted before it started: no handles to wait for. Otherwise the last
   * on_closed (this loop turn) reports, so JS hears of it at once. */
  if (!e->polling) hand_back(e);
}

static void send_error(Engine *e, uint16_t code, const char *msg) {
  uint8_t buf[128];
  size_t n = strlen(msg);
  if (n > sizeof buf - 5) n = sizeof buf - 5;
  buf[0] = 0; buf[1] = OP_ERROR; buf[2] = code >> 8; buf[3] = code & 0xff;
  memcpy(buf + 4, msg, n);
  buf[4 + n] = 0;
  send(e->sock, buf, n + 5, 0);
}

/* ---------- sending ---------- */

static uint32_t block_len(Engine *e, uint64_t b) {
  return b < e->total ? e->B : (uint32_t)(e->size - (e->total - 1) * (uint64_t)e->B);
}

/* Fill [first, first+n) blocks into e->tx (fd path): one pread for the run. -1 = ended. */
static int load_run(Engine *e, uint64_t first, uint32_t n) {
  if (e->tx_count >= n && e->tx_first == first) return 0; /* read ahead */
  e->tx_count = 0;
  uint64_t off = (first - 1) * (uint64_t)e->B;
  uint64_t want = (uint64_t)n * e->B;
  if (off + want > e->size) want = e->size - off;
  uint64_t got = 0;
  while (got < want) {
    ssize_t r = pread(e->file_fd, e->tx + got, want - got, (off_t)(off + got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      const char *why = r < 0 ? strerror(errno) : "File changed during transfer";
      send_error(e, 0, r < 0 ? "Read error" : "File changed during transfer");
      finish(e, "io-error", why);
      return -1;
    }
    got += (uint64_t)r;
  }
  e->tx_first = first;
  e->tx_count = n;
  return 0;
}

/* sendmmsg copied tx into the socket: read the run the next ACK will ask
 * for now, off the ACK-to-DATA path (tftp-hpa reads ahead the same way). */
static void read_ahead(Engine *e) {
  if (e->data || e->finished || e->next > e->total) return;
  uint64_t n = e->total - e->next + 1;
  if (n > e->batch) n = e->batch;
  if (e->tx_count >= n && e->tx_first == e->next) return;
  uint64_t off = (e->next - 1) * (uint64_t)e->B;
  uint64_t want = n * e->B;
  if (off + want > e->size) want = e->size - off;
  e->tx_count = 0;
  uint64_t got = 0;
  while (got < want) {
    ssize_t r = pread(e->file_fd, e->tx + got, want - got, (off_t)(off + got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return; /* the real load reports it */
    got += (uint64_t)r;
  }
  e->tx_first = e->next;
  e->tx_count = n;
}

/* Send the window from e->next on: one pread and one sendmmsg per run of up
 * to BATCH blocks instead of two syscalls per block. */
static void send_window(Engine *e) {
  if (e->finished) return;
  uint64_t end = e->acked + e->W;
  if (end > e->total) end = e->total;
  double t = now_ms();
  struct mmsghdr mm[BATCH];
  struct iovec iov[2 * BATCH];
  uint8_t hdr[BATCH][4];
  while (e->next <= end) {
    uint32_t n = (uint32_t)(end - e->next + 1);
    if (n > e->batch) n = e->batch;
    if (!e->data && load_run(e, e->next, n) < 0) return;
    for (uint32_t i = 0; i < n; i++) {
      uint64_t b = e->next + i;
      uint32_t len = block_len(e, b);
      const uint8_t *src = e->data ? e->data + (b - 1) * (uint64_t)e->B : e->tx + (uint64_t)i * e->B;
      hdr[i][0] = 0; hdr[i][1] = OP_DATA; hdr[i][2] = (b >> 8) & 0xff; hdr[i][3] = b & 0xff;
      iov[2 * i] = (struct iovec){hdr[i], 4};
      iov[2 * i + 1] = (struct iovec){(void *)src, len};
      memset(&mm[i], 0, sizeof mm[i]);
      mm[i].msg_hdr.msg_iov = &iov[2 * i];
      mm[i].msg_hdr.msg_iovlen = len ? 2 : 1;
    }
    int r;
    if (n == 1) {
      r = sendmsg(e->sock, &mm[0].msg_hdr, 0) < 0 ? -1 : 1;
    } else {
      r = sendmmsg(e->sock, mm, n, 0);
    }
    if (r <= 0) {
      if (errno == ECONNREFUSED) {
        finish(e, "client-gone", "ECONNREFUSED");
        return;
      }
      break; /* EAGAIN/ENOBUFS: the timer goes back */
    }
    for (int i = 0; i < r; i++) {
      uint64_t b = e->next + (uint64_t)i;
      if (b <= e->sent_high) e->retrans++;
      else if (b == end && e->sample_block < 0) {
        e->sample_block = (int64_t)b;
        e->sample_at = t;
      }
    }
    e->next += (uint64_t)r;
    if ((uint32_t)r < n) break;
  }
  if (e->next - 1 > e->sent_high) e->sent_high = e->next - 1;
  arm(e);
  if (e->next > end) read_ahead(e); /* whole window out: wait for the ACK with the next run loaded */
}

static void go_back(Engine *e) {
  e->gobacks++;
  e->sample_block = -1; /* Karn */
  e->next = e->acked + 1;
  send_window(e);
}

/* ---------- receiving ---------- */

static void on_ack(Engine *e, uint16_t wire) {
  double t = now_ms();
  if (e->oack_state) {
    if (wire != 0) return;
    e->oack_state = 0;
    e->probe_candidate = 0;
    e->last_progress = t;
    if (!e->oack_retx) rto_sample(e, t - e->oack_sent_at);
    e->consec_timeouts = 0;
    send_window(e);
    return;
  }
  uint64_t d = (uint16_t)(wire - (uint16_t)(e->acked & 0xffff));
  if (d == 0) {
    e->dup_acks++;
    /* Lock-step: never answer a duplicate ACK (Sorcerer's Apprentice).
     * Windowed: the window's first block was lost; go back once. */
    if (e->W > 1 && e->sent_high > e->acked && !e->dup_goback_done) {
      e->dup_goback_done = 1;
      go_back(e);
    }
    return;
  }
  if (d > e->sent_high - e->acked) return; /* stale or bogus */
  e->acked += d;
  e->consec_timeouts = 0;
  e->last_progress = t;
  e->dup_goback_done = 0;
  if (e->sample_block > 0 && e->acked >= (uint64_t)e->sample_block) {
    rto_sample(e, t - e->sample_at);
    e->sample_block = -1;
  } else if (e->backoff != 1) {
    e->backoff = 1;
    rto_update(e);
  }
  if (e->acked >= e->total) {
    finish(e, "ok", NULL);
    return;
  }
  if (e->acked < e->next - 1) {
    go_back(e); /* RFC 7440: an ACK inside the window: the rest was lost */
    return;
  }
  send_window(e);
}

static void on_packet(Engine *e, const uint8_t *p, size_t n) {
  if (n >= 4 && p[0] == 0 && p[1] == OP_ACK) {
    on_ack(e, (uint16_t)((p[2] << 8) | p[3]));
    return;
  }
  if (n >= 4 && p[0] == 0 && p[1] == OP_ERROR) {
    /* RFC 1350: message is NUL-terminated; a packet without the NUL is malformed. */
    const uint8_t *z = memchr(p + 4, 0, n - 4);
    if (!z) { e->malformed++; return; }
    unsigned code = (p[2] << 8) | p[3];
    if (e->oack_state && code == 8 && e->probe_candidate) {
      finish(e, "probe", (const char *)p + 4);
    } else {
      char d[200];
      snprintf(d, sizeof d, "%u %s", code, (const char *)p + 4);
      finish(e, "client-error", d);
    }
    return;
  }
  e->malformed++;
}

/* The connected socket reports the peer's ICMP port unreachable as
 * ECONNREFUSED: the client is gone (same outcome as the JS path). */
static int peer_error(Engine *e, int err) {
  if (err == ECONNREFUSED) {
    finish(e, "client-gone", "ECONNREFUSED");
    return 1;
  }
  return 0;
}

static void on_readable(uv_poll_t *h, int status, int events) {
  Engine *e = h->data;
  (void)events;
  if (e->finished) return;
  if (status < 0) {
    /* POLLERR: libuv stopped the poll; read (and clear) the error, resume. */
    int err = 0;
    socklen_t l = sizeof err;
    getsockopt(e->sock, SOL_SOCKET, SO_ERROR, &err, &l);
    if (!peer_error(e, err)) uv_poll_start(&e->poll, UV_READABLE, on_readable);
    return;
  }
  ssize_t n;
  do n = recv(e->sock, e->rx, RXBUF, 0); while (n < 0 && errno == EINTR);
  if (n < 0) {
    peer_error(e, errno); /* EAGAIN: spurious wake-up */
    return;
  }
  /* One datagram per wake: the level-triggered poll comes straight back if
   * more is queued, which saves an EAGAIN recv per ACK in lock-step. */
  on_packet(e, e->rx, (size_t)n);
}

/* Everything not from the peer's TID. RFC 1350: error 5, the transfer goes on. */
static void on_stray(uv_poll_t *h, int status, int events) {
  Engine *e = h->data;
  (void)events;
  if (e->finished) return;
  if (status < 0) {
    int err = 0;
    socklen_t l = sizeof err;
    getsockopt(e->stray, SOL_SOCKET, SO_ERROR, &err, &l);
    uv_poll_start(&e->spoll, UV_READABLE, on_stray);
    return;
  }
  for (int i = 0; i < MAX_PER_WAKE; i++) {
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    ssize_t n = recvfrom(e->stray, e->rx, RXBUF, 0, (struct sockaddr *)&from, &fl);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (from.sin_family == AF_INET && from.sin_port == e->peer.sin_port &&
        from.sin_addr.s_addr == e->peer.sin_addr.s_addr) {
      on_packet(e, e->rx, (size_t)n); /* raced the connect() */
      if (e->finished) return;
      continue;
    }
    e->strangers++;
    sendto(e->stray, ERR5, sizeof ERR5, 0, (struct sockaddr *)&from, fl);
  }
}

static void on_timeout(uv_timer_t *h) {
  Engine *e = h->data;
  if (e->finished) return;
  e->consec_timeouts++;
  double silent = now_ms() - e->last_progress;
  /* The no-progress cap ends it whatever the retries say (1 ms early counts: timers round). */
  int stalled = silent >= e->no_progress_ms - 1;
  if (stalled || (e->consec_timeouts > e->retries && silent >= e->give_up_ms)) {
    char d[80];
    if (stalled) snprintf(d, sizeof d, "no progress for %g s", e->no_progress_ms / 1000);
    else snprintf(d, sizeof d, "no ACK after %u retries", e->retries);
    int all_sent = !e->oack_state && e->sent_high >= e->total;
    finish(e, all_sent ? "final-ack-timeout" : "timeout", d);
    return;
  }
  e->backoff = e->backoff * 2 > 64 ? 64 : e->backoff * 2;
  rto_update(e);
  e->sample_block = -1;
  if (e->oack_state) {
    e->oack_retx = 1;
    e->retrans++;
    if (send(e->sock, e->oack, e->oack_len, 0) < 0 && peer_error(e, errno)) return;
    arm(e);
    return;
  }
  e->dup_goback_done = 0;
  e->next = e->acked + 1;
  send_window(e);
}

/* ---------- the engine thread ---------- */

/* Engine thread: first packets of a queued transfer. */
static void start_on_worker(Engine *e) {
  uv_loop_t *loop = &e->w->loop;
  e->poll.data = e->spoll.data = e->timer.data = e;
  /* Count each handle as it is made, so finish() closes exactly those. */
  int r = uv_poll_init(loop, &e->poll, e->sock);
  if (!r) e->polling |= 1, e->handles_open++, r = uv_poll_init(loop, &e->spoll, e->stray);
  if (!r) e->polling |= 2, e->handles_open++, r = uv_timer_init(loop, &e->timer);
  if (!r) e->polling |= 4, e->handles_open++, r = uv_poll_start(&e->poll, UV_READABLE, on_readable);
  if (!r) r = uv_poll_start(&e->spoll, UV_READABLE, on_stray);
  if (r) {
    finish(e, "io-error", uv_strerror(r));
    return;
  }
  if (e->oack_state) {
    e->oack_sent_at = now_ms();
    send(e->sock, e->oack, e->oack_len, 0);
    arm(e);
  } else {
    send_window(e);
  }
}

static void close_any(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

static void on_wake(uv_async_t *a) {
  Worker *w = a->data;
  /* The queue is newest first; the batch comes out oldest first (arrival order). */
  Engine *batch = NULL;
  uv_mutex_lock(&w->mu);
  for (Engine *e = w->cmds; e; e = e->cmd_next) {
    e->queued = 0;
    e->abort_seen = e->abort_req;
    e->run_next = batch;
    batch = e;
  }
  w->cmds = NULL;
  int stopping = w->stopping;
  uv_mutex_unlock(&w->mu);
  if (stopping) {
    /* Environment teardown: free every port now; worker_cleanup frees the engines. */
    uv_mutex_lock(&w->mu);
    for (Engine *e = w->live; e; e = e->live_next) {
      if (e->sock >= 0) close(e->sock);
      if (e->stray >= 0) close(e->stray);
      e->sock = e->stray = -1;
      e->closed = 1;
    }
    uv_cond_broadcast(&w->closed_cv);
    uv_mutex_unlock(&w->mu);
    uv_walk(&w->loop, close_any, NULL);
    return;
  }
  for (Engine *e = batch, *n; e; e = n) {
    n = e->run_next; /* finish() may hand e back to JS, which frees it */
    if (e->abort_seen) finish(e, "aborted", NULL);
    else if (!e->polling && !e->finished) {
      /* An abort may have come since the batch was taken: then send nothing. */
      uv_mutex_lock(&w->mu);
      int aborted = e->abort_req;
      uv_mutex_unlock(&w->mu);
      if (aborted) finish(e, "aborted", NULL);
      else start_on_worker(e);
    }
  }
}

static void worker_main(void *arg) {
  Worker *w = arg;
  uv_run(&w->loop, UV_RUN_DEFAULT);
}

/* JS thread: report and free what the engine thread finished. */
static void on_done(uv_async_t *a) {
  Worker *w = a->data;
  /* Reported in the order they finished; the engine thread no longer touches them. */
  Engine *batch = NULL;
  uv_mutex_lock(&w->mu);
  for (Engine *e = w->finished, *n; e; e = n) {
    n = e->done_next;
    e->done_next = batch;
    batch = e;
  }
  w->finished = NULL;
  uv_mutex_unlock(&w->mu);
  for (Engine *e = batch, *n; e; e = n) {
    n = e->done_next;
    notify(e);
    free_engine(e);
  }
}

static void worker_cleanup(void *arg) {
  Worker *w = arg;
  if (!w->running) return;
  uv_mutex_lock(&w->mu);
  w->stopping = 1;
  uv_mutex_unlock(&w->mu);
  uv_async_send(&w->wake);
  uv_thread_join(&w->thread);
  uv_loop_close(&w->loop);
  w->running = 0;
  /* Not reported (JS is going away), but freed: references, async contexts, memory. */
  for (Engine *e = w->live, *n; e; e = n) {
    n = e->live_next;
    free_engine(e);
  }
  for (Engine *e = w->finished, *n; e; e = n) {
    n = e->done_next;
    free_engine(e);
  }
  w->live = w->finished = NULL;
  uv_close((uv_handle_t *)&w->done, NULL);
  /* w itself stays: the done handle may still be closing on Node's loop */
}

/* The environment's engine threads (napi instance data). */
#define MAX_WORKERS 8
typedef struct {
  Worker *w[MAX_WORKERS];
  unsigned n, rr;
} Pool;

static Pool *pool_of(napi_env env) {
  Pool *p = NULL;
  if (napi_get_instance_data(env, (void **)&p) == napi_ok && p) return p;
  p = calloc(1, sizeof *p);
  if (!p) return (Pool *)throw_errno(env, "calloc", ENOMEM);
  unsigned n = uv_available_parallelism();
  const char *want = getenv("LANBOOT_TFTP_THREADS");
  if (want && atoi(want) > 0) n = (unsigned)atoi(want);
  p->n = n < 1 ? 1 : n > MAX_WORKERS ? MAX_WORKERS : n;
  napi_set_instance_data(env, p, NULL, NULL);
  return p;
}

/* An engine thread for the next transfer (round robin), started on first use. NULL = threw. */
static Worker *worker_of(napi_env env) {
  Pool *p = pool_of(env);
  if (!p) return NULL;
  unsigned i = p->rr++ % p->n;
  Worker *w = p->w[i];
  if (w && w->running) return w;
  if (w) {
    napi_throw_error(env, "ERR_LANBOOT_ENGINE", "TFTP engine threads are shutting down");
    return NULL;
  }
  /* A fresh struct per attempt: after a failure the old one may still have a
   * handle closing on Node's loop, so it is left alone (a few bytes). */
  w = calloc(1, sizeof *w);
  if (!w) return (Worker *)throw_errno(env, "calloc", ENOMEM);
  w->env = env;
  uv_mutex_init(&w->mu);
  uv_cond_init(&w->closed_cv);
  uv_loop_t *node_loop;
  int r;
  napi_get_uv_event_loop(env, &node_loop);
  if ((r = uv_loop_init(&w->loop)) != 0) return (Worker *)throw_errno(env, "uv_loop_init", -r);
  if ((r = uv_async_init(&w->loop, &w->wake, on_wake)) != 0) {
    uv_loop_close(&w->loop);
    return (Worker *)throw_errno(env, "uv_async_init", -r);
  }
  w->wake.data = w;
  if ((r = uv_async_init(node_loop, &w->done, on_done)) != 0) {
    uv_close((uv_handle_t *)&w->wake, NULL);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    uv_loop_close(&w->loop);
    return (Worker *)throw_errno(env, "uv_async_init", -r);
  }
  w->done.data = w;
  uv_unref((uv_handle_t *)&w->done); /* transfers do not keep Node alive; the server socket does */
  if ((r = uv_thread_create(&w->thread, worker_main, w)) != 0) {
    uv_close((uv_handle_t *)&w->done, NULL);
    uv_close((uv_handle_t *)&w->wake, NULL);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    uv_loop_close(&w->loop);
    return (Worker *)throw_errno(env, "uv_thread_create", -r);
  }
  w->running = 1;
  p->w[i] = w;
  napi_add_env_cleanup_hook(env, worker_cleanup, w);
  return w;
}

/* ---------- JS surface ---------- */

static void set_num(napi_env env, napi_value o, const char *k, double v) {
  napi_value x;
  napi_create_double(env, v, &x);
  napi_set_named_property(env, o, k, x);
}

static napi_value stats_obj(napi_env env, Engine *e) {
  napi_value o, s;
  napi_create_object(env, &o);
  uint64_t blocks = e->acked < e->total ? e->acked : e->total;
  uint64_t bytes = e->acked * (uint64_t)e->B;
  if (bytes > e->size) bytes = e->size;
  set_num(env, o, "bytes", (double)bytes);
  set_num(env, o, "blocks", (double)blocks);
  set_num(env, o, "retransmissions", e->retrans);
  set_num(env, o, "duplicateAcks", e->dup_acks);
  set_num(env, o, "goBacks", e->gobacks);
  int fin = __atomic_load_n(&e->finished, __ATOMIC_ACQUIRE);
  set_num(env, o, "durationMs", (fin ? e->ended : now_ms()) - e->started);
  set_num(env, o, "rttMs", e->srtt);
  set_num(env, o, "strangers", e->strangers);
  set_num(env, o, "malformed", e->malformed);
  set_num(env, o, "port", 0);
  napi_create_string_utf8(env, fin && e->outcome ? e->outcome : "", NAPI_AUTO_LENGTH, &s);
  napi_set_named_property(env, o, "outcome", s);
  napi_create_string_utf8(env, fin ? e->detail : "", NAPI_AUTO_LENGTH, &s);
  napi_set_named_property(env, o, "detail", s);
  return o;
}

static void free_engine(Engine *e) {
  if (e->box) e->box->e = NULL;
  if (e->cb) napi_delete_reference(e->env, e->cb);
  if (e->data_ref) napi_delete_reference(e->env, e->data_ref);
  if (e->actx) napi_async_destroy(e->env, e->actx);
  free(e->oack);
  free(e->tx);
  free(e);
}

/* JS thread: report once (never after abort). */
static void notify(Engine *e) {
  napi_env env = e->env;
  if (e->notified) return;
  e->notified = 1;
  if (!e->no_cb && e->cb) {
    napi_handle_scope hs;
    napi_value cb, recv, arg, res;
    napi_open_handle_scope(env, &hs);
    napi_get_reference_value(env, e->cb, &cb);
    napi_get_global(env, &recv); /* napi_make_callback needs an object receiver */
    arg = stats_obj(env, e);
    if (napi_make_callback(env, e->actx, recv, cb, 1, &arg, &res) == napi_pending_exception) {
      napi_value err;
      napi_get_and_clear_last_exception(env, &err);
      napi_fatal_exception(env, err);
    }
    napi_close_handle_scope(env, hs);
  }
}

static void box_finalize(napi_env env, void *data, void *hint) {
  Box *b = data;
  (void)env; (void)hint;
  if (b->e) b->e->box = NULL;
  free(b);
}

static int get_prop(napi_env env, napi_value obj, const char *k, napi_value *v, napi_valuetype want) {
  bool has = false;
  napi_valuetype t;
  if (napi_has_named_property(env, obj, k, &has) != napi_ok || !has) return 0;
  if (napi_get_named_property(env, obj, k, v) != napi_ok) return 0;
  if (napi_typeof(env, *v, &t) != napi_ok || t != want) return 0;
  return 1;
}

static int get_int(napi_env env, napi_value obj, const char *k, double lo, double hi, double *out) {
  napi_value v;
  double d;
  if (!get_prop(env, obj, k, &v, napi_number)) return 0;
  napi_get_value_double(env, v, &d);
  if (d != d || d < lo || d > hi || d != (double)(int64_t)d) return 0;
  *out = d;
  return 1;
}

static int get_ip(napi_env env, napi_value obj, const char *k, struct in_addr *out) {
  napi_value v;
  char s[64];
  size_t n;
  if (!get_prop(env, obj, k, &v, napi_string)) return 0;
  if (napi_get_value_string_utf8(env, v, s, sizeof s, &n) != napi_ok) return 0;
  return inet_pton(AF_INET, s, out) == 1;
}

/*
 * engineStart(opts, onDone) -> handle
 * opts: { fd?: number, data?: Buffer, size, localAddress, localPort, peerAddress,
 *         peerPort, blksize, windowsize, rtoInitialMs, rtoMinMs, rtoMaxMs,
 *         retries, giveUpMs, noProgressMs, oack?: Buffer, probeCandidate?: boolean }
 * The handle has .port (the bound TID). Throws EADDRINUSE etc. from bind.
 */
static napi_value engine_start(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], v, handle, port;
  napi_valuetype t;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 2 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_object)
    return throw_type(env, "engineStart(opts, onDone): opts must be an object");
  if (napi_typeof(env, argv[1], &t) != napi_ok || t != napi_function)
    return throw_type(env, "engineStart(opts, onDone): onDone must be a function");
  napi_value o = argv[0];
  double size, lport, pport, blk, win, rinit, rmin, rmax, retries, giveup, noprog, fd = -1;
  struct in_addr laddr, paddr;
  if (!get_int(env, o, "size", 0, 9007199254740991.0, &size)) return throw_type(env, "size must be a non-negative integer");
  if (!get_int(env, o, "localPort", 0, 65535, &lport)) return throw_type(env, "localPort must be 0..65535");
  if (!get_int(env, o, "peerPort", 1, 65535, &pport)) return throw_type(env, "peerPort must be 1..65535");
  if (!get_int(env, o, "blksize", 8, 65464, &blk)) return throw_type(env, "blksize must be 8..65464");
  if (!get_int(env, o, "windowsize", 1, 65535, &win)) return throw_type(env, "windowsize must be 1..65535");
  if (!get_int(env, o, "rtoInitialMs", 1, 3600000, &rinit) || !get_int(env, o, "rtoMinMs", 1, 3600000, &rmin) ||
      !get_int(env, o, "rtoMaxMs", 1, 3600000, &rmax))
    return throw_type(env, "rtoInitialMs/rtoMinMs/rtoMaxMs must be integers 1..3600000");
  if (!get_int(env, o, "retries", 0, 1000, &retries)) return throw_type(env, "retries must be 0..1000");
  if (!get_int(env, o, "giveUpMs", 0, 86400000, &giveup)) return throw_type(env, "giveUpMs must be 0..86400000");
  if (!get_int(env, o, "noProgressMs", 1, 86400000, &noprog)) return throw_type(env, "noProgressMs must be 1..86400000");
  if (!get_ip(env, o, "localAddress", &laddr)) return throw_type(env, "localAddress must be an IPv4 literal");
  if (!get_ip(env, o, "peerAddress", &paddr)) return throw_type(env, "peerAddress must be an IPv4 literal");
  const uint8_t *data = NULL;
  size_t data_len = 0;
  napi_value data_v = NULL;
  bool isbuf = false;
  if (get_prop(env, o, "data", &v, napi_object)) {
    if (napi_is_buffer(env, v, &isbuf) != napi_ok || !isbuf) return throw_type(env, "data must be a Buffer");
    void *p;
    napi_get_buffer_info(env, v, &p, &data_len);
    data = p;
    data_v = v;
    if (data_len < size) return throw_type(env, "data is shorter than size");
  } else if (!get_int(env, o, "fd", 0, 2147483647, &fd)) {
    return throw_type(env, "either data (Buffer) or fd (integer) is required");
  }
  uint8_t *oack = NULL;
  size_t oack_len = 0;
  if (get_prop(env, o, "oack", &v, napi_object)) {
    void *p;
    if (napi_is_buffer(env, v, &isbuf) != napi_ok || !isbuf) return throw_type(env, "oack must be a Buffer");
    napi_get_buffer_info(env, v, &p, &oack_len);
    if (oack_len < 2 || oack_len > 65507) return throw_type(env, "oack length out of range");
    oack = malloc(oack_len);
    if (!oack) return throw_errno(env, "malloc", ENOMEM);
    memcpy(oack, p, oack_len);
  }
  bool probe = false;
  if (get_prop(env, o, "probeCandidate", &v, napi_boolean)) napi_get_value_bool(env, v, &probe);

  struct sockaddr_in la = {.sin_family = AF_INET, .sin_port = htons((uint16_t)lport), .sin_addr = laddr};
  struct sockaddr_in pa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)pport), .sin_addr = paddr};
  int one = 1, zero = 0, err = 0;
  const char *what = "socket";
  int st = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  socklen_t ll = sizeof la;
  if (st < 0 || s < 0) err = errno;
  /* Exclusive bind (a port nobody else holds), share it for the connected
   * socket only, then exclusive again. */
  else if (bind(st, (struct sockaddr *)&la, sizeof la) < 0) { err = errno; what = "bind"; }
  else if (getsockname(st, (struct sockaddr *)&la, &ll) < 0 ||
           setsockopt(st, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
           setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) { err = errno; what = "setsockopt"; }
  else if (bind(s, (struct sockaddr *)&la, sizeof la) < 0) { err = errno; what = "bind"; }
  else if (connect(s, (struct sockaddr *)&pa, sizeof pa) < 0) { err = errno; what = "connect"; }
  if (err) {
    if (st >= 0) close(st);
    if (s >= 0) close(s);
    free(oack);
    return throw_errno(env, what, err);
  }
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &zero, sizeof zero);
  setsockopt(st, SOL_SOCKET, SO_REUSEADDR, &zero, sizeof zero);
  int sb = (int)((win < 64 ? 64 : win) * (blk + 64));
  if (sb < 65536) sb = 65536;
  if (sb > 4 << 20) sb = 4 << 20;
  setsockopt(s, SOL_SOCKET, SO_SNDBUF, &sb, sizeof sb);
  int rb = 65536;
  setsockopt(s, SOL_SOCKET, SO_RCVBUF, &rb, sizeof rb);

  Worker *w = worker_of(env);
  if (!w) {
    close(s);
    close(st);
    free(oack);
    return NULL; /* worker_of threw */
  }
  Engine *e = calloc(1, sizeof *e);
  Box *box = calloc(1, sizeof *box);
  uint32_t batch = win < BATCH ? (uint32_t)win : BATCH;
  while (batch > 1 && (uint64_t)batch * (uint64_t)blk > (1u << 20)) batch /= 2;
  uint8_t *tx = data ? NULL : malloc((size_t)batch * (size_t)blk);
  if (!e || !box || (!data && !tx)) {
    free(e); free(box); free(tx); free(oack); close(s); close(st);
    return throw_errno(env, "calloc", ENOMEM);
  }
  e->env = env;
  e->sock = s;
  e->stray = st;
  e->file_fd = (int)fd;
  e->data = data;
  e->size = (uint64_t)size;
  e->peer.sin_family = AF_INET;
  e->peer.sin_port = htons((uint16_t)pport);
  e->peer.sin_addr = paddr;
  e->B = (uint32_t)blk;
  e->W = (uint32_t)win;
  e->total = e->size / e->B + 1;
  e->tx = tx;
  e->batch = batch;
  e->oack = oack;
  e->oack_len = oack_len;
  e->oack_state = oack != NULL;
  e->rto_init = rinit; e->rto_min = rmin; e->rto_max = rmax;
  e->backoff = 1;
  rto_update(e);
  e->retries = (uint32_t)retries;
  e->give_up_ms = giveup;
  e->no_progress_ms = noprog;
  e->started = e->last_progress = now_ms();
  e->sample_block = -1;
  e->probe_candidate = probe;
  e->next = 1;
  e->box = box;
  box->e = e;
  napi_value name;
  napi_create_string_utf8(env, "lanboot:tftp-engine", NAPI_AUTO_LENGTH, &name);
  if (napi_create_reference(env, argv[1], 1, &e->cb) != napi_ok ||
      (data_v && napi_create_reference(env, data_v, 1, &e->data_ref) != napi_ok) ||
      napi_async_init(env, NULL, name, &e->actx) != napi_ok ||
      napi_create_external(env, box, box_finalize, NULL, &handle) != napi_ok) {
    /* napi_create_external is the last step: nothing owns box yet */
    close(s);
    close(st);
    e->box = NULL;
    free(box);
    free_engine(e);
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) napi_throw_error(env, "ERR_LANBOOT_ENGINE", "engineStart: N-API setup failed");
    return NULL;
  }
  e->w = w;
  uv_mutex_lock(&w->mu);
  e->queued = 1;
  e->cmd_next = w->cmds;
  w->cmds = e;
  e->live_next = w->live;
  if (w->live) w->live->live_prev = e;
  w->live = e;
  uv_mutex_unlock(&w->mu);
  uv_async_send(&w->wake);
  napi_value result;
  napi_create_object(env, &result);
  napi_set_named_property(env, result, "handle", handle);
  napi_create_uint32(env, ntohs(la.sin_port), &port);
  napi_set_named_property(env, result, "port", port);
  return result;
}

static Engine *unwrap(napi_env env, napi_value v) {
  void *p = NULL;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external) return NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok || !p) return NULL;
  return ((Box *)p)->e;
}

/* engineStats(handle) -> stats, or null once the engine is gone. */
static napi_value engine_stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], nul;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_get_null(env, &nul);
  if (argc < 1) return throw_type(env, "engineStats(handle)");
  Engine *e = unwrap(env, argv[0]);
  return e ? stats_obj(env, e) : nul;
}

/* engineAbort(handle) -> final stats (null if already gone). No onDone afterwards. */
static napi_value engine_abort(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], nul;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_get_null(env, &nul);
  if (argc < 1) return throw_type(env, "engineAbort(handle)");
  Engine *e = unwrap(env, argv[0]);
  if (!e) return nul;
  e->no_cb = 1; /* read only here, on the JS thread, when the engine comes back */
  Worker *w = e->w;
  uv_mutex_lock(&w->mu);
  if (!e->closed && !w->stopping) {
    e->abort_req = 1;
    if (!e->queued) {
      e->queued = 1;
      e->cmd_next = w->cmds;
      w->cmds = e;
    }
    uv_async_send(&w->wake);
    /* The engine thread answers within one loop turn (its sockets never
     * block); waiting keeps the promise that the port is free on return. */
    while (!e->closed) uv_cond_wait(&w->closed_cv, &w->mu);
  }
  uv_mutex_unlock(&w->mu);
  return stats_obj(env, e);
}

/* engineFlush(): report finished transfers now instead of on the next loop turn. */
static napi_value engine_flush(napi_env env, napi_callback_info info) {
  (void)info;
  Pool *p = NULL;
  if (napi_get_instance_data(env, (void **)&p) != napi_ok || !p) return NULL;
  for (unsigned i = 0; i < p->n; i++)
    if (p->w[i] && p->w[i]->running) on_done(&p->w[i]->done);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "engineFlush", NAPI_AUTO_LENGTH, engine_flush, NULL, &fn);
  napi_set_named_property(env, exports, "engineFlush", fn);
  napi_create_function(env, "engineStart", NAPI_AUTO_LENGTH, engine_start, NULL, &fn);
  napi_set_named_property(env, exports, "engineStart", fn);
  napi_create_function(env, "engineStats", NAPI_AUTO_LENGTH, engine_stats, NULL, &fn);
  napi_set_named_property(env, exports, "engineStats", fn);
  napi_create_function(env, "engineAbort", NAPI_AUTO_LENGTH, engine_abort, NULL, &fn);
  napi_set_named_property(env, exports, "engineAbort", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
