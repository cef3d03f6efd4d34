import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

/**
 * Debian's Chromium, driven by playwright-core (which never downloads a browser of its own).
 * `.ci/run` installs the `chromium` package when it is missing; `POSTDESK_CHROMIUM` names another
 * binary. No browser is an error that says how to get one, never a silent pass.
 */

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

export const chromiumPath = (): string => {
  const named = process.env['POSTDESK_CHROMIUM'];
  if (named !== undefined && named !== '') {
    if (!existsSync(named)) throw new Error(`POSTDESK_CHROMIUM=${named} does not exist`);
    return named;
  }
  const found = CANDIDATES.find((path) => existsSync(path));
  if (found === undefined) {
    throw new Error(
      `The browser tests need Chromium and found none at ${CANDIDATES.join(', ')}: install Debian's package ` +
        '(`apt-get install chromium`, as .ci/run does) or set POSTDESK_CHROMIUM to a Chromium binary.',
    );
  }
  return found;
};

/** Headless, with the flags a machine without outside network needs (no background connections). */
export const launchChromium = (extraArgs: readonly string[] = []): Promise<Browser> =>
  chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...extraArgs,
    ],
  });
