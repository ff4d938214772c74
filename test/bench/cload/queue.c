/* One NVMe/TCP queue of a host (see queue.h for its invariants). */
#include "queue.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "crc32c.h"
#include "le.h"
#include "wire.h"

/* Large enough for a burst of 128 KiB C2HData PDUs; a partial header is moved to the front between recv()s. */
#define RBUF_SIZE (512u * 1024u)
#define RX_HEADER 0
#define RX_DATA 1
/* PSDT = 01b: fabrics commands describe their data with SGLs (NVMe over Fabrics 1.1, 2.1). */
#define SQE_FLAGS_SGL 0x40

static void fail(struct queue *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct queue *q, const char *fmt, ...) {
  if (q->failed) return;
  q->failed = true;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(q->error, sizeof q->error, fmt, ap);
  va_end(ap);
  for (uint32_t cid = 0; cid < q->depth; cid++) {
    struct cmd *c = &q->cmds[cid];
    if (!c->busy) continue;
    c->busy = false;
    q->freelist[q->nfree++] = (uint16_t)cid;
    q->on_complete(q->user, q, c->tag, QUEUE_FAILED, 0);
  }
}

static uint32_t align_up(uint32_t v, uint32_t a) { return (v + a - 1) / a * a; }

/* Room for n more bytes at the end of tbuf (valid until the next call). */
static uint8_t *tx_reserve(struct queue *q, size_t n) {
  if (q->toff == q->tlen) q->toff = q->tlen = 0;
  if (q->tlen + n > q->tcap) {
    size_t cap = q->tcap ? q->tcap : 65536;
    while (cap < q->tlen + n) cap *= 2;
    uint8_t *b = realloc(q->tbuf, cap);
    if (!b) {
      fprintf(stderr, "cload: out of memory growing a send buffer to %zu bytes\n", cap);
      exit(1);
    }
    q->tbuf = b;
    q->tcap = cap;
  }
  uint8_t *p = q->tbuf + q->tlen;
  q->tlen += n;
  return p;
}

/* Common header, plus the header digest when negotiated; returns where the PDU's data goes (at PDO). */
static uint8_t *put_pdu(struct queue *q, uint8_t type, uint8_t flags, uint8_t hlen, const uint8_t *data, uint32_t datal, uint8_t **hdr) {
  uint32_t hd = q->hdgst ? WIRE_DIGEST_LEN : 0;
  uint32_t dd = q->ddgst && datal ? WIRE_DIGEST_LEN : 0;
  uint32_t pdo = datal ? align_up(hlen + hd, q->cpda_bytes) : 0;
  uint32_t plen = (datal ? pdo + datal : hlen + hd) + dd;
  uint8_t *p = tx_reserve(q, plen);
  memset(p, 0, datal ? pdo : hlen + hd);
  p[CH_TYPE] = type;
  p[CH_FLAGS] = (uint8_t)(flags | (hd ? PDU_FLAG_HDGSTF : 0) | (dd ? PDU_FLAG_DDGSTF : 0));
  p[CH_HLEN] = hlen;
  p[CH_PDO] = (uint8_t)pdo;
  put32(p + CH_PLEN, plen);
  *hdr = p;
  if (datal) {
    memcpy(p + pdo, data, datal);
    if (dd) put32(p + pdo + datal, crc32c(data, datal));
  }
  return p;
}

/* The header digest covers the HLEN bytes of the header; written once the header's fields are final. */
static void seal_header(struct queue *q, uint8_t *hdr) {
  if (q->hdgst) put32(hdr + hdr[CH_HLEN], crc32c(hdr, hdr[CH_HLEN]));
}

