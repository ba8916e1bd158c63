/// What an error message from TWS means for AST, as a value the broker acts on.
public enum TWSErrorOutcome: Hashable, Sendable {
    /// IB refused an order (201, 103, 110, ...): the order is not working.
    case orderRejected(orderId: Int32, code: Int32)
    /// IB cancelled an order (202), asked or not.
    case orderCancelled(orderId: Int32)
    /// A cancel IB could not carry out (161, 10147, 10148): the order may still be working.
    case cancelRefused(orderId: Int32, code: Int32)
    /// 1100 (or 2110): TWS lost its connection to IB. Disconnected: the system goes HALTED.
    case connectivityLost
    /// 1101/1102: restored. Reconcile before resuming; with 1101 market data subscriptions are lost.
    case connectivityRestored(marketDataLost: Bool)
    /// 2104/2106/2158/2107/2108/2119: data farm status. Logged, never an alarm.
    case farmStatus(code: Int32)
    /// 2103/2105/2157: a data farm connection is broken. A warning; orders are unaffected.
    case farmBroken(code: Int32)
    /// 326: the client id is in use by another connection; this connection is refused.
    case clientIdInUse
    /// 502 (could not connect), 504 (not connected): no API session.
    case notConnected(code: Int32)
    /// 100: IB's message rate limit was exceeded (the pacer should have prevented it).
    case pacingViolation
    /// Any other error about a request or order (`id` >= 0) or the connection.
    case other(id: Int32, code: Int32)

    /// The outcome of `error`.
    public init(_ error: TWSErrorMessage) {
        let id = error.id
        switch error.code {
        case 103, 104, 105, 106, 107, 109, 110, 111, 113, 116, 117, 118, 135, 200, 201, 203, 355, 382, 383, 387, 388, 404, 434, 10006,
            10289:
            self = .orderRejected(orderId: id, code: error.code)
        case 202: self = .orderCancelled(orderId: id)
        case 161, 10147, 10148: self = .cancelRefused(orderId: id, code: error.code)
        case 1100, 2110: self = .connectivityLost
        case 1101: self = .connectivityRestored(marketDataLost: true)
        case 1102: self = .connectivityRestored(marketDataLost: false)
        case 2104, 2106, 2107, 2108, 2119, 2158: self = .farmStatus(code: error.code)
        case 2103, 2105, 2157: self = .farmBroken(code: error.code)
        case 326: self = .clientIdInUse
        case 502, 504: self = .notConnected(code: error.code)
        case 100: self = .pacingViolation
        default: self = .other(id: id, code: error.code)
        }
    }

    /// Whether an operator should be alarmed (logged either way).
    public var isAlarm: Bool {
        switch self {
        case .farmStatus, .farmBroken, .orderCancelled, .connectivityRestored: false
        default: true
        }
    }
}
