// safe-mmap: a MAP_SHARED mapping of a file or block device, and copies between it and a Buffer that turn
// a SIGBUS into an error instead of a dead process (target/subsystem/backends/mapped.ts uses it).
//
// A mapped page the kernel cannot provide raises SIGBUS on the access: the file was truncated below it, a
// write fault found the file system full (a hole that cannot be allocated), the device failed a read. The
// handler, installed once when the module loads, jumps back into the copy that faulted when the faulting
// thread is inside a guarded copy and the address lies in that copy's mapped range; the copy then returns
// COPY_SIGBUS. Any other SIGBUS goes to the handler that was there before, or, with none, kills the process
// as the default action would (SIG_DFL restored, the signal raised again).
//
// Invariants:
//  - a guard is thread-local: only the thread that faulted is redirected, and only within its own copy;
//  - sigsetjmp(.., 0) saves no signal mask (no system call per copy); the handler runs with SA_NODEFER and
//    an empty sa_mask, so the mask is unchanged when it jumps back;
//  - a copy checks its range against the mapping's length; the caller checks it against the namespace.
//
// It also has tcpPositions(fd) (in-pod resume, target/resume/tcp-positions.ts): how many bytes of a TCP
// socket's stream any process took from the kernel, and how many it gave the kernel, so a worker that takes
// over a socket from a killed one knows exactly what that one read and wrote.
// Node-API only (ABI-stable): one build serves every Node release.
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/sockios.h>
#include <linux/tcp.h>

enum { COPY_OK = 0, COPY_SIGBUS = 1, COPY_RANGE = 2 };

typedef struct {
  char *base;
  size_t length;
} mapping;

typedef struct {
  sigjmp_buf jb;
  const char *lo, *hi; // the mapped range the copy touches
} guard;

static __thread guard *volatile tl_guard;
static struct sigaction previous;

static void on_sigbus(int sig, siginfo_t *si, void *uc) {
  guard *g = tl_guard;
  const char *at = (const char *)si->si_addr;
  if (g != NULL && at >= g->lo && at < g->hi) {
    tl_guard = NULL;
    siglongjmp(g->jb, 1);
  }
  if ((previous.sa_flags & SA_SIGINFO) && previous.sa_sigaction != NULL) {
    previous.sa_sigaction(sig, si, uc);
    return;
  }
  if (!(previous.sa_flags & SA_SIGINFO) && previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
    previous.sa_handler(sig);
    return;
  }
  signal(SIGBUS, SIG_DFL);
  raise(SIGBUS);
}

static int install(void) {
  static int installed; // the module can load more than once (worker threads): one handler per process
  if (installed) return 0;
  installed = 1;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_sigbus;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  return sigaction(SIGBUS, &sa, &previous);
}

/** Copies n bytes; `mapped` (in the mapping) is the source or the destination. */
static int guarded_copy(void *dst, const void *src, size_t n, const char *mapped) {
  guard g;
  g.lo = mapped;
  g.hi = mapped + n;
  if (sigsetjmp(g.jb, 0) != 0) return COPY_SIGBUS;
  tl_guard = &g;
  memcpy(dst, src, n);
  tl_guard = NULL;
  return COPY_OK;
}

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_throw_error(env, strerrorname_np(err), msg);
  return NULL;
}

static napi_value num(napi_env env, double v) {
  napi_value r;
  napi_create_double(env, v, &r);
  return r;
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  mapping *m = data;
  if (m->base != NULL) munmap(m->base, m->length);
  free(m);
}

static mapping *mapping_of(napi_env env, napi_value v) {
  mapping *m = NULL;
  if (napi_get_value_external(env, v, (void **)&m) != napi_ok || m == NULL || m->base == NULL) {
    napi_throw_type_error(env, NULL, "not an open mapping");
    return NULL;
  }
  return m;
}

// map(fd, length) -> mapping: the first `length` bytes of fd, shared, read and write.
static napi_value js_map(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd;
  int64_t length;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_int64(env, argv[1], &length) != napi_ok || length <= 0) {
    napi_throw_type_error(env, NULL, "map(fd, length > 0)");
    return NULL;
  }
  void *p = mmap(NULL, (size_t)length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return throw_errno(env, "mmap", errno);
  mapping *m = malloc(sizeof *m);
  m->base = p;
  m->length = (size_t)length;
  napi_value r;
  napi_create_external(env, m, finalize, NULL, &r);
  return r;
}

// remap(mapping, length): the mapping now covers `length` bytes (it may move).
static napi_value js_remap(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int64_t length;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  mapping *m = argc < 2 ? NULL : mapping_of(env, argv[0]);
  if (m == NULL) return NULL;
  if (napi_get_value_int64(env, argv[1], &length) != napi_ok || length <= 0) {
    napi_throw_type_error(env, NULL, "remap(mapping, length > 0)");
    return NULL;
  }
  void *p = mremap(m->base, m->length, (size_t)length, MREMAP_MAYMOVE);
  if (p == MAP_FAILED) return throw_errno(env, "mremap", errno);
  m->base = p;
  m->length = (size_t)length;
  return NULL;
}

// unmap(mapping): later calls on it throw.
static napi_value js_unmap(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  mapping *m = argc < 1 ? NULL : mapping_of(env, argv[0]);
  if (m == NULL) return NULL;
  munmap(m->base, m->length);
  m->base = NULL;
  m->length = 0;
  return NULL;
}

