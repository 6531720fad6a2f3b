import { chromium, type Browser } from 'playwright-core';

/**
 * Debian's Chromium, headless, without the background services that try to reach the network
 * (this machine's network is closed; see .ci/run for the install).
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
