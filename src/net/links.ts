/**
 * Packet sockets kept open on a list of interfaces, surviving an interface
 * that is deleted and created again (USB NICs, bridges rebuilt by a router's
 * network restart). The one place that reopens: DHCP and RPL both use it.
 *
 * ENETDOWN needs nothing: a socket keeps receiving once its link is up
 * again. ENODEV means the socket is dead: it is closed, and reopened every
 * `retryMs` until the interface is back.
 */

export interface KeptLink {
  close(): void;
}

export interface LinkKeeperOptions<L extends KeptLink> {
  /**
   * Open what one interface needs (it may be several sockets). Throws when
   * the interface is not there. Call `linkError` with every link error the
   * sockets report (PacketSocket 'linkerror').
   */
  open(ifname: string, linkError: (err: NodeJS.ErrnoException) => void): L;
  /** Called with every link error, before a lost link is closed. */
  onError?(ifname: string, err: NodeJS.ErrnoException): void;
  /** A link closed because its interface is gone. */
  onLost?(ifname: string, link: L): void;
  /** A lost link is open again. */
  onReopened?(ifname: string, link: L): void;
  /** ms between reopen attempts (default 2000). */
  retryMs?: number;
}

export class LinkKeeper<L extends KeptLink> {
  private readonly open = new Map<string, L>();
  private readonly wanted = new Set<string>();
  private retry?: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly opts: LinkKeeperOptions<L>) {}

  /** Open every interface now; on the first failure close what was opened and throw. */
  start(ifnames: string[]): void {
    try {
      for (const ifname of ifnames) {
        this.wanted.add(ifname);
        this.openOne(ifname);
      }
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /**
   * Keep one more interface (one that appeared, or got an address). Throws
   * when it cannot be opened now; it is then not kept, and the caller may
   * try again later.
   */
  add(ifname: string): L {
    if (this.closed) throw new Error('closed');
    const cur = this.open.get(ifname);
    if (cur) return cur;
    this.wanted.add(ifname);
    try {
      return this.openOne(ifname);
    } catch (e) {
      this.wanted.delete(ifname);
      throw e;
    }
  }

  /** Stop keeping an interface (closed now if open). */
  remove(ifname: string): void {
    this.wanted.delete(ifname);
    const l = this.open.get(ifname);
    if (!l) return;
    this.open.delete(ifname);
    l.close();
  }

  /** The interfaces kept, open or waiting to be reopened. */
  names(): string[] {
    return [...this.wanted];
  }

  get(ifname: string): L | undefined {
    return this.open.get(ifname);
  }

  /** The links open now (a lost interface is missing until it is back). */
  links(): L[] {
    return [...this.open.values()];
  }

  get size(): number {
    return this.open.size;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retry);
    for (const l of this.open.values()) l.close();
    this.open.clear();
  }

  private openOne(ifname: string): L {
    let link: L;
    const onError = (err: NodeJS.ErrnoException): void => {
      if (this.closed || this.open.get(ifname) !== link) return;
      if (!this.wanted.has(ifname)) return;
      this.opts.onError?.(ifname, err);
      if (err.code !== 'ENODEV') return;
      this.open.delete(ifname);
      link.close();
      this.opts.onLost?.(ifname, link);
      this.schedule();
    };
    link = this.opts.open(ifname, onError);
    this.open.set(ifname, link);
    return link;
  }

  private schedule(): void {
    if (this.retry || this.closed) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      for (const ifname of this.wanted) {
        if (this.closed || this.open.has(ifname)) continue;
        try {
          this.opts.onReopened?.(ifname, this.openOne(ifname));
        } catch {
          /* still gone; try again */
        }
      }
      if ([...this.wanted].some((n) => !this.open.has(n))) this.schedule();
    }, this.opts.retryMs ?? 2000);
    this.retry.unref();
  }
}
