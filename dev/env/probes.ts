import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';

/**
 * True when `url` answers 200. For https, the certificate is not checked: this only asks
 * a local component we just started whether it is up (its health endpoint is public).
 */
export function answersOk(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const onResponse = (res: { statusCode?: number; resume: () => void }): void => {
      res.resume();
      resolve(res.statusCode === 200);
    };
    const req = url.startsWith('https:')
      ? httpsGet(url, { rejectUnauthorized: false, timeout: 2000 }, onResponse)
      : httpGet(url, { timeout: 2000 }, onResponse);
    req.on('timeout', () => req.destroy());
    req.on('error', () => {
      resolve(false);
    });
  });
}
