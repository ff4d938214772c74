/* cload: an NVMe/TCP load generator for the bench (test/bench/README.md). It connects as a host does
   (ICReq, Fabrics Connect of the admin queue, CC.EN and CSTS.RDY, Identify, a Connect per I/O queue), runs
   one workload over one or several I/O queues from one thread, and prints one JSON line (last):
     {"iops":..., "mibps":..., "mbps":..., "lat_mean_us":..., "lat_p50_us":..., "lat_p99_us":..., "errors":..., ...}
   Exit status: 0; 1 setup failed (the reason on stderr); 2 usage; 3 the run had I/O or verify errors.
   Built by test/bench/cload/build.ts with the machine's cc into the cache, against wire.h, which that build
   generates from the layouts in target/protocol/. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "ctrl.h"
#include "job.h"

#define MAX_QUEUE_DEPTH 1023

struct options {
  const char *host, *nqn, *hostnqn;
  int port, queues, rwmix;
  uint32_t qd, bs, nsid, lba, in_capsule, gen;
  uint64_t blocks, span;
  double seconds, warmup;
  enum job_op op;
  bool rand, fill, verify, assume_written, hdgst, ddgst, poll, raw, gen_set, marks;
};

static void usage(const char *why) {
  if (why) fprintf(stderr, "cload: %s\n", why);
  fprintf(stderr,
          "usage: cload --port P [--host 127.0.0.1] --nqn NQN [--hostnqn NQN] [--nsid 1]\n"
          "             [--queues 1] [--qd 32] [--bs 4096] [--op read|write|mix] [--rwmix 50] [--pattern rand|seq]\n"
          "             [--seconds 3] [--warmup 0.2] [--span BYTES] [--fill] [--hdgst] [--ddgst] [--poll]\n"
          "             [--verify [--gen G] [--assume-written]] [--marks]\n"
          "       cload --raw --port P --blocks N [--lba 512] [--in-capsule 8192] ... (a server that answers ICReq and\n"
          "             I/O capsules only, e.g. the bench's floor: no Connect, no Identify)\n"
          "  --qd is the total in flight, spread over the queues; --span limits the I/O to the namespace's first bytes;\n"
          "  --fill writes the span once, in order, before the timed run; --verify writes a pattern carrying each\n"
          "  block's LBA and the write's generation, checks every read, and reads back every written block at the end;\n"
          "  --assume-written: the span already holds generation --gen everywhere (an earlier --fill --gen G);\n"
          "  --marks prints `mark start` and `mark end` lines when the measured seconds begin and end.\n");
  exit(2);
}

static uint64_t number(const char *s, const char *what) {
  char *end;
  unsigned long long v = strtoull(s, &end, 0);
  uint64_t mult = 1;
  if (*end == 'K' || *end == 'k') mult = 1ull << 10, end++;
  else if (*end == 'M' || *end == 'm') mult = 1ull << 20, end++;
  else if (*end == 'G' || *end == 'g') mult = 1ull << 30, end++;
  if (end == s || *end) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s: not a number: %s", what, s);
    usage(msg);
  }
  return v * mult;
}

static struct options parse(int argc, char **argv) {
  struct options o = { .host = "127.0.0.1", .queues = 1, .rwmix = 50, .qd = 32, .bs = 4096, .nsid = 1, .lba = 512,
                       .in_capsule = 8192, .seconds = 3, .warmup = 0.2, .op = OP_READ, .rand = true };
  static const struct option longs[] = {
    { "host", 1, 0, 'h' }, { "port", 1, 0, 'p' }, { "nqn", 1, 0, 'n' }, { "hostnqn", 1, 0, 'N' }, { "nsid", 1, 0, 'i' },
    { "queues", 1, 0, 'q' }, { "qd", 1, 0, 'd' }, { "bs", 1, 0, 'b' }, { "op", 1, 0, 'o' }, { "rwmix", 1, 0, 'm' },
    { "pattern", 1, 0, 'P' }, { "seconds", 1, 0, 's' }, { "warmup", 1, 0, 'w' }, { "span", 1, 0, 'S' },
    { "fill", 0, 0, 'f' }, { "verify", 0, 0, 'v' }, { "gen", 1, 0, 'g' }, { "assume-written", 0, 0, 'a' },
    { "hdgst", 0, 0, 'H' }, { "ddgst", 0, 0, 'D' }, { "poll", 0, 0, 'L' }, { "raw", 0, 0, 'r' },
    { "blocks", 1, 0, 'B' }, { "lba", 1, 0, 'l' }, { "in-capsule", 1, 0, 'c' }, { "marks", 0, 0, 'M' }, { 0, 0, 0, 0 },
  };
  int c;
  while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
    switch (c) {
      case 'h': o.host = optarg; break;
      case 'p': o.port = (int)number(optarg, "--port"); break;
      case 'n': o.nqn = optarg; break;
      case 'N': o.hostnqn = optarg; break;
      case 'i': o.nsid = (uint32_t)number(optarg, "--nsid"); break;
      case 'q': o.queues = (int)number(optarg, "--queues"); break;
      case 'd': o.qd = (uint32_t)number(optarg, "--qd"); break;
      case 'b': o.bs = (uint32_t)number(optarg, "--bs"); break;
      case 'o':
        if (!strcmp(optarg, "read")) o.op = OP_READ;
        else if (!strcmp(optarg, "write")) o.op = OP_WRITE;
        else if (!strcmp(optarg, "mix")) o.op = OP_MIX;
        else usage("--op is read, write or mix");
        break;
      case 'm': o.rwmix = (int)number(optarg, "--rwmix"); break;
      case 'P':
        if (strcmp(optarg, "rand") && strcmp(optarg, "seq")) usage("--pattern is rand or seq");
        o.rand = !strcmp(optarg, "rand");
        break;
      case 's': o.seconds = atof(optarg); break;
      case 'w': o.warmup = atof(optarg); break;
      case 'S': o.span = number(optarg, "--span"); break;
      case 'f': o.fill = true; break;
      case 'v': o.verify = true; break;
      case 'g': o.gen = (uint32_t)number(optarg, "--gen"), o.gen_set = true; break;
      case 'a': o.assume_written = true; break;
      case 'H': o.hdgst = true; break;
      case 'D': o.ddgst = true; break;
      case 'L': o.poll = true; break;
      case 'r': o.raw = true; break;
      case 'B': o.blocks = number(optarg, "--blocks"); break;
      case 'l': o.lba = (uint32_t)number(optarg, "--lba"); break;
      case 'c': o.in_capsule = (uint32_t)number(optarg, "--in-capsule"); break;
      case 'M': o.marks = true; break;
      default: usage(NULL);
    }
  }
  if (optind < argc) usage("unexpected arguments");
  if (o.port <= 0 || o.port > 65535) usage("--port is required");
  if (!o.raw && !o.nqn) usage("--nqn is required (or --raw)");
  if (o.raw && (!o.blocks || o.verify || o.fill)) usage("--raw needs --blocks, and takes neither --verify nor --fill (the server stores nothing)");
  if (o.queues < 1 || o.qd < (uint32_t)o.queues) usage("--queues must be at least 1 and at most --qd");
  if ((o.qd + (uint32_t)o.queues - 1) / (uint32_t)o.queues > MAX_QUEUE_DEPTH) usage("more than 1023 commands per queue");
  if (o.rwmix < 0 || o.rwmix > 100) usage("--rwmix is a percentage");
  if (o.seconds < 0 || o.warmup < 0) usage("--seconds and --warmup are not negative");
  if (o.assume_written && !(o.verify && o.gen_set)) usage("--assume-written needs --verify and --gen");
  if (o.verify && !o.gen_set) {
    getrandom(&o.gen, sizeof o.gen, 0);
    o.gen |= 1;
  }
  if (o.verify && !o.gen) usage("--gen is not 0 (0 marks a block whose content is unknown)");
  return o;
}

static void default_hostnqn(struct ctrl *c, const struct options *o) {
  getrandom(c->hostid, sizeof c->hostid, 0);
  c->hostid[6] = (uint8_t)((c->hostid[6] & 0x0f) | 0x40); /* a version 4 UUID, as nvme gen-hostnqn writes */
  c->hostid[8] = (uint8_t)((c->hostid[8] & 0x3f) | 0x80);
  if (o->hostnqn) {
    snprintf(c->hostnqn, sizeof c->hostnqn, "%s", o->hostnqn);
    return;
  }
  const uint8_t *u = c->hostid;
  snprintf(c->hostnqn, sizeof c->hostnqn,
           "nqn.2014-08.org.nvmexpress:uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
           u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

static void fatal(const char *what, const char *err) {
  fprintf(stderr, "cload: %s: %s\n", what, err);
  exit(1);
}

int main(int argc, char **argv) {
  struct options o = parse(argc, argv);
  char err[512];
  uint16_t depth = (uint16_t)((o.qd + (uint32_t)o.queues - 1) / (uint32_t)o.queues);
  struct queue **io = calloc((size_t)o.queues, sizeof *io);
  struct ctrl c = { .host = o.host, .port = (uint16_t)o.port, .subnqn = o.nqn, .hdgst = o.hdgst, .ddgst = o.ddgst };
  uint64_t nsze;
  uint32_t lba, in_capsule, max_transfer;
  if (o.raw) {
    for (int i = 0; i < o.queues; i++)
      if (!(io[i] = queue_open(o.host, (uint16_t)o.port, depth, o.hdgst, o.ddgst, 10000, err, sizeof err))) fatal("connect", err);
    nsze = o.blocks, lba = o.lba, in_capsule = o.in_capsule, max_transfer = 0;
    for (int i = 0; i < o.queues; i++) io[i]->in_capsule_max = in_capsule;
  } else {
    default_hostnqn(&c, &o);
    if (ctrl_connect(&c, o.nsid, err, sizeof err)) fatal("controller", err);
    for (int i = 0; i < o.queues; i++)
      if (!(io[i] = ctrl_io_queue(&c, (uint16_t)(i + 1), depth, err, sizeof err))) fatal("I/O queue", err);
    nsze = c.nsze, lba = c.lba_size, in_capsule = c.in_capsule, max_transfer = c.max_transfer;
  }
  if (o.bs % lba) fatal("--bs", "not a whole number of logical blocks");
  if (max_transfer && o.bs > max_transfer) fatal("--bs", "larger than the controller's MDTS allows");
  uint64_t span_blocks = o.span ? o.span / lba : nsze;
  if (span_blocks > nsze) fatal("--span", "larger than the namespace");
  struct job j = { .queues = io, .nqueues = o.queues, .nsid = o.nsid, .lba_size = lba, .bs = o.bs, .nlb = o.bs / lba,
                   .qd = o.qd, .slots = span_blocks / (o.bs / lba), .op = o.op, .rwmix = o.rwmix, .rand = o.rand,
                   .verify = o.verify, .poll = o.poll, .marks = o.marks, .warmup = o.warmup, .seconds = o.seconds, .next_gen = o.gen };
  if (!j.slots || (o.verify && j.slots < 2ull * o.qd)) fatal("--span", "too small for --bs and --qd (verify needs 2 * qd blocks of bs)");
  if (!job_init(&j)) exit(1);
  if (o.assume_written)
    for (uint64_t s = 0; s < j.slots; s++) j.gen[s] = o.gen;
  else if (o.fill || (o.verify && o.op == OP_READ))
    job_run(&j, JOB_FILL);
  if (o.seconds > 0) job_run(&j, JOB_TIMED);
  if (o.verify) job_run(&j, JOB_READBACK);
  if (o.raw) {
    for (int i = 0; i < o.queues; i++) queue_close(io[i]);
  } else {
    ctrl_disconnect(&c, io, o.queues);
  }
  double s = j.measured_s > 0 ? j.measured_s : 1;
  printf("{\"iops\":%.1f,\"mibps\":%.2f,\"mbps\":%.2f,\"lat_mean_us\":%.2f,\"lat_p50_us\":%.2f,\"lat_p99_us\":%.2f,\"lat_max_us\":%.1f,"
         "\"ios\":%llu,\"seconds\":%.3f,\"errors\":%llu,\"stuck\":%llu,\"verify\":%s,\"verified\":%llu,\"verify_errors\":%llu,\"unverified\":%llu,"
         "\"client_cpu_s\":%.3f,\"op\":\"%s\",\"pattern\":\"%s\",\"bs\":%u,\"qd\":%u,\"queues\":%d,\"in_capsule\":%u,\"lba\":%u,\"slots\":%llu,\"gen\":%u,\"poll\":%s}\n",
         (double)j.ios / s, (double)j.bytes / s / 1048576.0, (double)j.bytes / s / 1e6, j.lat.count ? (double)j.lat.sum_ns / (double)j.lat.count / 1000.0 : 0,
         latency_percentile(&j.lat, 0.5) / 1000.0, latency_percentile(&j.lat, 0.99) / 1000.0, (double)j.lat.max_ns / 1000.0,
         (unsigned long long)j.ios, j.measured_s, (unsigned long long)j.errors, (unsigned long long)j.stuck, o.verify ? "true" : "false",
         (unsigned long long)j.verified, (unsigned long long)j.verify_errors, (unsigned long long)j.unverified, j.client_cpu_s,
         o.op == OP_READ ? "read" : o.op == OP_WRITE ? "write" : "mix", o.rand ? "rand" : "seq", o.bs, o.qd, o.queues, in_capsule, lba,
         (unsigned long long)j.slots, o.gen, o.poll ? "true" : "false");
  return j.errors || j.verify_errors || j.stuck ? 3 : 0;
}
