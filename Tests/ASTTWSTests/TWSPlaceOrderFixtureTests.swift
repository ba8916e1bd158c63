import ASTCore
import Testing

@testable import ASTTWS

/// Byte-exact placeOrder for each leg of a bracket, written out by hand from the official Java
/// client's `EClient.placeOrder` (text path) and the defaults of its `Order()` constructor, in
/// the order it writes them. Bracket: BUY 100 AAPL (conId 265598) on SMART, entry LMT 150.25,
/// stop STP 145.50, target LMT 160.00, GTC, account DU1234567, intent `ig-20261207-AAPL-1`.
@Suite struct TWSPlaceOrderFixtureTests {
    /// The entry (parent) at server version 200, one line per field.
    static let parentAt200: [String] = [
        "3",  // PLACE_ORDER (no message version from ORDER_CONTAINER, 145)
        "1001",  // orderId
        "265598",  // contract.conid
        "AAPL",  // symbol
        "STK",  // secType
        "",  // lastTradeDateOrContractMonth
        "0.0",  // strike: sendMax(0.0)
        "",  // right
        "",  // multiplier
        "SMART",  // exchange
        "",  // primaryExch
        "USD",  // currency
        "",  // localSymbol
        "",  // tradingClass
        "",  // secIdType
        "",  // secId
        "BUY",  // action
        "100",  // totalQuantity (Decimal)
        "LMT",  // orderType
        "150.25",  // lmtPrice: sendMax
        "",  // auxPrice: sendMax of unset
        "GTC",  // tif
        "",  // ocaGroup
        "DU1234567",  // account
        "",  // openClose
        "0",  // origin: CUSTOMER
        "ig-20261207-AAPL-1.E",  // orderRef: the client order id
        "0",  // transmit: false on the parent
        "0",  // parentId
        "0",  // blockOrder
        "0",  // sweepToFill
        "0",  // displaySize
        "0",  // triggerMethod
        "0",  // outsideRth
        "0",  // hidden
        "",  // deprecated sharesAllocation
        "1.7976931348623157E308",  // discretionaryAmt: send(Double.MAX_VALUE)
        "",  // goodAfterTime
        "",  // goodTillDate
        "",  // faGroup
        "",  // faMethod
        "",  // faPercentage (no faProfile from 177)
        "",  // modelCode
        "0",  // shortSaleSlot
        "",  // designatedLocation
        "-1",  // exemptCode
        "0",  // ocaType
        "",  // rule80A
        "",  // settlingFirm
        "0",  // allOrNone
        "",  // minQty: sendMax
        "",  // percentOffset: sendMax
        "0",  // eTradeOnly (deprecated, false)
        "0",  // firmQuoteOnly (deprecated, false)
        "",  // nbboPriceCap (deprecated, sendMax of MAX)
        "0",  // auctionStrategy: sendMax(0)
        "",  // startingPrice
        "",  // stockRefPrice
        "",  // delta
        "",  // stockRangeLower
        "",  // stockRangeUpper
        "0",  // overridePercentageConstraints
        "",  // volatility: sendMax
        "2147483647",  // volatilityType: send(Integer.MAX_VALUE)
        "",  // deltaNeutralOrderType
        "",  // deltaNeutralAuxPrice: sendMax
        "0",  // continuousUpdate
        "2147483647",  // referencePriceType: send(Integer.MAX_VALUE)
        "",  // trailStopPrice
        "",  // trailingPercent
        "",  // scaleInitLevelSize
        "",  // scaleSubsLevelSize
        "",  // scalePriceIncrement (unset: no scale-3 fields)
        "",  // scaleTable
        "",  // activeStartTime
        "",  // activeStopTime
        "",  // hedgeType (empty: no hedgeParam)
        "0",  // optOutSmartRouting
        "",  // clearingAccount
        "",  // clearingIntent
        "0",  // notHeld
        "0",  // no deltaNeutralContract
        "",  // algoStrategy (empty: no algo params)
        "",  // algoId
        "0",  // whatIf
        "",  // orderMiscOptions
        "0",  // solicited
        "0",  // randomizeSize
        "0",  // randomizePrice
        "0",  // conditions count (not a PEG BENCH order: no reference fields)
        "",  // adjustedOrderType
        "1.7976931348623157E308",  // triggerPrice: send(double)
        "1.7976931348623157E308",  // lmtPriceOffset
        "1.7976931348623157E308",  // adjustedStopPrice
        "1.7976931348623157E308",  // adjustedStopLimitPrice
        "1.7976931348623157E308",  // adjustedTrailingAmount
        "0",  // adjustableTrailingUnit
        "",  // extOperator
        "",  // softDollarTier name
        "",  // softDollarTier value
        "",  // cashQty: sendMax
        "",  // mifid2DecisionMaker
        "",  // mifid2DecisionAlgo
        "",  // mifid2ExecutionTrader
        "",  // mifid2ExecutionAlgo
        "0",  // dontUseAutoPriceForHedge
        "0",  // isOmsContainer
        "0",  // discretionaryUpToLimitPrice
        "",  // usePriceMgmtAlgo (unset)
        "2147483647",  // duration: send(Integer.MAX_VALUE)
        "2147483647",  // postToAts: send(Integer.MAX_VALUE)
        "0",  // autoCancelParent
        "",  // advancedErrorOverride
        "",  // manualOrderTime
        "",  // customerAccount (no PEG BEST/MID fields: not IBKRATS, not a peg order)
        "0",  // professionalCustomer
        "0",  // includeOvernight (no RFQ fields: they exist only at 187...189)
        "2147483647",  // manualOrderIndicator (from CME_TAGGING_FIELDS, 192)
        "0",  // imbalanceOnly (from IMBALANCE_ONLY, 199)
    ]

