/**
 * What the operator derives from a Secret it reads by name (it watches no Secrets), per
 * ChatCluster, taken on trust for a while and then read again: a Secret changed or deleted by
 * hand is seen within that time. One read serves each (ChatCluster, Secret) until then.
 */
export class SecretReadings<T> {
  private readonly read = new Map<string, { secret: string; value: T | undefined; until: number }>();

  /**
   * @param derive what is wanted of the Secret as the API returned it (undefined: not there, or not usable)
   * @param trustMs how long a value is taken on trust
   * @param missingTrustMs how long an undefined value is (shorter when it is on its way, as a certificate being issued)
   */
  constructor(
    private readonly secrets: { readSecret(namespace: string, name: string): Promise<unknown> },
    private readonly now: () => number,
    private readonly derive: (secret: unknown) => T | undefined,
    private readonly trustMs: number,
    private readonly missingTrustMs: number = trustMs,
  ) {}

  /** The value derived from the Secret `secret` in the ChatCluster's namespace. */
  async of(cluster: { metadata: { namespace: string; uid: string } }, secret: string): Promise<T | undefined> {
    const now = this.now();
    const known = this.read.get(cluster.metadata.uid);
    if (known !== undefined && known.secret === secret && now < known.until) return known.value;
    const value = this.derive(await this.secrets.readSecret(cluster.metadata.namespace, secret));
    this.read.set(cluster.metadata.uid, { secret, value, until: now + (value === undefined ? this.missingTrustMs : this.trustMs) });
    return value;
  }
}
