import ASTCore

/// What an operator may order for a held position through the gate, in any Safe Mode state
/// (HALTED included): nothing that opens or increases a position.
public enum OperatorOrderKind: String, Sendable, Codable, CaseIterable {
    /// `astctl protect SYMBOL`: a protective stop (GTC) on the closing side of the position.
    case protect
    /// `astctl flatten SYMBOL`: a market order on the closing side of the position.
    case flatten
}

/// An operator's order for one held position (`astctl protect` / `astctl flatten`), as ast-risk
/// journals it: the request with the uid the kernel reported for the operator (`SO_PEERCRED`),
/// which the shell sets; a peer never chooses it.
public struct OperatorOrder: Sendable, Equatable, Codable {
    public var kind: OperatorOrderKind
    public var symbol: Symbol
    /// Shares; nil: the position's whole quantity (for a protective stop, whatever the operator
    /// stops already placed leave uncovered).
    public var quantity: Quantity?
    /// For ``OperatorOrderKind/protect``: the stop price; nil: the stop of the bracket last
    /// approved for the position (``ReasonCode/operatorStopPriceUnknown`` when there is none).
    public var stopPrice: Price?
    /// Why (journaled and alerted); required.
    public var reason: String
    /// The operator's uid from `SO_PEERCRED`.
    public var operatorUID: UInt32

    public init(
        kind: OperatorOrderKind, symbol: Symbol, quantity: Quantity? = nil, stopPrice: Price? = nil, reason: String, operatorUID: UInt32
    ) {
        self.kind = kind
        self.symbol = symbol
        self.quantity = quantity
        self.stopPrice = stopPrice
        self.reason = reason
        self.operatorUID = operatorUID
    }

    enum CodingKeys: String, CodingKey {
        case kind, symbol, quantity, reason
        case stopPrice = "stop_price"
        case operatorUID = "operator_uid"
    }

    /// The intent id of the order: derived from the kind, the symbol and the time it was
    /// handled at, so that replay reproduces it.
    public func intentID(at now: Timestamp) -> IntentID? {
        IntentID(validating: "\(Self.intentPrefix)\(kind.rawValue)-\(symbol.rawValue)-\(now.nanoseconds)")
    }

    /// The prefix of every operator order's intent id; the gate blocks strategy intents that use it.
    public static let intentPrefix = "op-"

    /// Whether `intent` is an operator order's.
    public static func isOperatorIntent(_ intent: IntentID) -> Bool { intent.rawValue.hasPrefix(intentPrefix) }

    /// Whether `orderID` is an operator's protective stop: never cancelled by the system.
    public static func isOperatorProtectiveStop(_ orderID: String) -> Bool {
        orderID.hasPrefix("\(intentPrefix)\(OperatorOrderKind.protect.rawValue)-")
    }

    /// The OCA group the broker puts every operator order of `symbol` in: when a flatten fills,
    /// the operator's stop for the position is cancelled by the broker itself (and a triggered
    /// stop cancels a flatten still working), so neither outlives the position and opens another.
    public static func ocaGroup(symbol: Symbol) -> String { "\(intentPrefix)\(symbol.rawValue).oca" }
}
