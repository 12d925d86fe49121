/**
 * The e2e kind cluster from a shell:
 *   npm run -s kind:up [-- --cluster-only]   create (or reuse) it, load the project's images,
 *                                            install the operator chart, print `export` lines
 *   npm run -s kind:down [-- --engine]       delete it and everything made for it (and stop
 *                                            the environment's own dockerd, if it runs one)
 * CHATCLUSTER_KIND_NODE_IMAGE: official | local | <image> (default: official, else local).
 */
import { stopOwnDockerd } from '../docker/engine.js';
import { EnvError } from '../errors.js';
import { exportLines } from '../environment.js';
import { say } from '../progress.js';
import { bringUpE2eCluster, tearDownE2eCluster } from './e2e-cluster.js';

async function main(command: string | undefined, args: string[]): Promise<void> {
  switch (command) {
    case 'up': {
      const started = Date.now();
      const cluster = await bringUpE2eCluster({
        images: !args.includes('--cluster-only'),
        operator: !args.includes('--cluster-only'),
        nodeImage: process.env.CHATCLUSTER_KIND_NODE_IMAGE,
      });
      say(`kind cluster ${cluster.name} ready in ${Math.round((Date.now() - started) / 1000)}s; delete it with: npm run -s kind:down`);
      const variables = {
        KUBECONFIG: cluster.kubeconfig,
        DOCKER_HOST: cluster.engine.host,
        CHATCLUSTER_E2E_NODE_PORT_URL: `http://127.0.0.1:${cluster.nodePortOnLoopback}`,
      };
      process.stdout.write(`${exportLines({ variables, pathDirs: cluster.pathDirs })}\n`);
      return;
    }
    case 'down': {
      // The engine is stopped even when the teardown cannot use it: a broken engine is what
      // `--engine` is there to clear, and its containers stop with it.
      try {
        await tearDownE2eCluster();
      } finally {
        if (args.includes('--engine')) await stopOwnDockerd();
      }
      say('deleted');
      return;
    }
    default:
      throw new EnvError(`unknown command ${command ?? '(none)'}`, 'use: up [--cluster-only], down [--engine]');
  }
}

main(process.argv[2], process.argv.slice(3)).catch((error: unknown) => {
  say(`error: ${error instanceof Error ? error.message : String(error)}`);
  if (!(error instanceof EnvError) && error instanceof Error && error.stack !== undefined) say(error.stack);
  process.exit(1);
});
