/// The contract fields TWS reports with a position, an execution or an open order.
public struct TWSReportedContract: Hashable, Sendable {
    public var conId: Int32
    public var symbol: String
    public var secType: String
    public var lastTradeDateOrContractMonth: String
    public var strike: TWSNumber?
    public var right: String
    public var multiplier: String
    public var exchange: String
    public var primaryExchange: String
    public var currency: String
    public var localSymbol: String
    public var tradingClass: String

    public init(
        conId: Int32 = 0, symbol: String, secType: String = "STK", lastTradeDateOrContractMonth: String = "", strike: TWSNumber? = nil,
        right: String = "", multiplier: String = "", exchange: String = "", primaryExchange: String = "", currency: String = "USD",
        localSymbol: String = "", tradingClass: String = ""
    ) {
        self.conId = conId
        self.symbol = symbol
        self.secType = secType
        self.lastTradeDateOrContractMonth = lastTradeDateOrContractMonth
        self.strike = strike
        self.right = right
        self.multiplier = multiplier
        self.exchange = exchange
        self.primaryExchange = primaryExchange
        self.currency = currency
        self.localSymbol = localSymbol
        self.tradingClass = tradingClass
    }
}

/// orderStatus: where an order stands (permId is IB's durable key for it).
public struct TWSOrderStatus: Hashable, Sendable {
    public var orderId: Int32
    public var status: String
    public var filled: TWSNumber?
    public var remaining: TWSNumber?
    public var averageFillPrice: TWSNumber?
    public var permId: Int64
    public var parentId: Int32
    public var lastFillPrice: TWSNumber?
    public var clientId: Int32
    public var whyHeld: String
    public var marketCapPrice: TWSNumber?
}

/// openOrder: the order's identity and terms, decoded field for field up to `triggerMethod`
/// (the part reconciliation needs); the rest of the message is kept undecoded in `tail`.
public struct TWSOpenOrder: Hashable, Sendable {
    public var orderId: Int32
    public var contract: TWSReportedContract
    public var action: String
    public var totalQuantity: TWSNumber?
    public var orderType: String
    public var limitPrice: TWSNumber?
    public var auxPrice: TWSNumber?
    public var timeInForce: String
    public var ocaGroup: String
    public var account: String
    public var openClose: String
    public var origin: Int32
    public var orderRef: String
    public var clientId: Int32
    public var permId: Int64
    public var outsideRth: Bool
    public var hidden: Bool
    public var parentId: Int32
    public var triggerMethod: Int32
    /// The fields after `triggerMethod` (volatility, algo, what-if and order state, ...), as sent.
    public var tail: [String]
}

/// position: one account's holding of one contract.
public struct TWSPosition: Hashable, Sendable {
    public var account: String
    public var contract: TWSReportedContract
    public var position: TWSNumber?
    public var averageCost: TWSNumber?
}

/// execDetails: one fill.
public struct TWSExecution: Hashable, Sendable {
    public var reqId: Int32
    public var orderId: Int32
    public var contract: TWSReportedContract
    public var execId: String
    public var time: String
    public var account: String
    public var exchange: String
    public var side: String
    public var shares: TWSNumber?
    public var price: TWSNumber?
    public var permId: Int64
    public var clientId: Int32
    public var liquidation: Int32
    public var cumulativeQuantity: TWSNumber?
    public var averagePrice: TWSNumber?
    public var orderRef: String
    public var evRule: String
    public var evMultiplier: TWSNumber?
    public var modelCode: String
    public var lastLiquidity: Int32
    public var pendingPriceRevision: Bool
    /// From server version 198; empty before.
    public var submitter: String
}

/// commissionReport (IB now calls it commissionAndFeesReport), which follows an execution.
public struct TWSCommissionReport: Hashable, Sendable {
    public var execId: String
    public var commission: TWSNumber?
    public var currency: String
    public var realizedPnL: TWSNumber?
    public var yield: TWSNumber?
    public var yieldRedemptionDate: Int32
}

/// accountSummary: one tag's value for one account.
public struct TWSAccountValue: Hashable, Sendable {
    public var reqId: Int32
    public var account: String
    public var tag: String
    public var value: String
    public var currency: String
}

/// An error or notice from TWS: `id` is the order or request it concerns, -1 for the connection.
public struct TWSErrorMessage: Hashable, Sendable {
    public var id: Int32
    public var code: Int32
    public var message: String
    public var advancedOrderRejectJson: String
    /// Epoch milliseconds, from server version 194; 0 before.
    public var time: Int64
}

