// The target's own memory need, without namespace data: what the operator adds to a pod's memory
// namespaces before comparing them with the pod's memory limit (operator/builders/limits.ts).
//
// How it was measured (Node 26.12.1, x86_64, the pod's node flags --max-semi-space-size=4):
//   `node --max-semi-space-size=4 dist/target/main.js --memory 4M --listen 127.0.0.1:14420
//    --metrics 127.0.0.1:19420 --state <dir>/state.bin`, ready, no host: VmRSS = VmHWM = 85.5 MiB
//   (87548 kB); with --memory 64M the same 88.7 MiB, since a memory namespace's pages are calloc'd and
//   count only once written. Under 64 connections x QD128 x 128 KiB writes the peak RSS is 130 MiB
//   (target/README.md, node flags): the data buffers (DATA_BUFFER_BYTES, 16 MiB), receive buffers and
//   the heap's growth under the data path.
// The constant is that peak plus 30 MiB of margin for the garbage collector's timing: 160 MiB.
// A memory namespace written in full adds its whole size on top.
export const TARGET_BASE_MEMORY_BYTES = 160 * 1024 * 1024;

// On the test cluster (test/bench/node-cost.ts, 30 file-backed target pods on one node) an idle target's
// anonymous memory is about 28 MiB; under 31 connections of 128 KiB random I/O at QD 128 its anonymous
// pages peaked at 78-105 MiB (two runs): this constant covers them with room to spare.
//
// With in-pod resume the container also runs the supervisor (idle VmRSS 60.5 MiB, 61964 kB) and a standby
// worker loaded ahead (80.3 MiB, 82192 kB; it builds no namespace until it takes over), measured as above
// with dist/target/supervisor.js: 141 MiB idle, rounded up with the supervisor's pending socket bytes.
// node-cost.ts: idle PSS beside 29 other such pods supervisor 15.4 MiB, standby 21.6 MiB (its heap compacted
// once, resume/standby-compaction.ts); under the load above the supervisor's anonymous pages reach about
// 100 MiB (the socket bytes it copies), the rings' tmpfs (sized apart, operator/builders/pod.ts) 196 MiB.
export const IN_POD_RESUME_EXTRA_MEMORY_BYTES = 160 * 1024 * 1024;
