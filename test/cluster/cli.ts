// The cluster from the command line:
//   node dist/test/cluster/cli.js up [name]      start it, print the kubeconfig, stay until Ctrl-C
//   node dist/test/cluster/cli.js down [name]    stop one left running (after a crash, or `up &`)
//   node dist/test/cluster/cli.js images         build the images, print their references (JSON)
//   node dist/test/cluster/cli.js start          what `npm start` runs (see start.ts)
import { buildImages } from './images.js';
import { startCluster, stopStaleCluster } from './cluster.js';
import { runStart } from './start.js';

const [cmd, name] = process.argv.slice(2);

async function main(): Promise<number> {
  switch (cmd) {
    case 'up': {
      const c = await startCluster({ name: name ?? 'dev' });
      console.log(`\nKubernetes is up. export KUBECONFIG=${c.kubeconfig}`);
      console.log(`images: ${JSON.stringify(c.images)}`);
      console.log('Ctrl-C stops it.');
      await new Promise(() => setInterval(() => {}, 1 << 30)); // SIGINT/SIGTERM stop the cluster and exit
      return 0;
    }
    case 'down':
      stopStaleCluster({ name: name ?? 'dev' });
      return 0;
    case 'images':
      console.log(JSON.stringify(buildImages({ log: (m) => console.error(m) }), null, 2));
      return 0;
    case 'start':
      return runStart();
    default:
      console.error('usage: node dist/test/cluster/cli.js up [name] | down [name] | images | start');
      return 2;
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
