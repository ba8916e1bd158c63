import ASTCore

/// The client's opening bytes: `API\0`, then one length-prefixed frame holding the version range
/// (`v190..200`, no terminating NUL), as the official client's `sendV100APIHeader` writes them.
public enum TWSHandshake {
    public static let prefix: [UInt8] = [0x41, 0x50, 0x49, 0x00]

    public static func hello(
        minimum: Int = TWSServerVersion.minimum, maximum: Int = TWSServerVersion.maximum, connectOptions: String = ""
    ) -> [UInt8] {
        var text = minimum < maximum ? "v\(minimum)..\(maximum)" : "v\(minimum)"
        if !connectOptions.isEmpty { text += " " + connectOptions }
        return prefix + TWSWire.frame(Array(text.utf8))
    }

    /// The server's first frame: its version and its connection time (`20261207 07:00:00 EST`).
    public struct Reply: Equatable, Sendable {
        public let serverVersion: Int
        public let connectionTime: String
    }

    /// Decodes the first frame. The version is returned as sent; the caller checks it against the
    /// supported range so that an old server is refused with its version named.
    public static func decodeReply(_ payload: [UInt8]) throws(TWSDecodeError) -> Reply {
        var r = TWSFieldReader(try TWSWire.fields(payload), message: "handshake reply")
        let version = Int(try r.int())
        guard version > 0 else { throw .badHandshake("server version \(version)") }
        let time = try r.string()
        return Reply(serverVersion: version, connectionTime: time)
    }
}

/// A U.S. stock as placeOrder describes it (AST trades nothing else).
public struct TWSContract: Hashable, Sendable {
    public var conId: Int32
    public var symbol: String
    public var exchange: String
    public var primaryExchange: String
    public var currency: String

    public init(symbol: String, conId: Int32 = 0, exchange: String = "SMART", primaryExchange: String = "", currency: String = "USD") {
        self.symbol = symbol
        self.conId = conId
        self.exchange = exchange
        self.primaryExchange = primaryExchange
        self.currency = currency
    }
}

/// BUY or SELL, as the protocol spells them.
public enum TWSAction: String, Sendable, Codable {
    case buy = "BUY"
    case sell = "SELL"

    public init(_ side: Side) { self = side == .buy ? .buy : .sell }
    public var opposite: TWSAction { self == .buy ? .sell : .buy }
}

/// The order types a bracket uses.
public enum TWSOrderType: Hashable, Sendable {
    case limit(Price)
    case stop(Price)
    case market

    var code: String {
        switch self {
        case .limit: "LMT"
        case .stop: "STP"
        case .market: "MKT"
        }
    }
}

/// Time in force.
public enum TWSTimeInForce: String, Sendable, Codable {
    case day = "DAY"
    case goodTillCancelled = "GTC"
}

/// The fields of an order AST sets; every other field of placeOrder is sent with the official
/// Java client's default for it.
public struct TWSOrder: Hashable, Sendable {
    public var action: TWSAction
    public var quantity: Quantity
    public var type: TWSOrderType
    public var timeInForce: TWSTimeInForce
    public var account: String
    /// The client order id (`<intent>.E|S|T`): after a crash the broker finds its orders at IB by it.
    public var orderRef: String
    public var transmit: Bool
    public var parentId: Int32
    public var ocaGroup: String
    public var outsideRth: Bool

    public init(
        action: TWSAction, quantity: Quantity, type: TWSOrderType, timeInForce: TWSTimeInForce = .day, account: String = "",
        orderRef: String, transmit: Bool = true, parentId: Int32 = 0, ocaGroup: String = "", outsideRth: Bool = false
    ) {
        self.action = action
        self.quantity = quantity
        self.type = type
        self.timeInForce = timeInForce
        self.account = account
        self.orderRef = orderRef
        self.transmit = transmit
        self.parentId = parentId
        self.ocaGroup = ocaGroup
        self.outsideRth = outsideRth
    }
}

/// What reqExecutions asks for. `lastNDays` and `specificDates` exist from server version 200.
public struct TWSExecutionFilter: Hashable, Sendable {
    public var clientId: Int32
    public var account: String
    /// `yyyyMMdd-HH:mm:ss` in UTC: executions since then.
    public var time: String
    public var symbol: String
    public var lastNDays: Int32?
    public var specificDates: [Int32]

    public init(
        clientId: Int32 = 0, account: String = "", time: String = "", symbol: String = "", lastNDays: Int32? = nil,
        specificDates: [Int32] = []
    ) {
        self.clientId = clientId
        self.account = account
        self.time = time
        self.symbol = symbol
        self.lastNDays = lastNDays
        self.specificDates = specificDates
    }
}

