// The flags of the node that runs the target: the pod's command (operator/builders/pod.ts), the image's
// entrypoint, the supervisor's worker (resume/supervisor.ts), `npm run target`, and the tests and the
// bench (test/support/target-process.ts), so that what is measured is what runs.
//
// --max-semi-space-size=4: V8's young generation grows to two 16 MiB semi-spaces (plus the space objects
// are promoted through) under a steady allocation rate, which the data path has (a command's Request, its
// SQE copy, its response header). Capped at 4 MiB, a scavenge runs more often over the same few live
// objects and the peak RSS at 64 connections x QD128 x 128 KiB writes falls from 155 to about 131 MiB,
// with no throughput change the bench can tell from noise (npm run bench; issue 8's note).
export const TARGET_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];
