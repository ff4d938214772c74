/* One NVMe/TCP queue of a host: a TCP connection, ICReq/ICResp, capsules out, the controller's PDUs in
   (NVMe/TCP Transport Specification 1.0; Linux drivers/nvme/host/tcp.c does the same work).
   Invariants:
   - a command identifier is the index of its slot; a slot is reused only after its completion arrived;
   - write data goes in the capsule when it fits in_capsule_max, otherwise it waits for an R2T and leaves in
     H2CData PDUs of at most maxh2cdata bytes each, the last of an R2T's range flagged LAST_PDU;
   - read data is copied once, from the receive buffer into the command's buffer;
   - what is queued while one batch of received bytes is handled leaves in one send() (queue_flush);
   - anything the controller sends that the specification does not allow fails the queue: q->error says what,
     and every outstanding command completes with QUEUE_FAILED. */
#ifndef CLOAD_QUEUE_H
#define CLOAD_QUEUE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The status a command completes with when its queue failed before its completion arrived. */
#define QUEUE_FAILED (-1)

struct queue;
/* A completion: status is the CQE's 15-bit status field (0 is success) or QUEUE_FAILED. */
typedef void (*complete_fn)(void *user, struct queue *q, uint64_t tag, int status, uint32_t dw0);

struct cmd {
  uint8_t *buf;
  uint32_t len;
  /* C2HData bytes received (reads), in order. */
  uint32_t got;
  uint64_t tag;
  bool busy, write, in_capsule;
};

struct queue {
  int fd;
  uint16_t depth;
  /* Negotiated in ICResp. */
  bool hdgst, ddgst;
  /* Alignment of the data of PDUs this host sends: (CPDA + 1) dwords. */
  uint32_t cpda_bytes;
  uint32_t maxh2cdata;
  /* Most data a command carries in its capsule (I/O queues: IOCCSZ * 16 - 64). */
  uint32_t in_capsule_max;
  struct cmd *cmds;
  uint16_t *freelist;
  uint32_t nfree;
  complete_fn on_complete;
  void *user;
  /* Receive: bytes [rhead, rtail) of rbuf are not handled yet. */
  uint8_t *rbuf;
  size_t rcap, rhead, rtail;
  int rstate;
  struct cmd *rcmd;
  uint8_t rflags;
  uint16_t rcid;
  uint32_t rpad, rdata, rdatal, rdatao, rdd, rcrc;
  uint8_t rddgst[4];
  bool ic_done;
  /* Send: bytes [toff, tlen) of tbuf are not sent yet. */
  uint8_t *tbuf;
  size_t tcap, tlen, toff;
  bool failed;
  char error[256];
};

/* Connects, sends ICReq (digests as asked) and waits for ICResp. NULL with err filled on failure. */
struct queue *queue_open(const char *host, uint16_t port, uint16_t depth, bool hdgst, bool ddgst, int timeout_ms, char *err, size_t errlen);
/* Queues a command: the SQE's CID, PSDT and SGL are filled here. Returns the CID, or -1 when no slot is free or
   the queue failed. `write`: buf holds len bytes for the controller; otherwise len bytes come into buf. */
int queue_submit(struct queue *q, uint8_t sqe[64], uint8_t *buf, uint32_t len, bool write, uint64_t tag);
/* Sends what is queued. 0 when all left or the socket is full (the rest goes at the next call), -1 when failed. */
int queue_flush(struct queue *q);
static inline bool queue_pending(const struct queue *q) { return q->tlen > q->toff; }
/* One recv() and the handling of what it brought: bytes read, 0 when none were waiting, -1 when failed. */
long queue_receive(struct queue *q);
/* Submits and waits (setup and teardown): the status, or QUEUE_FAILED on failure or timeout (q->error). */
int queue_exec(struct queue *q, uint8_t sqe[64], uint8_t *buf, uint32_t len, bool write, uint32_t *dw0, int timeout_ms);
void queue_close(struct queue *q);
#endif