int queue_submit(struct queue *q, uint8_t sqe[64], uint8_t *buf, uint32_t len, bool write, uint64_t tag) {
  if (q->failed || !q->nfree) return -1;
  uint16_t cid = q->freelist[--q->nfree];
  struct cmd *c = &q->cmds[cid];
  bool in_capsule = write && len && len <= q->in_capsule_max;
  *c = (struct cmd){ .buf = buf, .len = len, .tag = tag, .busy = true, .write = write, .in_capsule = in_capsule };
  sqe[SQE_FLAGS] = SQE_FLAGS_SGL;
  put16(sqe + SQE_CID, cid);
  /* In-capsule data: a Data Block descriptor with offset 0 into the capsule's data; otherwise a Transport SGL
     Data Block the controller fills with R2T/C2HData (NVMe/TCP 1.0, 3.3; Linux nvme_tcp_set_sg_inline and
     nvme_tcp_set_sg_host_data). */
  put64(sqe + SQE_SGL_ADDR, 0);
  put32(sqe + SQE_SGL_LEN, len);
  memset(sqe + SQE_SGL_LEN + 4, 0, 3);
  sqe[SQE_SGL_TYPE] = in_capsule ? SGL_ID_IN_CAPSULE : SGL_ID_TRANSPORT;
  uint8_t *hdr;
  put_pdu(q, PDU_TYPE_CAPSULE_CMD, 0, HLEN_CAPSULE_CMD, in_capsule ? buf : NULL, in_capsule ? len : 0, &hdr);
  memcpy(hdr + WIRE_CAPSULE_SQE, sqe, WIRE_SQE_SIZE);
  seal_header(q, hdr);
  return cid;
}

int queue_flush(struct queue *q) {
  while (q->toff < q->tlen && !q->failed) {
    ssize_t n = send(q->fd, q->tbuf + q->toff, q->tlen - q->toff, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      q->toff += (size_t)n;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return 0;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      fail(q, "send: %s", n < 0 ? strerror(errno) : "0 bytes");
    }
  }
  if (q->toff == q->tlen) q->toff = q->tlen = 0;
  return q->failed ? -1 : 0;
}

static void complete(struct queue *q, uint16_t cid, int status, uint32_t dw0) {
  struct cmd *c = &q->cmds[cid];
  c->busy = false;
  q->freelist[q->nfree++] = cid;
  q->on_complete(q->user, q, c->tag, status, dw0);
}

static struct cmd *busy_cmd(struct queue *q, uint16_t cid, const char *what) {
  if (cid >= q->depth || !q->cmds[cid].busy) {
    fail(q, "%s for CID %u, which is not outstanding", what, cid);
    return NULL;
  }
  return &q->cmds[cid];
}

/* R2T: the range [R2TO, R2TO + R2TL) of a write leaves in H2CData PDUs of at most MAXH2CDATA bytes. */
static void on_r2t(struct queue *q, const uint8_t *h) {
  uint16_t cid = get16(h + R2T_CCCID);
  struct cmd *c = busy_cmd(q, cid, "R2T");
  if (!c) return;
  uint32_t off = get32(h + R2T_R2TO), len = get32(h + R2T_R2TL);
  if (!c->write || c->in_capsule || len == 0 || off > c->len || len > c->len - off) {
    fail(q, "R2T for CID %u asks for [%u, +%u) of a %s of %u bytes", cid, off, len, c->write ? (c->in_capsule ? "write sent in its capsule" : "write") : "read", c->len);
    return;
  }
  for (uint32_t end = off + len; off < end;) {
    uint32_t n = end - off < q->maxh2cdata ? end - off : q->maxh2cdata;
    uint8_t *hdr;
    put_pdu(q, PDU_TYPE_H2C_DATA, off + n == end ? PDU_FLAG_DATA_LAST : 0, HLEN_DATA, c->buf + off, n, &hdr);
    put16(hdr + DATA_CCCID, cid);
    put16(hdr + DATA_TTAG, get16(h + R2T_TTAG));
    put32(hdr + DATA_DATAO, off);
    put32(hdr + DATA_DATAL, n);
    seal_header(q, hdr);
    off += n;
  }
}

static void on_c2h_data(struct queue *q, const uint8_t *h, uint32_t htotal, uint32_t plen) {
  uint16_t cid = get16(h + DATA_CCCID);
  struct cmd *c = busy_cmd(q, cid, "C2HData");
  if (!c) return;
  uint32_t datao = get32(h + DATA_DATAO), datal = get32(h + DATA_DATAL), pdo = h[CH_PDO];
  uint32_t dd = h[CH_FLAGS] & PDU_FLAG_DDGSTF ? WIRE_DIGEST_LEN : 0;
  if (c->write || datao != c->got || datal > c->len - c->got) {
    fail(q, "C2HData for CID %u: [%u, +%u) of a %s of %u bytes, %u received", cid, datao, datal, c->write ? "write" : "read", c->len, c->got);
    return;
  }
  if (datal == 0 || pdo < htotal || plen != pdo + datal + dd) {
    fail(q, "C2HData for CID %u: PDO %u, DATAL %u and PLEN %u do not fit a %u-byte header", cid, pdo, datal, plen, htotal);
    return;
  }
  if (dd && !q->ddgst) {
    fail(q, "C2HData carries a data digest, which ICResp did not negotiate");
    return;
  }
  q->rcmd = c;
  q->rcid = cid;
  q->rflags = h[CH_FLAGS];
  q->rpad = pdo - htotal;
  q->rdata = q->rdatal = datal;
  q->rdatao = datao;
  q->rdd = dd;
  q->rcrc = CRC32C_INIT;
  q->rstate = RX_DATA;
}

