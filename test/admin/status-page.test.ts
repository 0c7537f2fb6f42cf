/**
 * The status page in a real browser (Debian's chromium, headless): a simulated
 * client boots through the PXE chain and the page must show its MAC moving
 * through the stages, live, without a reload.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { Telemetry } from '../../src/telemetry.js';
import { silent } from '../../src/log.js';
import { AdminServer } from '../../src/admin/server.js';

const CHROMIUM = '/usr/bin/chromium';
const MAC = '52:54:00:be:ef:01';
const OTHER = '52:54:00:be:ef:02';
const results = fileURLToPath(new URL('../../test-results/', import.meta.url));

let browser: BrowserContext | undefined;
let server: AdminServer;
let telemetry: Telemetry;
let base: string;
let profile: string;
let transferBytes = 0;

beforeAll(async () => {
  telemetry = new Telemetry();
  const started = Date.now();
  server = new AdminServer(
    { address: '127.0.0.1', port: 0 },
    {
      telemetry,
      leases: () => [
        { mac: MAC, ip: '10.77.0.10', hostname: 'pc01', state: 'bound', expires: started + 12 * 3600_000 },
        { mac: OTHER, ip: '10.77.0.11', state: 'offered', expires: started + 60_000 },
      ],
      transfers: () =>
        transferBytes > 0 && transferBytes < 70_000
          ? [{ id: '10.77.0.10:2070', mac: MAC, peer: '10.77.0.10:2070', file: 'undionly.kpxe', bytes: transferBytes, size: 70_000, started, blksize: 1468 }]
          : [],
      rplLoads: () => [{ mac: OTHER, iface: 'lan0', file: 'ipxe.pxe', bytes: 30_000, size: 80_000, started, frameSize: 1500 }],
      hostName: (mac) => (mac === OTHER ? 'rack-7' : undefined),
    },
    { log: silent, progressIntervalMs: 200 },
  );
  const a = await server.start();
  base = `http://127.0.0.1:${a.port}/`;
  profile = mkdtempSync(join(tmpdir(), 'lb-chromium-'));
  mkdirSync(results, { recursive: true });
  if (existsSync(CHROMIUM)) {
    // A fresh profile per run: playwright passes it as --user-data-dir.
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      viewport: { width: 1280, height: 820 },
      headless: true,
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
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  rmSync(profile, { recursive: true, force: true });
});

const boot = (event: string, svc: 'dhcp' | 'tftp' | 'http' | 'rpl', stage?: string, extra: Record<string, unknown> = {}) =>
  telemetry.bootEvent(undefined, { svc, event, mac: MAC, stage, ...extra });

async function stageClass(page: Page, key: string): Promise<string> {
  return (await page.locator(`#machines tr[data-mac="${MAC}"] [data-stage="${key}"]`).getAttribute('class')) ?? '';
}

describe('status page in headless Chromium', () => {
  it('shows a MAC moving through PXE DHCP -> TFTP -> iPXE DHCP -> HTTP script, live', async (ctx) => {
    if (!browser) ctx.skip(); // CI installs chromium (.ci/install-deps); say so rather than pass silently
    const page = await browser!.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    await page.goto(base);
    await page.locator('#live.on').waitFor({ timeout: 10_000 });
    await expect(page.locator('#machines-empty').isVisible()).resolves.toBe(true);

    const row = page.locator(`#machines tr[data-mac="${MAC}"]`);
    boot('dhcp.offer', 'dhcp', 'pxe', { yiaddr: '10.77.0.10' });
    await row.waitFor({ timeout: 5000 });
    await page.waitForFunction((mac) => document.querySelector(`#machines tr[data-mac="${mac}"] .state`)?.textContent === 'at DHCP (PXE ROM)', MAC);
    expect(await stageClass(page, 'pxe')).toContain('current');
    expect(await stageClass(page, 'tftp')).not.toMatch(/reached|current/);

    transferBytes = 35_000;
    boot('tftp.start', 'tftp', 'pxe', { file: 'undionly.kpxe' });
    await page.waitForFunction((mac) => document.querySelector(`#machines tr[data-mac="${mac}"] .state`)?.textContent === 'at TFTP bootfile', MAC);
    await page.locator('#transfers tr[data-id="10.77.0.10:2070"]').waitFor({ timeout: 5000 });
    expect(await page.locator('#transfers').innerText()).toContain('undionly.kpxe');
    expect(await stageClass(page, 'pxe')).toContain('reached');
    await page.screenshot({ path: join(results, 'status-page-tftp.png'), fullPage: true });

    transferBytes = 70_000;
    boot('tftp.done', 'tftp', 'pxe', { file: 'undionly.kpxe', bytes: 70_000 });
    boot('dhcp.ack', 'dhcp', 'ipxe', { name: 'pc01' });
    await page.waitForFunction((mac) => document.querySelector(`#machines tr[data-mac="${mac}"] .state`)?.textContent === 'at DHCP (iPXE)', MAC);
    await page.locator('#transfers-empty').waitFor({ state: 'visible', timeout: 5000 });

    boot('http.script', 'http', 'script', { path: `/boot/${MAC}.ipxe` });
    await page.waitForFunction((mac) => document.querySelector(`#machines tr[data-mac="${mac}"] .state`)?.textContent === 'at HTTP script', MAC);
    for (const k of ['pxe', 'tftp', 'ipxe']) expect(await stageClass(page, k)).toContain('reached');
    expect(await stageClass(page, 'script')).toContain('current');
    expect(await stageClass(page, 'rpl')).toContain('skipped');
    expect(await row.innerText()).toContain('pc01');
    expect(await page.locator('#leases').innerText()).toMatch(/10\.77\.0\.10[\s\S]*pc01[\s\S]*bound/);
    expect(await page.locator('#loads').innerText()).toContain('ipxe.pxe');

    // The event history an operator opens stays open across the once-a-second redraw.
    // Clicked and redrawn at once: the redraw must not come between the click and the state it keeps.
    await page.evaluate((mac) => {
      (document.querySelector(`#machines tr[data-mac="${mac}"] details summary`) as HTMLElement).click();
      (window as unknown as { render: () => void }).render();
    }, MAC);
    expect(await row.locator('details').getAttribute('open')).not.toBeNull();
    await page.waitForTimeout(2500);
    expect(await row.locator('details').getAttribute('open')).not.toBeNull();

    // A failure shows where the machine stopped, in red.
    telemetry.bootEvent(undefined, { svc: 'http', event: 'http.error', mac: OTHER, stage: 'script', error: '404 /boot/x.ipxe' });
    await page.waitForFunction(
      (mac) => /failed at HTTP script/.test(document.querySelector(`#machines tr[data-mac="${mac}"] .state`)?.textContent ?? ''),
      OTHER,
    );
    // A configured host shows its configured name though no event carried it.
    expect(await page.locator(`#machines tr[data-mac="${OTHER}"]`).innerText()).toContain('rack-7');

    await page.screenshot({ path: join(results, 'status-page.png'), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);
});