/// One order of a bracket with the id it is placed under.
public struct TWSPlacement: Hashable, Sendable {
    public let orderId: Int32
    public let order: TWSOrder
}

/// A bracket as IB attaches one: the entry (parent) with `transmit=false`, then the stop and the
/// target as children carrying the parent's id; only the last child transmits, so nothing works
/// at IB until all three are there.
public enum TWSBracket {
    /// The three placements, ids `parentId`, `parentId+1`, `parentId+2`, in sending order. The entry
    /// works for `timeInForce`; the stop and the target for `protectiveTimeInForce`, GTC unless asked
    /// otherwise, so that a DAY entry's protection is not cancelled by IB at the session's end.
    public static func placements(
        parentId: Int32, side: Side, quantity: Quantity, entry: Price, stop: Price, target: Price, clientOrderId: String,
        account: String = "", timeInForce: TWSTimeInForce = .goodTillCancelled,
        protectiveTimeInForce: TWSTimeInForce = .goodTillCancelled
    ) throws(TWSEncodeError) -> [TWSPlacement] {
        guard quantity.shares > 0 else { throw .invalid("bracket quantity must be positive (got \(quantity))") }
        guard parentId > 0, parentId <= Int32.max - 2 else { throw .invalid("bracket order ids from \(parentId) do not fit") }
        let ordered = side == .buy ? (stop < entry && entry < target) : (target < entry && entry < stop)
        guard ordered else { throw .invalid("bracket prices out of order: entry \(entry), stop \(stop), target \(target)") }
        let action = TWSAction(side)
        let parent = TWSOrder(
            action: action, quantity: quantity, type: .limit(entry), timeInForce: timeInForce, account: account,
            orderRef: clientOrderId + ".E", transmit: false)
        let stopLeg = TWSOrder(
            action: action.opposite, quantity: quantity, type: .stop(stop), timeInForce: protectiveTimeInForce, account: account,
            orderRef: clientOrderId + ".S", transmit: false, parentId: parentId)
        let targetLeg = TWSOrder(
            action: action.opposite, quantity: quantity, type: .limit(target), timeInForce: protectiveTimeInForce, account: account,
            orderRef: clientOrderId + ".T", transmit: true, parentId: parentId)
        return [
            TWSPlacement(orderId: parentId, order: parent), TWSPlacement(orderId: parentId + 1, order: stopLeg),
            TWSPlacement(orderId: parentId + 2, order: targetLeg),
        ]
    }
}

/// A request AST sends to TWS.
public enum TWSRequest: Hashable, Sendable {
    case startApi(clientId: Int32, optionalCapabilities: String)
    case reqIds(count: Int32)
    case placeOrder(orderId: Int32, contract: TWSContract, order: TWSOrder)
    case cancelOrder(orderId: Int32, manualOrderCancelTime: String)
    case reqOpenOrders
    case reqAllOpenOrders
    case reqPositions
    case cancelPositions
    case reqExecutions(reqId: Int32, filter: TWSExecutionFilter)
    case reqAccountSummary(reqId: Int32, group: String, tags: String)
    case cancelAccountSummary(reqId: Int32)
    case reqCurrentTime
    /// Daily bars of one stock (TWSHistoricalData.swift).
    case reqHistoricalData(reqId: Int32, query: TWSHistoricalQuery)
    case cancelHistoricalData(reqId: Int32)