/* The data phase of a C2HData: padding to PDO, the data into the command's buffer, the data digest. */
static void rx_data(struct queue *q) {
  while (q->rhead < q->rtail && q->rstate == RX_DATA) {
    size_t avail = q->rtail - q->rhead;
    const uint8_t *p = q->rbuf + q->rhead;
    if (q->rpad) {
      uint32_t n = avail < q->rpad ? (uint32_t)avail : q->rpad;
      q->rpad -= n;
      q->rhead += n;
    } else if (q->rdata) {
      uint32_t n = avail < q->rdata ? (uint32_t)avail : q->rdata;
      uint32_t at = q->rdatao + (q->rdatal - q->rdata);
      memcpy(q->rcmd->buf + at, p, n);
      if (q->rdd) q->rcrc = crc32c_update(q->rcrc, p, n);
      q->rdata -= n;
      q->rhead += n;
    } else if (q->rdd) {
      uint32_t n = avail < q->rdd ? (uint32_t)avail : q->rdd;
      memcpy(q->rddgst + (WIRE_DIGEST_LEN - q->rdd), p, n);
      q->rdd -= n;
      q->rhead += n;
      if (!q->rdd && get32(q->rddgst) != crc32c_final(q->rcrc)) {
        fail(q, "C2HData for CID %u: data digest mismatch", q->rcid);
        return;
      }
    }
    if (!q->rpad && !q->rdata && !q->rdd) {
      q->rstate = RX_HEADER;
      q->rcmd->got += q->rdatal;
      /* SUCCESS with LAST_PDU completes the command without a CapsuleResp (NVMe/TCP 1.0, 3.6.2.7). A host
         asks for it by disabling SQ flow control, which this one never does; Linux's host still accepts it
         whenever it comes (nvme_tcp_recv_data), and so does this one. */
      if ((q->rflags & PDU_FLAG_DATA_SUCCESS) && (q->rflags & PDU_FLAG_DATA_LAST)) complete(q, q->rcid, 0, 0);
    }
  }
}

static uint32_t expected_hlen(uint8_t type) {
  switch (type) {
    case PDU_TYPE_IC_RESP: return HLEN_IC_RESP;
    case PDU_TYPE_C2H_TERM_REQ: return HLEN_TERM_REQ;
    case PDU_TYPE_CAPSULE_RESP: return HLEN_CAPSULE_RESP;
    case PDU_TYPE_C2H_DATA: return HLEN_DATA;
    case PDU_TYPE_R2T: return HLEN_R2T;
    default: return 0;
  }
}