/// A message from TWS that AST decodes.
public enum TWSMessage: Hashable, Sendable {
    case nextValidId(Int32)
    case managedAccounts([String])
    case orderStatus(TWSOrderStatus)
    case openOrder(TWSOpenOrder)
    case openOrderEnd
    case position(TWSPosition)
    case positionEnd
    case execution(TWSExecution)
    case commissionReport(TWSCommissionReport)
    case executionEnd(reqId: Int32)
    case accountSummary(TWSAccountValue)
    case accountSummaryEnd(reqId: Int32)
    case error(TWSErrorMessage)
    case currentTime(Int64)
    /// Bars of a historical request; before server version 196 it also ends the answer.
    case historicalData(TWSHistoricalData)
    /// The end of a historical answer (from server version 196).
    case historicalDataEnd(reqId: Int32, start: String, end: String)

    /// Decodes one frame's payload at `version`, reading fields in the official client's order
    /// (`EDecoder`). Fails with a typed error on anything malformed; never traps.
    public static func decode(_ payload: [UInt8], at version: TWSServerVersion) throws(TWSDecodeError) -> TWSMessage {
        let fields = try TWSWire.fields(payload)
        var r = TWSFieldReader(fields, message: "message")
        let rawId = Int(try r.int())
        guard let id = TWSIncomingId(rawValue: rawId) else { throw .unknownMessage(id: rawId) }
        r = TWSFieldReader(fields, message: "\(id)")
        try r.skip()
        let message: TWSMessage
        switch id {
        case .nextValidId:
            try r.skip()  // version
            message = .nextValidId(try r.int())
        case .managedAccounts:
            try r.skip()
            let list = try r.string()
            message = .managedAccounts(list.split(separator: ",").map { String($0.filter { $0 != " " }) }.filter { !$0.isEmpty })
        case .orderStatus:
            // No version field from MARKET_CAP_PRICE (131) on.
            message = .orderStatus(
                TWSOrderStatus(
                    orderId: try r.int(), status: try r.string(), filled: try r.number(), remaining: try r.number(),
                    averageFillPrice: try r.number(), permId: try r.int64(), parentId: try r.int(), lastFillPrice: try r.number(),
                    clientId: try r.int(), whyHeld: try r.string(), marketCapPrice: try r.number()))
        case .openOrder:
            return .openOrder(try decodeOpenOrder(&r, version: version))
        case .openOrderEnd:
            try r.skip()
            message = .openOrderEnd
        case .position:
            try r.skip()  // version (3)
            let account = try r.string()
            let contract = TWSReportedContract(
                conId: try r.int(), symbol: try r.string(), secType: try r.string(), lastTradeDateOrContractMonth: try r.string(),
                strike: try r.number(), right: try r.string(), multiplier: try r.string(), exchange: try r.string(),
                currency: try r.string(), localSymbol: try r.string(), tradingClass: try r.string())
            message = .position(TWSPosition(account: account, contract: contract, position: try r.number(), averageCost: try r.number()))
        case .positionEnd:
            try r.skip()
            message = .positionEnd
        case .executionData:
            message = .execution(try decodeExecution(&r, version: version))
        case .commissionReport:
            try r.skip()
            message = .commissionReport(
                TWSCommissionReport(
                    execId: try r.string(), commission: try r.number(), currency: try r.string(), realizedPnL: try r.number(),
                    yield: try r.number(), yieldRedemptionDate: try r.int()))
        case .executionDataEnd:
            try r.skip()
            message = .executionEnd(reqId: try r.int())
        case .accountSummary:
            try r.skip()
            message = .accountSummary(
                TWSAccountValue(
                    reqId: try r.int(), account: try r.string(), tag: try r.string(), value: try r.string(), currency: try r.string()))
        case .accountSummaryEnd:
            try r.skip()
            message = .accountSummaryEnd(reqId: try r.int())
        case .errorMessage:
            if !version.supports(.errorTime) { try r.skip() }  // version, dropped at 194
            let id = try r.int()
            let code = try r.int()
            let text = try r.string()
            let json = try r.string()  // advancedOrderRejectJson (from 166)
            var time: Int64 = 0
            if version.supports(.errorTime) { time = try r.int64() }
            message = .error(TWSErrorMessage(id: id, code: code, message: text, advancedOrderRejectJson: json, time: time))
        case .currentTime:
            try r.skip()
            message = .currentTime(try r.int64())
        case .historicalData:
            message = .historicalData(try decodeHistoricalData(&r, version: version))
        case .historicalDataEnd:
            guard version.supports(.historicalDataEnd) else { throw .unknownMessage(id: rawId) }
            message = .historicalDataEnd(reqId: try r.int(), start: try r.string(), end: try r.string())
        }
        try r.finish()
        return message
    }

