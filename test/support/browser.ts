import { chromium, type Browser } from 'playwright-core';

/**
 * Launches Debian's Chromium headless for a test; playwright gives it a fresh profile
 * folder of its own (and refuses a --user-data-dir flag). The network flags matter on a
 * closed network: without them Chromium's own background connections are refused and it stalls.
 */
export async function launchChromium(executablePath: string): Promise<Browser> {
  return chromium.launch({
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