/* Handles every whole header in [rhead, rtail) and the data that follows them. */
static void rx_process(struct queue *q) {
  while (!q->failed) {
    if (q->rstate == RX_DATA) {
      rx_data(q);
      if (q->rstate == RX_DATA) break;
      continue;
    }
    size_t avail = q->rtail - q->rhead;
    if (avail < CH_SIZE) break;
    const uint8_t *h = q->rbuf + q->rhead;
    uint8_t type = h[CH_TYPE], flags = h[CH_FLAGS], hlen = h[CH_HLEN];
    uint32_t plen = get32(h + CH_PLEN);
    if (hlen != expected_hlen(type)) {
      fail(q, "PDU type 0x%02x with HLEN %u from the controller", type, hlen);
      break;
    }
    /* Header digests follow every PDU after the IC exchange once negotiated (NVMe/TCP 1.0, 3.6.1). */
    bool hd = type != PDU_TYPE_IC_RESP && q->hdgst;
    if (hd != !!(flags & PDU_FLAG_HDGSTF) && type != PDU_TYPE_C2H_TERM_REQ) {
      fail(q, "PDU type 0x%02x: HDGSTF is %s, header digests are %s", type, flags & PDU_FLAG_HDGSTF ? "set" : "clear", q->hdgst ? "on" : "off");
      break;
    }
    uint32_t htotal = hlen + (flags & PDU_FLAG_HDGSTF ? WIRE_DIGEST_LEN : 0);
    if (plen < htotal) {
      fail(q, "PDU type 0x%02x: PLEN %u shorter than its header", type, plen);
      break;
    }
    /* A TermReq is read whole: its data is the offending header, at most 128 bytes (NVMe/TCP 1.0, 3.6.2.9). */
    uint32_t need = type == PDU_TYPE_C2H_TERM_REQ ? plen : htotal;
    if (need > 4096) {
      fail(q, "C2HTermReq with PLEN %u", plen);
      break;
    }
    if (avail < need) break;
    if ((flags & PDU_FLAG_HDGSTF) && type != PDU_TYPE_C2H_TERM_REQ && get32(h + hlen) != crc32c(h, hlen)) {
      fail(q, "PDU type 0x%02x: header digest mismatch", type);
      break;
    }
    if (type != PDU_TYPE_C2H_DATA && type != PDU_TYPE_C2H_TERM_REQ && plen != htotal) {
      fail(q, "PDU type 0x%02x: PLEN %u, expected %u", type, plen, htotal);
      break;
    }
    if (!q->ic_done && type != PDU_TYPE_IC_RESP && type != PDU_TYPE_C2H_TERM_REQ) {
      fail(q, "PDU type 0x%02x before ICResp", type);
      break;
    }
    q->rhead += need;
    switch (type) {
      case PDU_TYPE_CAPSULE_RESP: {
        const uint8_t *cqe = h + WIRE_CAPSULE_CQE;
        uint16_t cid = get16(cqe + CQE_CID);
        if (busy_cmd(q, cid, "CapsuleResp")) complete(q, cid, get16(cqe + CQE_STATUS) >> 1, get32(cqe + CQE_DW0));
        break;
      }
      case PDU_TYPE_C2H_DATA: on_c2h_data(q, h, htotal, plen); break;
      case PDU_TYPE_R2T: on_r2t(q, h); break;
      case PDU_TYPE_IC_RESP: {
        uint8_t dgst = h[IC_DGST];
        uint32_t maxdata = get32(h + IC_MAXR2T_MAXDATA);
        /* Linux's host refuses the same (nvme_tcp_init_connection). */
        if (q->ic_done || get16(h + IC_PFV) != 0 || maxdata < 4096 || maxdata % 4 ||
            ((dgst & IC_DGST_HDGST) && !q->hdgst) || ((dgst & IC_DGST_DDGST) && !q->ddgst)) {
          fail(q, "ICResp: PFV %u, MAXH2CDATA %u, digests 0x%x (asked hdgst %d ddgst %d)%s", get16(h + IC_PFV), maxdata, dgst, q->hdgst, q->ddgst, q->ic_done ? ", a second one" : "");
          break;
        }
        q->hdgst = dgst & IC_DGST_HDGST;
        q->ddgst = dgst & IC_DGST_DDGST;
        q->cpda_bytes = (h[IC_HPDA_CPDA] + 1u) * 4u;
        q->maxh2cdata = maxdata;
        q->ic_done = true;
        break;
      }
      case PDU_TYPE_C2H_TERM_REQ:
        fail(q, "C2HTermReq: FES 0x%x, FEI 0x%x", get16(h + TERM_FES), get32(h + TERM_FEI));
        break;
    }
  }
  if (q->rhead == q->rtail) {
    q->rhead = q->rtail = 0;
  } else if (q->rstate == RX_HEADER && q->rhead) {
    memmove(q->rbuf, q->rbuf + q->rhead, q->rtail - q->rhead);
    q->rtail -= q->rhead;
    q->rhead = 0;
  }
}

