import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { NetnsScope } from '../helpers/netns.js';
import { RplLinks } from '../../src/rpl/links.js';
import { RplResponder } from '../../src/rpl/responder.js';

const scope = new NetnsScope();
afterAll(() => scope.cleanup());

describe('RplLinks', () => {
  it('reopens the packet socket when its interface is deleted and comes back', async () => {
    const ns = await scope.createNetns();
    const { a } = await scope.addVethPair(null, ns);
    const responder = new RplResponder({}, { plan: { rpl: () => undefined }, root: '/' });
    const events: string[] = [];
    const links = new RplLinks(responder, [a], { retryMs: 100, onEvent: (i, what) => events.push(`${i} ${what}`) });
    try {
      expect(links.links).toHaveLength(1);
      execFileSync('ip', ['link', 'del', a]); // deletes both ends
      await waitUntil(() => events.length >= 1);
      expect(events[0]).toBe(`${a} lost`);
      expect(links.links).toHaveLength(0);
      execFileSync('ip', ['link', 'add', a, 'type', 'veth', 'peer', 'name', `${a}p`]);
      execFileSync('ip', ['link', 'set', a, 'up']);
      await waitUntil(() => events.length >= 2);
      expect(events[1]).toBe(`${a} reopened`);
      expect(links.links[0]?.ifname).toBe(a);
    } finally {
      links.close();
      responder.close();
      try {
        execFileSync('ip', ['link', 'del', a], { stdio: 'ignore' });
      } catch {
        /* already gone */
      }
    }
  });
});

async function waitUntil(f: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!f()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
