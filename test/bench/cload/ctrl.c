/* A host's bring-up of one NVMe controller over NVMe/TCP (see ctrl.h). */
#include "ctrl.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "le.h"
#include "wire.h"

#define SETUP_TIMEOUT_MS 10000
#define ADMIN_DEPTH 8
/* NVMe/TCP controllers take 8 KiB of in-capsule data with admin and fabrics commands (NVMe/TCP 1.0, 2.3;
   Linux's host sends Connect's 1 KiB in the capsule on every queue). */
#define FABRICS_IN_CAPSULE 8192
/* ATTRIB bits 2:0: 0 a 4-byte property, 1 an 8-byte one (NVMe over Fabrics 1.1, 3.4). */
#define PROPERTY_SIZE_8 1
/* CC as Linux sets it: 64-byte SQEs (2^6), 16-byte CQEs (2^4), the NVM command set, 4 KiB pages. */
#define CC_VALUE (CC_EN | 6u << CC_IOSQES_SHIFT | 4u << CC_IOCQES_SHIFT)
#define CSTS_SHST_MASK (3u << CSTS_SHST_SHIFT)

static void fabrics_sqe(uint8_t sqe[64], uint8_t fctype) {
  memset(sqe, 0, 64);
  sqe[SQE_OPC] = ADMIN_OPC_FABRICS;
  sqe[SQE_FCTYPE] = fctype;
}

static int connect_queue(struct ctrl *c, struct queue *q, uint16_t qid, uint16_t depth, uint16_t cntlid, uint32_t *dw0) {
  uint8_t sqe[64], data[CONNECT_DATA_SIZE] = { 0 };
  fabrics_sqe(sqe, FABRICS_CONNECT);
  put16(sqe + CONNECT_SQE_QID, qid);
  /* SQSIZE is 0-based: depth + 1 entries, so that `depth` commands fit with one entry always empty. */
  put16(sqe + CONNECT_SQE_SQSIZE, depth);
  memcpy(data + CONNECT_DATA_HOSTID, c->hostid, 16);
  put16(data + CONNECT_DATA_CNTLID, cntlid);
  snprintf((char *)data + CONNECT_DATA_SUBNQN, 256, "%s", c->subnqn);
  snprintf((char *)data + CONNECT_DATA_HOSTNQN, 256, "%s", c->hostnqn);
  return queue_exec(q, sqe, data, sizeof data, true, dw0, SETUP_TIMEOUT_MS);
}

static int property_get(struct ctrl *c, uint32_t offset, bool size8, uint32_t *value) {
  uint8_t sqe[64];
  fabrics_sqe(sqe, FABRICS_PROPERTY_GET);
  sqe[PROPERTY_SQE_ATTRIB] = size8 ? PROPERTY_SIZE_8 : 0;
  put32(sqe + PROPERTY_SQE_OFFSET, offset);
  return queue_exec(c->admin, sqe, NULL, 0, false, value, SETUP_TIMEOUT_MS);
}

static int property_set(struct ctrl *c, uint32_t offset, uint32_t value) {
  uint8_t sqe[64];
  fabrics_sqe(sqe, FABRICS_PROPERTY_SET);
  put32(sqe + PROPERTY_SQE_OFFSET, offset);
  put64(sqe + PROPERTY_SQE_VALUE, value);
  return queue_exec(c->admin, sqe, NULL, 0, false, NULL, SETUP_TIMEOUT_MS);
}

