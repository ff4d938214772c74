/* A workload over one or several queues (see job.h for its phases and invariants). */
#include "job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "le.h"
#include "pattern.h"
#include "wire.h"

/* A command not completed this long after the end of a phase (or without any completion this long) is stuck. */
#define STUCK_NS 10000000000ull
#define REPORT_MAX 5

uint64_t job_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double cpu_seconds(void) {
  struct rusage r;
  getrusage(RUSAGE_SELF, &r);
  return (double)(r.ru_utime.tv_sec + r.ru_stime.tv_sec) + (double)(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

static uint64_t next_rand(struct job *j) {
  uint64_t x = j->rng;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return j->rng = x;
}

static uint32_t next_gen(struct job *j) {
  if (++j->next_gen == 0) j->next_gen = 1;
  return j->next_gen;
}

static void on_complete(void *user, struct queue *q, uint64_t tag, int status, uint32_t dw0);

bool job_init(struct job *j) {
  j->lanes = calloc(j->qd, sizeof *j->lanes);
  for (uint32_t i = 0; i < j->qd; i++) {
    struct lane *l = &j->lanes[i];
    l->q = j->queues[i % (uint32_t)j->nqueues];
    if (posix_memalign((void **)&l->buf, 4096, j->bs)) {
      fprintf(stderr, "cload: cannot allocate %u bytes for lane %u\n", j->bs, i);
      return false;
    }
    /* Written data that is not all zeroes, so a namespace stores it as data (memory namespaces skip zeroes). */
    memset(l->buf, 0x5a ^ (int)(i & 0xff), j->bs);
  }
  for (int i = 0; i < j->nqueues; i++) {
    j->queues[i]->on_complete = on_complete;
    j->queues[i]->user = j;
  }
  if (j->verify) {
    j->gen = calloc(j->slots, sizeof *j->gen);
    j->busy = calloc(j->slots, 1);
    if (!j->gen || !j->busy) {
      fprintf(stderr, "cload: cannot allocate the verify tables for %llu slots\n", (unsigned long long)j->slots);
      return false;
    }
  }
  if (!j->rng) j->rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid() << 32 ^ job_now_ns();
  return true;
}

static void submit(struct job *j, uint32_t li) {
  struct lane *l = &j->lanes[li];
  uint64_t slot;
  bool write;
  l->active = false;
  switch (j->phase) {
    case JOB_FILL:
      if (j->cursor >= j->slots) return;
      slot = j->cursor++;
      write = true;
      break;
    case JOB_READBACK:
      while (j->cursor < j->slots && !j->gen[j->cursor]) j->cursor++;
      if (j->cursor >= j->slots) return;
      slot = j->cursor++;
      write = false;
      break;
    default:
      if (j->stopping) return;
      write = j->op == OP_WRITE || (j->op == OP_MIX && (int)(next_rand(j) % 100) >= j->rwmix);
      if (j->rand) {
        slot = next_rand(j) % j->slots;
      } else {
        slot = j->cursor;
        j->cursor = j->cursor + 1 == j->slots ? 0 : j->cursor + 1;
      }
      /* Never two commands on one slot: the next free one (verify mode has at least 2 * qd slots). */
      if (j->verify)
        while (j->busy[slot]) slot = slot + 1 == j->slots ? 0 : slot + 1;
      break;
  }
  uint64_t slba = slot * j->nlb;
  l->slot = slot;
  l->write = write;
  if (j->verify) {
    j->busy[slot] = 1;
    if (write) {
      /* The fill writes generation next_gen itself (--gen), later writes the ones after it. */
      l->gen = j->phase == JOB_FILL ? j->next_gen : next_gen(j);
      pattern_fill(l->buf, j->lba_size, j->nlb, slba, l->gen);
    }
  }
  uint8_t sqe[64] = { 0 };
  sqe[SQE_OPC] = write ? IO_OPC_WRITE : IO_OPC_READ;
  put32(sqe + SQE_NSID, j->nsid);
  put64(sqe + SQE_CDW10, slba); /* SLBA: CDW10 and CDW11 */
  put32(sqe + SQE_CDW12, j->nlb - 1); /* NLB, 0-based */
  l->t0 = job_now_ns();
  if (queue_submit(l->q, sqe, l->buf, j->bs, write, li) < 0) {
    j->errors++;
    if (j->verify) j->busy[slot] = 0;
    return;
  }
  l->active = true;
  j->inflight++;
}

static void check_read(struct job *j, struct lane *l) {
  uint32_t want = j->gen[l->slot];
  if (!want) {
    j->unverified++;
    return;
  }
  struct mismatch m;
  if (pattern_check(l->buf, j->lba_size, j->nlb, l->slot * j->nlb, want, &m)) {
    j->verified++;
    return;
  }
  if (j->verify_errors++ < REPORT_MAX)
    fprintf(stderr, "cload: verify: LBA %llu byte %u differs: expected LBA %llu generation %u, the block's header says LBA %llu generation %u%s\n",
            (unsigned long long)m.lba, m.offset, (unsigned long long)m.lba, want, (unsigned long long)m.found_lba, m.found_gen,
            m.found_magic ? "" : " (no pattern magic)");
}

static void on_complete(void *user, struct queue *q, uint64_t tag, int status, uint32_t dw0) {
  (void)dw0;
  struct job *j = user;
  struct lane *l = &j->lanes[tag];
  uint64_t now = job_now_ns();
  j->inflight--;
  j->completions++;
  l->active = false;
  if (status) {
    if (j->errors++ < REPORT_MAX)
      fprintf(stderr, "cload: %s of LBA %llu: %s 0x%x%s%s\n", l->write ? "write" : "read", (unsigned long long)(l->slot * j->nlb),
              status == QUEUE_FAILED ? "queue failed" : "status", status == QUEUE_FAILED ? 0 : (unsigned)status,
              status == QUEUE_FAILED ? ": " : "", status == QUEUE_FAILED ? q->error : "");
    if (j->verify && l->write) j->gen[l->slot] = 0;
  } else if (j->verify) {
    if (l->write) j->gen[l->slot] = l->gen;
    else check_read(j, l);
  }
  if (j->verify) j->busy[l->slot] = 0;
  if (j->phase == JOB_TIMED) {
    if (now >= j->t_measure && now < j->t_end) {
      j->ios++;
      j->bytes += j->bs;
      latency_record(&j->lat, now - l->t0);
    }
    if (now >= j->t_end) j->stopping = true;
  }
  if (status != QUEUE_FAILED) submit(j, (uint32_t)tag);
}

/* Waits for completions: spinning over the sockets (poll mode) or in epoll_wait (edge-triggered). */
static void pump(struct job *j, int ep, uint64_t now) {
  if (j->poll) {
    for (int i = 0; i < j->nqueues; i++)
      while (queue_receive(j->queues[i]) > 0) {}
  } else {
    struct epoll_event ev[64];
    int timeout = 100;
    if (j->phase == JOB_TIMED && !j->stopping) {
      uint64_t next = now < j->t_measure ? j->t_measure : j->t_end;
      timeout = (int)((next - now) / 1000000 + 1);
    }
    int n = epoll_wait(ep, ev, 64, timeout);
    for (int i = 0; i < n; i++)
      if (ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        while (queue_receive(ev[i].data.ptr) > 0) {}
  }
  for (int i = 0; i < j->nqueues; i++)
    if (queue_pending(j->queues[i])) queue_flush(j->queues[i]);
}

void job_run(struct job *j, enum job_phase phase) {
  j->phase = phase;
  j->cursor = 0;
  j->stopping = false;
  int ep = -1;
  if (!j->poll) {
    ep = epoll_create1(EPOLL_CLOEXEC);
    for (int i = 0; i < j->nqueues; i++) {
      struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = j->queues[i] };
      epoll_ctl(ep, EPOLL_CTL_ADD, j->queues[i]->fd, &ev);
    }
  }
  uint64_t start = job_now_ns();
  j->t_measure = start + (uint64_t)(j->warmup * 1e9);
  j->t_end = j->t_measure + (uint64_t)(j->seconds * 1e9);
  double cpu0 = 0;
  bool measuring = false, ended = false;
  for (uint32_t i = 0; i < j->qd; i++) submit(j, i);
  uint64_t last_completions = j->completions, progress = start;
  while (j->inflight) {
    for (int i = 0; i < j->nqueues; i++)
      if (queue_pending(j->queues[i])) queue_flush(j->queues[i]);
    uint64_t now = job_now_ns();
    if (phase == JOB_TIMED) {
      if (!measuring && now >= j->t_measure) {
        measuring = true;
        cpu0 = cpu_seconds();
        if (j->marks) fputs("mark start\n", stdout), fflush(stdout);
      }
      /* on_complete may have set stopping already: the end is marked here, once, whoever saw it first. */
      if (now >= j->t_end && !ended) {
        ended = true;
        j->stopping = true;
        j->client_cpu_s = cpu_seconds() - cpu0;
        if (j->marks) fputs("mark end\n", stdout), fflush(stdout);
      }
    }
    if (j->completions != last_completions) {
      last_completions = j->completions;
      progress = now;
    }
    if (now - progress > STUCK_NS && (phase != JOB_TIMED || now > j->t_end + STUCK_NS)) {
      j->stuck += j->inflight;
      fprintf(stderr, "cload: %llu commands not completed %llu s after the last completion\n", (unsigned long long)j->inflight, STUCK_NS / 1000000000ull);
      break;
    }
    pump(j, ep, now);
  }
  if (phase == JOB_TIMED) {
    if (measuring && !ended) {
      j->client_cpu_s = cpu_seconds() - cpu0;
      if (j->marks) fputs("mark end\n", stdout), fflush(stdout);
    }
    j->measured_s = j->seconds;
  }
  if (ep >= 0) close(ep);
}