long queue_receive(struct queue *q) {
  if (q->failed) return -1;
  if (q->rtail == q->rcap) {
    fail(q, "receive buffer full without a whole PDU header");
    return -1;
  }
  ssize_t n = recv(q->fd, q->rbuf + q->rtail, q->rcap - q->rtail, MSG_DONTWAIT);
  if (n > 0) {
    q->rtail += (size_t)n;
    rx_process(q);
    return q->failed ? -1 : n;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return 0;
  fail(q, "%s", n == 0 ? "the controller closed the connection" : strerror(errno));
  return -1;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Receives and sends until *done or the deadline; false on timeout or failure. */
static bool wait_for(struct queue *q, const bool *done, int timeout_ms, const char *what) {
  int64_t deadline = now_ms() + timeout_ms;
  while (!*done && !q->failed) {
    queue_flush(q);
    int64_t left = deadline - now_ms();
    if (left <= 0) {
      fail(q, "timeout after %d ms waiting for %s", timeout_ms, what);
      break;
    }
    struct pollfd p = { .fd = q->fd, .events = (short)(POLLIN | (queue_pending(q) ? POLLOUT : 0)) };
    if (poll(&p, 1, (int)left) > 0 && (p.revents & (POLLIN | POLLERR | POLLHUP))) queue_receive(q);
  }
  return *done;
}

struct sync_result {
  bool done;
  int status;
  uint32_t dw0;
};

static void sync_done(void *user, struct queue *q, uint64_t tag, int status, uint32_t dw0) {
  (void)q;
  (void)tag;
  struct sync_result *r = user;
  r->done = true;
  r->status = status;
  r->dw0 = dw0;
}

int queue_exec(struct queue *q, uint8_t sqe[64], uint8_t *buf, uint32_t len, bool write, uint32_t *dw0, int timeout_ms) {
  complete_fn saved = q->on_complete;
  void *saved_user = q->user;
  struct sync_result r = { 0 };
  q->on_complete = sync_done;
  q->user = &r;
  if (queue_submit(q, sqe, buf, len, write, 0) < 0) {
    if (!q->failed) snprintf(q->error, sizeof q->error, "no free command slot");
  } else {
    char what[64];
    snprintf(what, sizeof what, "the completion of opcode 0x%02x", sqe[SQE_OPC]);
    wait_for(q, &r.done, timeout_ms, what);
  }
  q->on_complete = saved;
  q->user = saved_user;
  if (dw0) *dw0 = r.dw0;
  return r.done ? r.status : QUEUE_FAILED;
}

static void no_completion(void *user, struct queue *q, uint64_t tag, int status, uint32_t dw0) {
  (void)user, (void)q, (void)tag, (void)status, (void)dw0;
}

struct queue *queue_open(const char *host, uint16_t port, uint16_t depth, bool hdgst, bool ddgst, int timeout_ms, char *err, size_t errlen) {
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
  if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
    snprintf(err, errlen, "%s is not an IPv4 address", host);
    return NULL;
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    snprintf(err, errlen, "connect to %s:%u: %s", host, port, strerror(errno));
    if (fd >= 0) close(fd);
    return NULL;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  struct queue *q = calloc(1, sizeof *q);
  q->fd = fd;
  q->depth = depth;
  q->hdgst = hdgst;
  q->ddgst = ddgst;
  q->cpda_bytes = 4;
  q->cmds = calloc(depth, sizeof *q->cmds);
  q->freelist = malloc(depth * sizeof *q->freelist);
  for (uint32_t i = 0; i < depth; i++) q->freelist[i] = (uint16_t)(depth - 1 - i);
  q->nfree = depth;
  q->rcap = RBUF_SIZE;
  q->rbuf = malloc(q->rcap);
  q->on_complete = no_completion;
  /* ICReq: PFV 0, HPDA 0, MAXR2T 0 (one R2T outstanding per command), the digests asked for (NVMe/TCP 1.0, 3.6.2.2). */
  uint8_t *p = tx_reserve(q, HLEN_IC_REQ);
  memset(p, 0, HLEN_IC_REQ);
  p[CH_TYPE] = PDU_TYPE_IC_REQ;
  p[CH_HLEN] = HLEN_IC_REQ;
  put32(p + CH_PLEN, HLEN_IC_REQ);
  p[IC_DGST] = (uint8_t)((hdgst ? IC_DGST_HDGST : 0) | (ddgst ? IC_DGST_DDGST : 0));
  if (!wait_for(q, &q->ic_done, timeout_ms, "ICResp")) {
    snprintf(err, errlen, "%s:%u: %s", host, port, q->error);
    queue_close(q);
    return NULL;
  }
  return q;
}

void queue_close(struct queue *q) {
  if (!q) return;
  close(q->fd);
  free(q->cmds);
  free(q->freelist);
  free(q->rbuf);
  free(q->tbuf);
  free(q);
}