static int identify(struct ctrl *c, uint8_t cns, uint32_t nsid, uint8_t out[IDENTIFY_SIZE]) {
  uint8_t sqe[64] = { 0 };
  sqe[SQE_OPC] = ADMIN_OPC_IDENTIFY;
  put32(sqe + SQE_NSID, nsid);
  put32(sqe + SQE_CDW10, cns);
  return queue_exec(c->admin, sqe, out, IDENTIFY_SIZE, false, NULL, SETUP_TIMEOUT_MS);
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Polls CSTS until (CSTS & mask) == want, CFS, or timeout. 0, or -1 with err. */
static int wait_csts(struct ctrl *c, uint32_t mask, uint32_t want, int timeout_ms, const char *what, char *err, size_t errlen) {
  long long deadline = now_ms() + timeout_ms;
  for (;;) {
    uint32_t csts = 0;
    int st = property_get(c, PROP_CSTS, false, &csts);
    if (st) {
      snprintf(err, errlen, "Property Get CSTS: status 0x%x %s", (unsigned)st, c->admin->error);
      return -1;
    }
    if (csts & CSTS_CFS) {
      snprintf(err, errlen, "controller fatal status (CSTS 0x%x) waiting for %s", csts, what);
      return -1;
    }
    if ((csts & mask) == want) return 0;
    if (now_ms() > deadline) {
      snprintf(err, errlen, "timeout after %d ms waiting for %s (CSTS 0x%x)", timeout_ms, what, csts);
      return -1;
    }
    nanosleep(&(struct timespec){ .tv_nsec = 2000000 }, NULL);
  }
}

int ctrl_connect(struct ctrl *c, uint32_t nsid, char *err, size_t errlen) {
  c->admin = queue_open(c->host, c->port, ADMIN_DEPTH, c->hdgst, c->ddgst, SETUP_TIMEOUT_MS, err, errlen);
  if (!c->admin) return -1;
  c->admin->in_capsule_max = FABRICS_IN_CAPSULE;
  uint32_t dw0 = 0, cap = 0;
  int st = connect_queue(c, c->admin, 0, ADMIN_DEPTH, CONNECT_DATA_DYNAMIC_CNTLID, &dw0);
  if (st) {
    snprintf(err, errlen, "admin Connect to %s: status 0x%x %s", c->subnqn, (unsigned)st, c->admin->error);
    return -1;
  }
  c->cntlid = (uint16_t)dw0;
  if ((st = property_get(c, PROP_CAP, true, &cap)) || (st = property_set(c, PROP_CC, CC_VALUE))) {
    snprintf(err, errlen, "Property Get CAP / Set CC: status 0x%x %s", (unsigned)st, c->admin->error);
    return -1;
  }
  /* CAP.TO (bits 31:24) in 500 ms units: how long CSTS.RDY may take. */
  int to_ms = (int)((cap >> 24) & 0xff) * 500;
  if (wait_csts(c, CSTS_RDY, CSTS_RDY, to_ms ? to_ms : 500, "CSTS.RDY", err, errlen)) return -1;
  uint8_t id[IDENTIFY_SIZE];
  if ((st = identify(c, CNS_CONTROLLER, 0, id))) {
    snprintf(err, errlen, "Identify Controller: status 0x%x %s", (unsigned)st, c->admin->error);
    return -1;
  }
  uint32_t ioccsz = get32(id + ID_CTRL_IOCCSZ);
  c->in_capsule = ioccsz * 16 > 64 ? ioccsz * 16 - 64 : 0;
  /* MDTS in units of the minimum page size, 4 KiB (CAP.MPSMIN 0); 0 means no limit. */
  c->max_transfer = id[ID_CTRL_MDTS] ? (1u << id[ID_CTRL_MDTS]) * 4096u : 0;
  if ((st = identify(c, CNS_NAMESPACE, nsid, id))) {
    snprintf(err, errlen, "Identify Namespace %u: status 0x%x %s", nsid, (unsigned)st, c->admin->error);
    return -1;
  }
  c->nsze = get64(id + ID_NS_NSZE);
  uint8_t lbads = id[ID_NS_LBAF0 + (id[ID_NS_FLBAS] & 0xf) * 4 + 2];
  c->lba_size = lbads ? 1u << lbads : 0;
  if (!c->nsze || c->lba_size < 512) {
    snprintf(err, errlen, "namespace %u: %llu blocks of %u bytes", nsid, (unsigned long long)c->nsze, c->lba_size);
    return -1;
  }
  return 0;
}

struct queue *ctrl_io_queue(struct ctrl *c, uint16_t qid, uint16_t depth, char *err, size_t errlen) {
  struct queue *q = queue_open(c->host, c->port, depth, c->hdgst, c->ddgst, SETUP_TIMEOUT_MS, err, errlen);
  if (!q) return NULL;
  q->in_capsule_max = FABRICS_IN_CAPSULE;
  int st = connect_queue(c, q, qid, depth, c->cntlid, NULL);
  if (st) {
    snprintf(err, errlen, "Connect of I/O queue %u: status 0x%x %s", qid, (unsigned)st, q->error);
    queue_close(q);
    return NULL;
  }
  q->in_capsule_max = c->in_capsule;
  return q;
}

void ctrl_disconnect(struct ctrl *c, struct queue **io, int n) {
  uint8_t sqe[64];
  for (int i = 0; i < n; i++) {
    if (!io[i]) continue;
    if (!io[i]->failed) {
      fabrics_sqe(sqe, FABRICS_DISCONNECT);
      queue_exec(io[i], sqe, NULL, 0, false, NULL, 2000);
    }
    queue_close(io[i]);
    io[i] = NULL;
  }
  if (!c->admin) return;
  char err[64];
  if (!c->admin->failed && property_set(c, PROP_CC, (CC_VALUE & ~(uint32_t)CC_SHN_MASK) | 1u << CC_SHN_SHIFT) == 0)
    wait_csts(c, CSTS_SHST_MASK, CSTS_SHST_COMPLETE, 2000, "CSTS.SHST complete", err, sizeof err);
  queue_close(c->admin);
  c->admin = NULL;
}