    /// execDetails: no version field from LAST_LIQUIDITY (136) on.
    static func decodeExecution(_ r: inout TWSFieldReader, version: TWSServerVersion) throws(TWSDecodeError) -> TWSExecution {
        let reqId = try r.int()
        let orderId = try r.int()
        let contract = TWSReportedContract(
            conId: try r.int(), symbol: try r.string(), secType: try r.string(), lastTradeDateOrContractMonth: try r.string(),
            strike: try r.number(), right: try r.string(), multiplier: try r.string(), exchange: try r.string(), currency: try r.string(),
            localSymbol: try r.string(), tradingClass: try r.string())
        var e = TWSExecution(
            reqId: reqId, orderId: orderId, contract: contract, execId: try r.string(), time: try r.string(), account: try r.string(),
            exchange: try r.string(), side: try r.string(), shares: try r.number(), price: try r.number(), permId: try r.int64(),
            clientId: try r.int(), liquidation: try r.int(), cumulativeQuantity: try r.number(), averagePrice: try r.number(),
            orderRef: try r.string(), evRule: try r.string(), evMultiplier: try r.number(), modelCode: try r.string(),
            lastLiquidity: try r.int(), pendingPriceRevision: try r.bool(), submitter: "")
        if version.supports(.submitter) { e.submitter = try r.string() }
        return e
    }

    /// openOrder from ORDER_CONTAINER (145) on has no version field; the decoder's message version
    /// is the server version, so every `version >= n` read of the official `EOrderDecoder` applies.
    static func decodeOpenOrder(_ r: inout TWSFieldReader, version: TWSServerVersion) throws(TWSDecodeError) -> TWSOpenOrder {
        let orderId = try r.int()
        let contract = TWSReportedContract(
            conId: try r.int(), symbol: try r.string(), secType: try r.string(), lastTradeDateOrContractMonth: try r.string(),
            strike: try r.number(), right: try r.string(), multiplier: try r.string(), exchange: try r.string(), currency: try r.string(),
            localSymbol: try r.string(), tradingClass: try r.string())
        let action = try r.string()
        let quantity = try r.number()
        let type = try r.string()
        let limit = try r.number()  // readDoubleMax
        let aux = try r.number()
        let tif = try r.string()
        let oca = try r.string()
        let account = try r.string()
        let openClose = try r.string()
        let origin = try r.int()
        let orderRef = try r.string()
        let clientId = try r.int()
        let permId = try r.int64()
        let outsideRth = try r.bool()
        let hidden = try r.int() == 1
        _ = try r.number()  // discretionaryAmt
        try r.skip()  // goodAfterTime
        try r.skip()  // deprecated sharesAllocation
        try r.skip(3)  // faGroup, faMethod, faPercentage (faProfile gone from 177)
        try r.skip()  // modelCode
        try r.skip()  // goodTillDate
        try r.skip()  // rule80A
        _ = try r.number()  // percentOffset
        try r.skip()  // settlingFirm
        _ = try r.int()  // shortSaleSlot
        try r.skip()  // designatedLocation
        _ = try r.int()  // exemptCode
        _ = try r.int()  // auctionStrategy
        for _ in 0..<5 { _ = try r.number() }  // startingPrice, stockRefPrice, delta, stockRangeLower, stockRangeUpper
        _ = try r.intMax()  // displaySize
        _ = try r.bool()  // blockOrder
        _ = try r.bool()  // sweepToFill
        _ = try r.bool()  // allOrNone
        _ = try r.intMax()  // minQty
        _ = try r.int()  // ocaType
        _ = try r.bool()  // deprecated eTradeOnly
        _ = try r.bool()  // deprecated firmQuoteOnly
        _ = try r.number()  // deprecated nbboPriceCap
        let parentId = try r.int()
        let triggerMethod = try r.int()
        var tail: [String] = []
        tail.reserveCapacity(r.remaining)
        while r.remaining > 0 { tail.append(try r.string()) }
        return TWSOpenOrder(
            orderId: orderId, contract: contract, action: action, totalQuantity: quantity, orderType: type, limitPrice: limit,
            auxPrice: aux,
            timeInForce: tif, ocaGroup: oca, account: account, openClose: openClose, origin: origin, orderRef: orderRef, clientId: clientId,
            permId: permId, outsideRth: outsideRth, hidden: hidden, parentId: parentId, triggerMethod: triggerMethod, tail: tail)
    }
}