// copy(mapping, offset, buffer, length, toMapping) -> COPY_OK | COPY_SIGBUS | COPY_RANGE: `length` bytes
// between the mapping at `offset` and the start of `buffer` (a Uint8Array of at least `length` bytes).
static napi_value js_copy(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  int64_t offset, length;
  bool to_mapping;
  napi_typedarray_type type;
  size_t elems;
  void *data;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  mapping *m = argc < 5 ? NULL : mapping_of(env, argv[0]);
  if (m == NULL) return NULL;
  if (napi_get_value_int64(env, argv[1], &offset) != napi_ok || napi_get_value_int64(env, argv[3], &length) != napi_ok ||
      napi_get_value_bool(env, argv[4], &to_mapping) != napi_ok ||
      napi_get_typedarray_info(env, argv[2], &type, &elems, &data, NULL, NULL) != napi_ok || type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "copy(mapping, offset, Uint8Array, length, toMapping)");
    return NULL;
  }
  if (offset < 0 || length < 0 || (uint64_t)length > elems || (uint64_t)offset + (uint64_t)length > m->length) return num(env, COPY_RANGE);
  char *at = m->base + offset;
  return num(env, to_mapping ? guarded_copy(at, data, (size_t)length, at) : guarded_copy(data, at, (size_t)length, at));
}

// The kernel's TCP states (include/net/tcp_states.h) after a FIN came in, and after ours was queued: each
// FIN counts one sequence number in the byte counters below, which are about data only.
enum { ST_FIN_WAIT1 = 4, ST_FIN_WAIT2 = 5, ST_TIME_WAIT = 6, ST_CLOSE_WAIT = 8, ST_LAST_ACK = 9, ST_CLOSING = 11 };

// tcpPositions(fd) -> [consumed, written]: the bytes of the stream read from the socket so far (by any
// process holding it: tcpi_bytes_received - SIOCINQ) and written to it so far (tcpi_bytes_acked + SIOCOUTQ),
// FINs left out. The three reads are not atomic together; while nobody reads or writes the socket, SIOCINQ
// only grows (data arrives) and SIOCOUTQ only shrinks (acks arrive), so the queues are read before and after
// TCP_INFO and the three read again until the queues are the same both times: a consistent snapshot.
static napi_value js_tcp_positions(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, NULL, "tcpPositions(fd)");
    return NULL;
  }
  for (int tries = 0; tries < 1000; tries++) {
    int inq1, inq2, outq1, outq2;
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    memset(&ti, 0, sizeof ti);
    if (ioctl(fd, SIOCINQ, &inq1) != 0 || ioctl(fd, SIOCOUTQ, &outq1) != 0) return throw_errno(env, "ioctl(SIOCINQ/SIOCOUTQ)", errno);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0) return throw_errno(env, "getsockopt(TCP_INFO)", errno);
    if (ioctl(fd, SIOCINQ, &inq2) != 0 || ioctl(fd, SIOCOUTQ, &outq2) != 0) return throw_errno(env, "ioctl(SIOCINQ/SIOCOUTQ)", errno);
    if (inq1 != inq2 || outq1 != outq2) continue;
    if (len < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof ti.tcpi_bytes_received) return throw_errno(env, "getsockopt(TCP_INFO): no byte counters", ENOTSUP);
    uint64_t consumed = ti.tcpi_bytes_received - (uint64_t)inq1;
    uint64_t written = ti.tcpi_bytes_acked + (uint64_t)outq1;
    int st = ti.tcpi_state;
    if ((st == ST_CLOSE_WAIT || st == ST_LAST_ACK || st == ST_CLOSING || st == ST_TIME_WAIT) && consumed > 0) consumed--;
    if ((st == ST_FIN_WAIT1 || st == ST_FIN_WAIT2 || st == ST_CLOSING || st == ST_LAST_ACK || st == ST_TIME_WAIT) && written > 0) written--;
    napi_value out;
    napi_create_array_with_length(env, 2, &out);
    napi_set_element(env, out, 0, num(env, (double)consumed));
    napi_set_element(env, out, 1, num(env, (double)written));
    return out;
  }
  return throw_errno(env, "tcpPositions: the socket's queues kept moving", EAGAIN);
}

static napi_value init(napi_env env, napi_value exports) {
  if (install() != 0) return throw_errno(env, "sigaction(SIGBUS)", errno);
  napi_property_descriptor props[] = {
    { "map", NULL, js_map, NULL, NULL, NULL, napi_enumerable, NULL },
    { "remap", NULL, js_remap, NULL, NULL, NULL, napi_enumerable, NULL },
    { "unmap", NULL, js_unmap, NULL, NULL, NULL, napi_enumerable, NULL },
    { "copy", NULL, js_copy, NULL, NULL, NULL, napi_enumerable, NULL },
    { "tcpPositions", NULL, js_tcp_positions, NULL, NULL, NULL, napi_enumerable, NULL },
    { "COPY_OK", NULL, NULL, NULL, NULL, num(env, COPY_OK), napi_enumerable, NULL },
    { "COPY_SIGBUS", NULL, NULL, NULL, NULL, num(env, COPY_SIGBUS), napi_enumerable, NULL },
    { "COPY_RANGE", NULL, NULL, NULL, NULL, num(env, COPY_RANGE), napi_enumerable, NULL },
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(safe_mmap, init)
