/* A workload over one or several queues: `qd` lanes, lane i on queue i % nqueues, each keeping one Read or
   Write of `bs` bytes in flight, random or sequential over the first `slots` units of `bs` bytes.
   A run is made of phases:
   - JOB_FILL writes every slot once, in order (not timed): a precondition, or the verify mode's known state;
   - JOB_TIMED runs `op` for warmup + seconds, and counts the completions of the last `seconds` only;
   - JOB_READBACK reads every slot whose content is known and checks it (verify mode).
   Verify invariants: no two commands are ever in flight on one slot; gen[slot] is the generation of the last
   write to it that completed successfully (0: unknown, never checked); a failed write makes it unknown. */
#ifndef CLOAD_JOB_H
#define CLOAD_JOB_H
#include <stdbool.h>
#include <stdint.h>

#include "latency.h"
#include "queue.h"

enum job_op { OP_READ, OP_WRITE, OP_MIX };
enum job_phase { JOB_FILL, JOB_TIMED, JOB_READBACK };

struct lane {
  struct queue *q;
  uint8_t *buf;
  uint64_t t0, slot;
  uint32_t gen;
  bool write, active;
};

struct job {
  /* Configuration. */
  struct queue **queues;
  int nqueues;
  uint32_t nsid, lba_size, bs, nlb, qd;
  uint64_t slots;
  enum job_op op;
  /* Percent of reads when op is OP_MIX. */
  int rwmix;
  bool rand, verify, poll;
  /* Print `mark start` and `mark end` on stdout when the measured seconds begin and end (the bench reads the
     server's CPU time at each). */
  bool marks;
  double warmup, seconds;
  /* State. */
  enum job_phase phase;
  struct lane *lanes;
  uint64_t cursor, rng, inflight;
  uint64_t t_measure, t_end;
  bool stopping;
  uint32_t *gen;
  uint8_t *busy;
  uint32_t next_gen;
  /* Results of the timed phase (ios, bytes, latency) and of every phase (the rest). */
  uint64_t ios, bytes, errors, verify_errors, verified, unverified, stuck, completions;
  double measured_s, client_cpu_s;
  struct latency lat;
};

/* Allocates the lanes' buffers (and the verify tables); false with a message on stderr when it cannot. */
bool job_init(struct job *j);
/* Runs one phase to its end: every lane drained. */
void job_run(struct job *j, enum job_phase phase);
uint64_t job_now_ns(void);
#endif
