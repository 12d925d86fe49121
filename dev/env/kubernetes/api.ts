import { request } from 'node:https';
import { readFileSync } from 'node:fs';

/** How the environment itself talks to its API server: the admin client certificate. */
export interface AdminConnection {
  server: string;
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

export function adminConnection(server: string, files: { caCert: string; adminCert: string; adminKey: string }): AdminConnection {
  return {
    server,
    ca: readFileSync(files.caCert),
    cert: readFileSync(files.adminCert),
    key: readFileSync(files.adminKey),
  };
}

export interface ApiResponse {
  status: number;
  body: string;
}

/**
 * One request to the API server. The environment needs only a handful (readiness,
 * fake nodes), so this stays a thin https call rather than a client library.
 */
export function apiRequest(connection: AdminConnection, method: string, path: string, body?: unknown): Promise<ApiResponse> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      new URL(path, connection.server),
      {
        method,
        ca: connection.ca,
        cert: connection.cert,
        key: connection.key,
        timeout: 10_000,
        headers: payload === undefined ? {} : { 'content-type': 'application/json' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}
