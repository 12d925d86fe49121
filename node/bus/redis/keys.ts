/**
 * The bus's key layout on Redis, every key and channel starting with the prefix (`chat:`
 * unless told otherwise):
 *
 * | key | type | what |
 * | --- | --- | --- |
 * | `inbox:<node>` | stream | the node's durable inbox, one field `e` (the envelope as JSON) |
 * | `sessions:<user>` | hash | session id → node id: the user's sockets |
 * | `node-sessions:<node>` | set | `["<user>","<session>"]` (JSON) of each socket the node hosts |
 * | `group-nodes:<group>` | set | node ids hosting an online member of the group |
 * | `node-groups:<node>` | set | the groups the node appears in, to clean them when it dies |
 * | `idem:<user>:<key>` | string | `pending` or the first ack (JSON), 24 h |
 * | `heartbeats` | sorted set | node id scored by the expiry of its last heartbeat (ms, Redis clock) |
 * | `cleanup:<node>` | string | the claim of one survivor to clean up a dead node |
 * | `watermarks` | hash | node id → its watermark (a message id floor) |
 * | `in-flight:<node>` | hash | message id → the node's accepted, not yet routed message (JSON) |
 *
 * Pub/sub channels: `signal:<node>` (typing, JSON) and `presence:<user>` (`online`/`offline`).
 * Connections are named `<prefix>commands`, `<prefix>subscriber` and `<prefix>inbox:<node>`
 * (see CLIENT LIST).
 *
 * On a Redis Cluster, a node's own keys (`inbox`, `node-sessions`, `node-groups`,
 * `cleanup`, `in-flight`) carry the node id as a hash tag, `inbox:{<node>}`: they live in
 * one slot, on one master, so a master's failure takes a whole node's state with it or
 * none of it. Users' and groups' keys are spread over the cluster by their own names.
 * Elsewhere the names stay untagged, as they were before Cluster mode existed, so nodes
 * of two versions on one Redis during a rolling update still find each other's keys.
 *
 * BusKeys names every key and channel, in one place so the layout above stays true.
 */
export class BusKeys {
  constructor(
    readonly prefix: string,
    private readonly hashTags = false,
  ) {}

  /** A key of one node's, tagged with the node id on a Cluster. Node ids hold no braces (NodeConfig). */
  private nodeKey(kind: string, node: string): string {
    return this.hashTags ? `${this.prefix}${kind}:{${node}}` : `${this.prefix}${kind}:${node}`;
  }

  inbox(node: string): string {
    return this.nodeKey('inbox', node);
  }
  sessions(user: string): string {
    return `${this.prefix}sessions:${user}`;
  }
  nodeSessions(node: string): string {
    return this.nodeKey('node-sessions', node);
  }
  groupNodes(group: string): string {
    return `${this.prefix}group-nodes:${group}`;
  }
  nodeGroups(node: string): string {
    return this.nodeKey('node-groups', node);
  }
  idempotency(user: string, key: string): string {
    // User ids cannot contain ':', so the user part cannot run into the key part.
    return `${this.prefix}idem:${user}:${key}`;
  }
  heartbeats(): string {
    return `${this.prefix}heartbeats`;
  }
  cleanup(node: string): string {
    return this.nodeKey('cleanup', node);
  }
  watermarks(): string {
    return `${this.prefix}watermarks`;
  }
  inFlight(node: string): string {
    return this.nodeKey('in-flight', node);
  }
  signalChannel(node: string): string {
    return `${this.prefix}signal:${node}`;
  }
  presenceChannel(user: string): string {
    return `${this.prefix}presence:${user}`;
  }
}
