/* A host's bring-up of one NVMe controller over NVMe/TCP, as Linux's host does it (drivers/nvme/host/fabrics.c
   nvmf_connect_admin_queue and nvmf_connect_io_queue, core.c nvme_enable_ctrl): the admin queue's Connect
   (dynamic controller, cntlid 0xFFFF, no keep-alive), CC.EN by Property Set and a wait for CSTS.RDY within
   CAP.TO, Identify Controller (IOCCSZ, MDTS) and Namespace (size, block size), then one Connect per I/O
   queue on its own connection; at the end Disconnect on each I/O queue and a normal shutdown (CC.SHN). */
#ifndef CLOAD_CTRL_H
#define CLOAD_CTRL_H
#include <stdbool.h>
#include <stdint.h>

#include "queue.h"

struct ctrl {
  const char *host;
  uint16_t port;
  const char *subnqn;
  char hostnqn[224];
  uint8_t hostid[16];
  bool hdgst, ddgst;
  struct queue *admin;
  uint16_t cntlid;
  /* From Identify: in-capsule data of an I/O command (IOCCSZ * 16 - 64), the largest transfer (0: no limit). */
  uint32_t in_capsule;
  uint32_t max_transfer;
  /* From Identify Namespace of the nsid asked for. */
  uint64_t nsze;
  uint32_t lba_size;
};

/* Connects the admin queue, enables the controller and identifies it and namespace nsid. 0, or -1 with err. */
int ctrl_connect(struct ctrl *c, uint32_t nsid, char *err, size_t errlen);
/* One I/O queue of `depth` commands on its own connection; NULL with err on failure. */
struct queue *ctrl_io_queue(struct ctrl *c, uint16_t qid, uint16_t depth, char *err, size_t errlen);
/* Disconnect of each I/O queue, shutdown, and every connection closed (best effort: a failed step is skipped). */
void ctrl_disconnect(struct ctrl *c, struct queue **io, int n);
#endif
