import ASTBus

extension BusSettings {
    /// The bus settings a configuration asks for.
    public init(_ c: BusConfig) {
        self.init(
            maxFrameBytes: c.maxFrameBytes, helloTimeout: c.helloTimeout, ackTimeout: c.ackTimeout,
            backoffInitial: c.connectBackoffInitial, backoffMaximum: c.connectBackoffMax, allowedUIDs: Set(c.allowedUids),
            maxConnections: c.maxConnections ?? BusConfig.defaultMaxConnections,
            idleTimeout: .milliseconds(c.idleTimeoutMs ?? BusConfig.defaultIdleTimeoutMs),
            refusalBudget: c.refusalBudget ?? 20, refusalInterval: .milliseconds(c.refusalIntervalMs ?? 60_000))
    }
}
