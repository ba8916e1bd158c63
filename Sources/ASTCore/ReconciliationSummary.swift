/// risk or reconciler -> broker: cancel one order (a cancel only ever removes exposure).
public struct OrderCancel: Sendable, Equatable, Codable {
    public var clientOrderID: ClientOrderID
    public var reason: String

    public init(clientOrderID: ClientOrderID, reason: String) {
        self.clientOrderID = clientOrderID
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey {
        case reason
        case clientOrderID = "client_order_id"
    }
}

/// One difference a reconciliation found, in words for an operator.
public struct ReconciliationFindingLine: Sendable, Equatable, Codable {
    /// The difference class (`missed_fill`, `position_quantity_mismatch`, `unprotected_position` ...).
    public var kind: String
    /// `benign` (repaired) or `critical` (HALTED).
    public var severity: String
    public var symbol: Symbol?
    public var detail: String

    public init(kind: String, severity: String, symbol: Symbol?, detail: String) {
        self.kind = kind
        self.severity = severity
        self.symbol = symbol
        self.detail = detail
    }
}

/// One reconciliation run as `astctl reconcile` and `astctl status` show it (and as the
/// reconciler journals it).
public struct ReconciliationSummary: Sendable, Equatable, Codable {
    /// What started it: `start`, `broker connected`, `astctl reconcile`, `schedule 10:30` ...
    public var trigger: String
    public var at: Timestamp
    public var broker: String
    /// False when the broker could not be asked (then nothing was compared).
    public var completed: Bool
    public var clean: Bool
    public var requiresHalt: Bool
    public var findings: [ReconciliationFindingLine]
    /// What was repaired, in words.
    public var repairs: [String]
    public var summary: String
    public var positions: Int
    public var openOrders: Int

    public init(
        trigger: String, at: Timestamp, broker: String, completed: Bool, clean: Bool, requiresHalt: Bool,
        findings: [ReconciliationFindingLine], repairs: [String], summary: String, positions: Int, openOrders: Int
    ) {
        self.trigger = trigger
        self.at = at
        self.broker = broker
        self.completed = completed
        self.clean = clean
        self.requiresHalt = requiresHalt
        self.findings = findings
        self.repairs = repairs
        self.summary = summary
        self.positions = positions
        self.openOrders = openOrders
    }

    enum CodingKeys: String, CodingKey {
        case trigger, at, broker, completed, clean, findings, repairs, summary, positions
        case requiresHalt = "requires_halt"
        case openOrders = "open_orders"
    }
}
