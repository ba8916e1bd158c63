// The TWS API's text protocol: the server versions AST speaks, the message ids it uses, and the
// gates inside its supported range. Written from IB's public API documentation and the official
// client's source (EClient/EDecoder, read to understand its field order; nothing copied).

/// A server version negotiated at the handshake and inside ``TWSServerVersion/supported``: the only
/// way to hold one, so an encoder or decoder never runs for a version AST does not implement.
public struct TWSServerVersion: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The lowest server version AST accepts. Below 190 the text protocol still carries the RFQ
    /// fields that 187...189 added and 190 withdrew, and permId was not yet a 64-bit value (191);
    /// such a TWS or Gateway is refused at the handshake with an error that says to upgrade it.
    public static let minimum = 190
    /// The highest server version AST asks for: 200, the last one whose every message is text. From
    /// 201 on, message ids become 4-byte binary integers and messages move to protobuf one group at
    /// a time (executions at 201, placeOrder and cancelOrder at 203): a newer TWS negotiates down to
    /// 200 and keeps speaking the text protocol implemented here.
    public static let maximum = 200
    /// The range advertised in the handshake (`v190..200`).
    public static let supported = minimum...maximum

    public let rawValue: Int

    /// A version inside ``supported``, or `nil`.
    public init?(_ rawValue: Int) {
        guard Self.supported.contains(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    public static let lowest = TWSServerVersion(unchecked: minimum)
    public static let highest = TWSServerVersion(unchecked: maximum)

    private init(unchecked rawValue: Int) { self.rawValue = rawValue }

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { String(rawValue) }

    /// Whether a feature gated at `gate` is on at this version.
    public func supports(_ gate: TWSGate) -> Bool { rawValue >= gate.rawValue }
}

/// The official client's `MIN_SERVER_VER_*` gates that fall inside AST's supported range and change
/// a message AST encodes or decodes. Gates below 190 are always on and appear nowhere.
public enum TWSGate: Int, Sendable {
    /// permId is a 64-bit value (AST reads it as `Int64` at every version).
    case permIdAsLong = 191
    /// placeOrder sends `manualOrderIndicator`; cancelOrder drops its version field and sends
    /// `extOperator` and `manualOrderIndicator`.
    case cmeTaggingFields = 192
    /// openOrder carries the CME tagging fields (in the part AST does not decode).
    case cmeTaggingFieldsInOpenOrder = 193
    /// The error message drops its version field and carries the error time (epoch milliseconds).
    case errorTime = 194
    /// historicalData drops its period, which moves to a historicalDataEnd message of its own.
    case historicalDataEnd = 196
    /// execDetails carries `submitter`.
    case submitter = 198
    /// placeOrder sends `imbalanceOnly`.
    case imbalanceOnly = 199
    /// reqExecutions sends `lastNDays` and a list of specific dates.
    case parametrizedDaysOfExecutions = 200
}

/// Ids of the messages AST sends (the official client's `OutgoingMsgId`).
public enum TWSOutgoingId: Int, Sendable {
    case placeOrder = 3
    case cancelOrder = 4
    case reqOpenOrders = 5
    case reqExecutions = 7
    case reqIds = 8
    case reqAllOpenOrders = 16
    case reqHistoricalData = 20
    case cancelHistoricalData = 25
    case reqCurrentTime = 49
    case reqPositions = 61
    case reqAccountSummary = 62
    case cancelAccountSummary = 63
    case cancelPositions = 64
    case startApi = 71
}

/// Ids of the messages AST decodes (the official client's `IncomingMsgId`).
public enum TWSIncomingId: Int, Sendable {
    case orderStatus = 3
    case errorMessage = 4
    case openOrder = 5
    case nextValidId = 9
    case executionData = 11
    case managedAccounts = 15
    case historicalData = 17
    case currentTime = 49
    case openOrderEnd = 53
    case executionDataEnd = 55
    case commissionReport = 59
    case position = 61
    case positionEnd = 62
    case accountSummary = 63
    case accountSummaryEnd = 64
    /// From server version 196 (before it, an id AST does not know).
    case historicalDataEnd = 108
}
