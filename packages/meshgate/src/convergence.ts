// Convergence, second stage of meshgate_convergence_seconds: from a publish until every node of
// the affected groups that was connected at the time has nothing left unacknowledged.
//
// Kept from the xDS server's events alone, so an ACK costs O(1): the server's nodes() snapshot is
// O(nodes) per call, and calling it per ACK made one push to a large fleet O(nodes²). A publish
// costs O(nodes of the affected groups) to take the set of nodes it waits for.
import type { AckEvent, ConnectEvent, DisconnectEvent, NackEvent, PushEvent } from '@meshgate/xds-core';

interface NodeState {
  group: string;
  streams: number;
  /** Types with a response written and neither ACKed nor NACKed (the server's `pendingAck`). */
  pending: Set<string>;
}

export class ConvergenceTracker {
  private readonly nodes = new Map<string, NodeState>();
  private readonly byGroup = new Map<string, Set<string>>();
  private waiting: { at: number; nodes: Set<string> } | undefined;
  private readonly observe: (seconds: number) => void;
  private readonly now: () => number;

  constructor(observe: (seconds: number) => void, now: () => number = () => performance.now()) {
    this.observe = observe;
    this.now = now;
  }

  /** Nodes a publish is still waiting for (tests, debugging). */
  get outstanding(): number {
    return this.waiting?.nodes.size ?? 0;
  }

  connect(e: ConnectEvent): void {
    let n = this.nodes.get(e.node);
    if (!n) {
      n = { group: e.group, streams: 0, pending: new Set() };
      this.nodes.set(e.node, n);
      let g = this.byGroup.get(e.group);
      if (!g) this.byGroup.set(e.group, (g = new Set()));
      g.add(e.node);
    }
    n.streams++;
  }

  disconnect(e: DisconnectEvent): void {
    const n = this.nodes.get(e.node);
    if (!n) return;
    if (--n.streams > 0) return;
    this.nodes.delete(e.node);
    this.byGroup.get(n.group)?.delete(e.node);
    // A node that left stops counting; its reconnect is a new stream with its own pushes.
    if (this.waiting?.nodes.delete(e.node)) this.done(false);
  }

  push(e: PushEvent): void {
    this.nodes.get(e.node)?.pending.add(e.typeUrl);
  }

  /** An ACK or a NACK: either way the node answered and holds what it will hold. */
  answer(e: AckEvent | NackEvent): void {
    const n = this.nodes.get(e.node);
    if (!n) return;
    n.pending.delete(e.typeUrl);
    if (n.pending.size === 0 && this.waiting?.nodes.delete(e.node)) this.done(true);
  }

  /** A publish at `at` (performance.now()) that changed resources of `groups`. */
  published(at: number, groups: Iterable<string>): void {
    const nodes = new Set<string>();
    for (const g of groups) for (const id of this.byGroup.get(g) ?? []) nodes.add(id);
    this.waiting = nodes.size ? { at, nodes } : undefined;
  }

  private done(observe: boolean): void {
    if (!this.waiting || this.waiting.nodes.size > 0) return;
    if (observe) this.observe((this.now() - this.waiting.at) / 1000);
    this.waiting = undefined;
  }
}
