import { ensureDebianPackage } from './tools.js';

/**
 * Chromium for the web client's browser tests: Debian's `chromium`, installed when missing,
 * driven by playwright-core through its path (`npx playwright install` needs the internet).
 */
export function provisionChromium(): Promise<string> {
  return ensureDebianPackage('chromium', 'chromium');
}