    /// The payload (without its length prefix) at `version`, field for field as the official
    /// Java client's `EClient` writes it at that version.
    public func encode(at version: TWSServerVersion) throws(TWSEncodeError) -> [UInt8] {
        var w = TWSFieldWriter()
        switch self {
        case .startApi(let clientId, let capabilities):
            w.add(TWSOutgoingId.startApi.rawValue)
            w.add(2)  // message version
            w.add(clientId)
            try w.add(capabilities, "optionalCapabilities")
        case .reqIds(let count):
            w.add(TWSOutgoingId.reqIds.rawValue)
            w.add(1)
            w.add(count)
        case .placeOrder(let orderId, let contract, let order):
            try Self.encodePlaceOrder(&w, orderId: orderId, contract: contract, order: order, version: version)
        case .cancelOrder(let orderId, let manualTime):
            w.add(TWSOutgoingId.cancelOrder.rawValue)
            if !version.supports(.cmeTaggingFields) { w.add(1) }  // message version, dropped at 192
            w.add(orderId)
            try w.add(manualTime, "manualOrderCancelTime")
            if version.supports(.cmeTaggingFields) {
                w.raw("")  // extOperator
                w.add(Int(Int32.max))  // manualOrderIndicator: unset, sent by plain send(int)
            }
        case .reqOpenOrders:
            w.add(TWSOutgoingId.reqOpenOrders.rawValue)
            w.add(1)
        case .reqAllOpenOrders:
            w.add(TWSOutgoingId.reqAllOpenOrders.rawValue)
            w.add(1)
        case .reqPositions:
            w.add(TWSOutgoingId.reqPositions.rawValue)
            w.add(1)
        case .cancelPositions:
            w.add(TWSOutgoingId.cancelPositions.rawValue)
            w.add(1)
        case .reqExecutions(let reqId, let f):
            w.add(TWSOutgoingId.reqExecutions.rawValue)
            w.add(3)
            w.add(reqId)
            w.add(f.clientId)
            try w.add(f.account, "acctCode")
            try w.add(f.time, "time")
            try w.add(f.symbol, "symbol")
            w.raw("")  // secType
            w.raw("")  // exchange
            w.raw("")  // side
            if version.supports(.parametrizedDaysOfExecutions) {
                w.add(f.lastNDays ?? Int32.max)
                w.add(f.specificDates.count)
                for d in f.specificDates { w.add(d) }
            } else if f.lastNDays != nil || !f.specificDates.isEmpty {
                throw .invalid("server version \(version) does not support last N days and specific dates in reqExecutions")
            }
        case .reqAccountSummary(let reqId, let group, let tags):
            w.add(TWSOutgoingId.reqAccountSummary.rawValue)
            w.add(1)
            w.add(reqId)
            try w.add(group, "group")
            try w.add(tags, "tags")
        case .cancelAccountSummary(let reqId):
            w.add(TWSOutgoingId.cancelAccountSummary.rawValue)
            w.add(1)
            w.add(reqId)
        case .reqCurrentTime:
            w.add(TWSOutgoingId.reqCurrentTime.rawValue)
            w.add(1)
        case .reqHistoricalData(let reqId, let query):
            try Self.encodeHistorical(&w, reqId: reqId, query: query)
        case .cancelHistoricalData(let reqId):
            w.add(TWSOutgoingId.cancelHistoricalData.rawValue)
            w.add(1)
            w.add(reqId)
        }
        return w.bytes
    }