    /// The same leg at server version 190: the two last fields do not exist yet.
    static let parentAt190 = Array(parentAt200.dropLast(2))

    /// The stop: the parent's fields with these replaced (indices into the list above).
    static func stop(_ base: [String]) -> [String] {
        var f = base
        f[1] = "1002"  // orderId
        f[16] = "SELL"  // action
        f[18] = "STP"  // orderType
        f[19] = ""  // lmtPrice: unset
        f[20] = "145.5"  // auxPrice: the stop price
        f[26] = "ig-20261207-AAPL-1.S"  // orderRef
        f[27] = "0"  // transmit: false, the target transmits the bracket
        f[28] = "1001"  // parentId
        return f
    }

    /// The target: the last leg, the one that transmits.
    static func target(_ base: [String]) -> [String] {
        var f = base
        f[1] = "1003"
        f[16] = "SELL"
        f[18] = "LMT"
        f[19] = "160.0"
        f[20] = ""
        f[26] = "ig-20261207-AAPL-1.T"
        f[27] = "1"  // transmit
        f[28] = "1001"
        return f
    }

    static func bracket() throws -> [TWSPlacement] {
        try TWSBracket.placements(
            parentId: 1001, side: .buy, quantity: 100, entry: price("150.25"), stop: price("145.50"), target: price("160.00"),
            clientOrderId: "ig-20261207-AAPL-1", account: "DU1234567")
    }

    static let aapl = TWSContract(symbol: "AAPL", conId: 265598)

    func encoded(_ p: TWSPlacement, _ v: TWSServerVersion) throws -> [UInt8] {
        try TWSRequest.placeOrder(orderId: p.orderId, contract: Self.aapl, order: p.order).encode(at: v)
    }

    @Test func parentStopAndTargetAreByteExactAtServerVersion200() throws {
        let legs = try Self.bracket()
        #expect(try encoded(legs[0], v200) == payload(Self.parentAt200))
        #expect(try encoded(legs[1], v200) == payload(Self.stop(Self.parentAt200)))
        #expect(try encoded(legs[2], v200) == payload(Self.target(Self.parentAt200)))
    }

    @Test func parentStopAndTargetAreByteExactAtServerVersion190() throws {
        let legs = try Self.bracket()
        #expect(try encoded(legs[0], v190) == payload(Self.parentAt190))
        #expect(try encoded(legs[1], v190) == payload(Self.stop(Self.parentAt190)))
        #expect(try encoded(legs[2], v190) == payload(Self.target(Self.parentAt190)))
    }

    @Test func fixturesHaveTheFieldCountsOfTheOfficialClient() {
        #expect(Self.parentAt200.count == 119)
        #expect(Self.parentAt190.count == 117)
    }

    @Test func framedParentStartsWithItsLength() throws {
        let legs = try Self.bracket()
        let framed = TWSWire.frame(try encoded(legs[0], v200))
        // 119 fields: 293 bytes of text plus 119 NULs = 412 = 0x019C.
        #expect(Array(framed.prefix(4)) == [0, 0, 0x01, 0x9C])
        #expect(framed.count == 416)
    }

    @Test func bracketRefusesInvertedPricesZeroQuantityAndIdOverflow() {
        #expect(throws: TWSEncodeError.self) {
            try TWSBracket.placements(
                parentId: 1, side: .buy, quantity: 100, entry: price("10"), stop: price("11"), target: price("12"), clientOrderId: "x")
        }
        #expect(throws: TWSEncodeError.self) {
            try TWSBracket.placements(
                parentId: 1, side: .sell, quantity: 100, entry: price("10"), stop: price("9"), target: price("8"), clientOrderId: "x")
        }
        #expect(throws: TWSEncodeError.self) {
            try TWSBracket.placements(
                parentId: 1, side: .buy, quantity: 0, entry: price("10"), stop: price("9"), target: price("12"), clientOrderId: "x")
        }
        #expect(throws: TWSEncodeError.self) {
            try TWSBracket.placements(
                parentId: Int32.max - 1, side: .buy, quantity: 1, entry: price("10"), stop: price("9"), target: price("12"),
                clientOrderId: "x")
        }
    }

    @Test func aShortBracketSellsTheEntryAndBuysItsChildren() throws {
        let legs = try TWSBracket.placements(
            parentId: 7, side: .sell, quantity: 5, entry: price("50"), stop: price("55"), target: price("40"), clientOrderId: "s")
        #expect(legs.map(\.order.action) == [.sell, .buy, .buy])
        #expect(legs.map(\.order.transmit) == [false, false, true])
        #expect(legs.map(\.order.parentId) == [0, 7, 7])
        #expect(legs.map(\.order.orderRef) == ["s.E", "s.S", "s.T"])
    }

    @Test func aNulInTheClientOrderIdIsRefusedNotSentShifted() throws {
        let order = TWSOrder(action: .buy, quantity: 1, type: .limit(price("10")), orderRef: "bad\u{0}ref")
        #expect(throws: TWSEncodeError.nulInField("orderRef")) {
            try TWSRequest.placeOrder(orderId: 1, contract: Self.aapl, order: order).encode(at: v200)
        }
    }
}
