/**
 * The managed Cassandra image the operator names (CASSANDRA_IMAGE): the official one when
 * it can be had, else a stand-in made of the same release's jars from Maven Central on
 * Debian's Java 17 (cassandra/Dockerfile says what it keeps of the official contract).
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CASSANDRA_IMAGE } from '../../../operator/desired/dependencies.js';
import { fetchCassandraJars } from '../cassandra.js';
import type { DockerEngine } from '../docker/engine.js';
import { EnvError } from '../errors.js';
import { imagesCacheDir } from './debian-rootfs.js';
import { provideSubstitute, type ProvidedImage } from './substitute.js';

const FILES = fileURLToPath(new URL('cassandra/', import.meta.url));

/** The Cassandra release a `cassandra:<x.y.z>` image name stands for. */
export function cassandraRelease(image: string): string {
  const release = /^cassandra:(\d+\.\d+\.\d+)$/.exec(image)?.[1];
  if (release === undefined) throw new EnvError(`cannot tell the Cassandra release of ${image}; expected cassandra:<major.minor.patch>`);
  return release;
}

export async function cassandraImage(engine: DockerEngine): Promise<ProvidedImage> {
  const release = cassandraRelease(CASSANDRA_IMAGE);
  const jars = await fetchCassandraJars(release);
  return provideSubstitute(engine, {
    image: CASSANDRA_IMAGE,
    // iproute2: the entry point finds the pod's address with `ip`; gosu: it drops from root.
    rootfs: { name: 'cassandra', packages: ['openjdk-17-jre-headless', 'iproute2', 'gosu'] },
    inputs: [FILES, jars],
    context: () => {
      // The context must hold the jars: the builder sees nothing outside it.
      const dir = mkdtempSync(join(imagesCacheDir(), 'cassandra-context-'));
      cpSync(FILES, dir, { recursive: true });
      cpSync(jars, join(dir, 'lib'), { recursive: true });
      return Promise.resolve({ dir, cleanup: () => { rmSync(dir, { recursive: true, force: true }); } });
    },
    labels: () => Promise.resolve({ 'dev.chatcluster.stand-in-for': CASSANDRA_IMAGE, 'dev.chatcluster.cassandra-version': release }),
  });
}