    /// placeOrder for a stock, in the official Java client's order (`EClient.placeOrder`, text
    /// path, server versions 190...200). Fields AST does not use carry the Java `Order()`
    /// defaults, printed as its `Builder` prints them (`send(double)` of an unset value prints
    /// `Double.MAX_VALUE` in full; `sendMax` prints it empty).
    static func encodePlaceOrder(
        _ w: inout TWSFieldWriter, orderId: Int32, contract c: TWSContract, order o: TWSOrder, version: TWSServerVersion
    ) throws(TWSEncodeError) {
        guard o.quantity.shares > 0 else { throw .invalid("order quantity must be positive (got \(o.quantity))") }
        let unsetDouble: StaticString = "1.7976931348623157E308"
        w.add(TWSOutgoingId.placeOrder.rawValue)
        w.add(orderId)  // no message version from ORDER_CONTAINER (145) on
        // contract
        w.add(c.conId)
        try w.add(c.symbol, "symbol")
        w.raw("STK")
        w.raw("")  // lastTradeDateOrContractMonth
        w.raw("0.0")  // strike (sendMax of 0.0)
        w.raw("")  // right
        w.raw("")  // multiplier
        try w.add(c.exchange, "exchange")
        try w.add(c.primaryExchange, "primaryExch")
        try w.add(c.currency, "currency")
        w.raw("")  // localSymbol
        w.raw("")  // tradingClass
        w.raw("")  // secIdType
        w.raw("")  // secId
        // main order fields
        w.raw(o.action == .buy ? "BUY" : "SELL")
        w.add(Int(o.quantity.shares))  // totalQuantity (Decimal.toString)
        try w.add(o.type.code, "orderType")
        switch o.type {
        case .limit(let p):
            try w.add(price: p)  // lmtPrice
            w.raw("")  // auxPrice
        case .stop(let p):
            w.raw("")
            try w.add(price: p)
        case .market:
            w.raw("")
            w.raw("")
        }
        // extended order fields
        w.raw(o.timeInForce == .day ? "DAY" : "GTC")
        try w.add(o.ocaGroup, "ocaGroup")
        try w.add(o.account, "account")
        w.raw("")  // openClose
        w.add(0)  // origin: customer
        try w.add(o.orderRef, "orderRef")
        w.add(o.transmit)
        w.add(o.parentId)
        w.add(false)  // blockOrder
        w.add(false)  // sweepToFill
        w.add(0)  // displaySize
        w.add(0)  // triggerMethod
        w.add(o.outsideRth)
        w.add(false)  // hidden
        w.raw("")  // deprecated sharesAllocation
        w.raw(unsetDouble)  // discretionaryAmt (send of Double.MAX_VALUE)
        w.raw("")  // goodAfterTime
        w.raw("")  // goodTillDate
        w.raw("")  // faGroup
        w.raw("")  // faMethod
        w.raw("")  // faPercentage (faProfile is gone from 177)
        w.raw("")  // modelCode
        w.add(0)  // shortSaleSlot
        w.raw("")  // designatedLocation
        w.add(-1)  // exemptCode
        w.add(0)  // ocaType
        w.raw("")  // rule80A
        w.raw("")  // settlingFirm
        w.add(false)  // allOrNone
        w.raw("")  // minQty (sendMax)
        w.raw("")  // percentOffset (sendMax)
        w.add(false)  // deprecated eTradeOnly
        w.add(false)  // deprecated firmQuoteOnly
        w.raw("")  // deprecated nbboPriceCap (sendMax)
        w.add(0)  // auctionStrategy (sendMax of 0)
        w.raw("")  // startingPrice
        w.raw("")  // stockRefPrice
        w.raw("")  // delta
        w.raw("")  // stockRangeLower
        w.raw("")  // stockRangeUpper
        w.add(false)  // overridePercentageConstraints
        w.raw("")  // volatility (sendMax)
        w.add(Int(Int32.max))  // volatilityType (send of Integer.MAX_VALUE)
        w.raw("")  // deltaNeutralOrderType
        w.raw("")  // deltaNeutralAuxPrice (sendMax)
        w.add(0)  // continuousUpdate
        w.add(Int(Int32.max))  // referencePriceType (send of Integer.MAX_VALUE)
        w.raw("")  // trailStopPrice
        w.raw("")  // trailingPercent
        w.raw("")  // scaleInitLevelSize
        w.raw("")  // scaleSubsLevelSize
        w.raw("")  // scalePriceIncrement
        w.raw("")  // scaleTable
        w.raw("")  // activeStartTime
        w.raw("")  // activeStopTime
        w.raw("")  // hedgeType
        w.add(false)  // optOutSmartRouting
        w.raw("")  // clearingAccount
        w.raw("")  // clearingIntent
        w.add(false)  // notHeld
        w.add(false)  // no delta-neutral contract
        w.raw("")  // algoStrategy
        w.raw("")  // algoId
        w.add(false)  // whatIf
        w.raw("")  // orderMiscOptions
        w.add(false)  // solicited
        w.add(false)  // randomizeSize
        w.add(false)  // randomizePrice
        w.add(0)  // conditions count
        w.raw("")  // adjustedOrderType
        w.raw(unsetDouble)  // triggerPrice
        w.raw(unsetDouble)  // lmtPriceOffset
        w.raw(unsetDouble)  // adjustedStopPrice
        w.raw(unsetDouble)  // adjustedStopLimitPrice
        w.raw(unsetDouble)  // adjustedTrailingAmount
        w.add(0)  // adjustableTrailingUnit
        w.raw("")  // extOperator
        w.raw("")  // softDollarTier name
        w.raw("")  // softDollarTier value
        w.raw("")  // cashQty (sendMax)
        w.raw("")  // mifid2DecisionMaker
        w.raw("")  // mifid2DecisionAlgo
        w.raw("")  // mifid2ExecutionTrader
        w.raw("")  // mifid2ExecutionAlgo
        w.add(false)  // dontUseAutoPriceForHedge
        w.add(false)  // isOmsContainer
        w.add(false)  // discretionaryUpToLimitPrice
        w.raw("")  // usePriceMgmtAlgo (unset)
        w.add(Int(Int32.max))  // duration (send of Integer.MAX_VALUE)
        w.add(Int(Int32.max))  // postToAts (send of Integer.MAX_VALUE)
        w.add(false)  // autoCancelParent
        w.raw("")  // advancedErrorOverride
        w.raw("")  // manualOrderTime
        w.raw("")  // customerAccount (no PEG BEST/MID fields: not IBKRATS, not a peg order)
        w.add(false)  // professionalCustomer
        w.add(false)  // includeOvernight (the RFQ fields of 187...189 are below our range)
        if version.supports(.cmeTaggingFields) { w.add(Int(Int32.max)) }  // manualOrderIndicator (unset)
        if version.supports(.imbalanceOnly) { w.add(false) }  // imbalanceOnly
    }
}
