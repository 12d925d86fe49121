import { request } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

/** A failed API call: its HTTP status and the server's Status message. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/**
 * One JSON request to the API server with the kubeconfig's credentials, the body sent as
 * it is. Used where client-node's model serializer gets in the way (MicroTime fields of
 * Leases, merge patches of status). `signal` aborts it (the socket too).
 */
export async function rawRequest<T>(
  config: KubeConfig,
  method: string,
  path: string,
  body?: unknown,
  { contentType = 'application/json', signal }: { contentType?: string; signal?: AbortSignal | undefined } = {},
): Promise<T> {
  const cluster = config.getCurrentCluster();
  if (cluster === null) throw new Error('kubeconfig has no current cluster');
  const url = new URL(path, cluster.server);
  const options: Parameters<typeof request>[1] = { method, headers: { accept: 'application/json' } };
  await config.applyToHTTPSOptions(options);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise<T>((resolve, reject) => {
    const headers = { ...(options.headers as Record<string, string>), ...(payload === undefined ? {} : { 'content-type': contentType }) };
    const req = request(url, { ...options, headers, timeout: 15_000, ...(signal === undefined ? {} : { signal }) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) {
          resolve((text === '' ? undefined : JSON.parse(text)) as T);
          return;
        }
        let message = text;
        try {
          message = (JSON.parse(text) as { message?: string }).message ?? text;
        } catch {
          // not JSON: keep the text
        }
        reject(new ApiError(status, `${method} ${path}: HTTP ${status}: ${message}`));
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}
