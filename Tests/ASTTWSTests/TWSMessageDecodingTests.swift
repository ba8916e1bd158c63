import ASTCore
import Testing

@testable import ASTTWS

/// Every message AST decodes, at the lowest and highest server version it supports, from fields
/// laid out as the official client's `EDecoder` reads them; and hostile variants refused.
@Suite struct TWSMessageDecodingTests {
    static let orderStatus = ["3", "1001", "Submitted", "40", "60", "150.25", "1234567890123", "0", "150.25", "7", "", "0"]
    static let openOrderHead = [
        "5", "1001",  // OPEN_ORDER (no version from 145), orderId
        "265598", "AAPL", "STK", "", "0", "", "", "SMART", "USD", "AAPL", "NMS",  // contract
        "BUY", "100", "LMT", "150.25", "",  // action, totalQuantity, orderType, lmtPrice, auxPrice
        "GTC", "", "DU1234567", "", "0", "ig-20261207-AAPL-1.E",  // tif, ocaGroup, account, openClose, origin, orderRef
        "7", "1234567890123", "0", "0", "0",  // clientId, permId, outsideRth, hidden, discretionaryAmt
        "", "", "", "", "", "", "",  // goodAfterTime, sharesAllocation, faGroup, faMethod, faPercentage, modelCode, goodTillDate
        "", "", "",  // rule80A, percentOffset, settlingFirm
        "0", "", "-1", "0",  // shortSaleSlot, designatedLocation, exemptCode, auctionStrategy
        "", "", "", "", "",  // startingPrice, stockRefPrice, delta, stockRangeLower, stockRangeUpper
        "0", "0", "0", "0", "", "0",  // displaySize, blockOrder, sweepToFill, allOrNone, minQty, ocaType
        "0", "0", "",  // eTradeOnly, firmQuoteOnly, nbboPriceCap
        "0", "0",  // parentId, triggerMethod
    ]
    /// What follows triggerMethod (volatility params, ..., order state): kept, not decoded.
    static let openOrderTail = ["", "0", "", "", "0", "", "", "", "", "", "", "", "0", "Submitted"]
    static let position = [
        "61", "3", "DU1234567", "265598", "AAPL", "STK", "", "0", "", "", "NASDAQ", "USD", "AAPL", "NMS", "60", "150.25",
    ]
    static let execution190 = [
        "11", "3", "1001",  // EXECUTION_DATA (no version from 136), reqId, orderId
        "265598", "AAPL", "STK", "", "0", "", "", "ISLAND", "USD", "AAPL", "NMS",  // contract
        "0000e0d5.67a1b2c3.01.01", "20261207 09:30:01 US/Eastern", "DU1234567", "ISLAND", "BOT",  // execId, time, account, exchange, side
        "60", "150.25", "1234567890123", "7", "0",  // shares, price, permId, clientId, liquidation
        "60", "150.25", "ig-20261207-AAPL-1.E", "", "", "",  // cumQty, avgPrice, orderRef, evRule, evMultiplier, modelCode
        "1", "0",  // lastLiquidity, pendingPriceRevision
    ]
    static let execution200 = execution190 + ["ast"]  // submitter, from 198
    static let commission = ["59", "1", "0000e0d5.67a1b2c3.01.01", "1.0", "USD", "1.7976931348623157E308", "1.7976931348623157E308", "0"]
    static let error190 = ["4", "2", "1001", "201", "Order rejected - reason:insufficient margin", ""]
    static let error200 = ["4", "1001", "201", "Order rejected - reason:insufficient margin", "", "1796626800000"]

    func decode(_ fields: [String], _ v: TWSServerVersion) throws -> TWSMessage { try TWSMessage.decode(payload(fields), at: v) }

    @Test(arguments: [v190, v200])
    func sessionMessagesDecode(v: TWSServerVersion) throws {
        #expect(try decode(["9", "1", "1001"], v) == .nextValidId(1001))
        #expect(try decode(["15", "1", "DU1234567,DU7654321"], v) == .managedAccounts(["DU1234567", "DU7654321"]))
        #expect(try decode(["53", "1"], v) == .openOrderEnd)
        #expect(try decode(["62", "1"], v) == .positionEnd)
        #expect(try decode(["55", "1", "3"], v) == .executionEnd(reqId: 3))
        #expect(try decode(["64", "1", "9"], v) == .accountSummaryEnd(reqId: 9))
        #expect(try decode(["49", "1", "1796626800"], v) == .currentTime(1_796_626_800))
        #expect(
            try decode(["63", "1", "9", "DU1234567", "NetLiquidation", "100000.00", "USD"], v)
                == .accountSummary(.init(reqId: 9, account: "DU1234567", tag: "NetLiquidation", value: "100000.00", currency: "USD")))
    }

    @Test(arguments: [v190, v200])
    func orderStatusCarriesPermIdAsASixtyFourBitKey(v: TWSServerVersion) throws {
        guard case .orderStatus(let s) = try decode(Self.orderStatus, v) else {
            Issue.record("not an orderStatus")
            return
        }
        #expect(s.orderId == 1001 && s.status == "Submitted" && s.permId == 1_234_567_890_123)
        #expect(s.filled?.wholeNumber == 40 && s.remaining?.wholeNumber == 60 && s.averageFillPrice?.fixedPointUnits == 1_502_500)
        #expect(s.clientId == 7 && s.whyHeld == "" && s.marketCapPrice?.text == "0")
    }

    @Test(arguments: [v190, v200])
    func openOrderDecodesIdentityAndTermsAndKeepsTheRest(v: TWSServerVersion) throws {
        guard case .openOrder(let o) = try decode(Self.openOrderHead + Self.openOrderTail, v) else {
            Issue.record("not an openOrder")
            return
        }
        #expect(o.orderId == 1001 && o.orderRef == "ig-20261207-AAPL-1.E" && o.permId == 1_234_567_890_123)
        #expect(o.contract.conId == 265598 && o.contract.symbol == "AAPL" && o.contract.tradingClass == "NMS")
        #expect(o.action == "BUY" && o.totalQuantity?.wholeNumber == 100 && o.orderType == "LMT")
        #expect(o.limitPrice?.fixedPointUnits == 1_502_500 && o.auxPrice == nil)
        #expect(o.timeInForce == "GTC" && o.account == "DU1234567" && o.clientId == 7 && o.parentId == 0)
        #expect(o.tail == Self.openOrderTail)
    }

    @Test(arguments: [v190, v200])
    func positionAndCommissionDecode(v: TWSServerVersion) throws {
        guard case .position(let p) = try decode(Self.position, v) else {
            Issue.record("not a position")
            return
        }
        #expect(p.account == "DU1234567" && p.contract.symbol == "AAPL" && p.position?.wholeNumber == 60)
        #expect(p.averageCost?.fixedPointUnits == 1_502_500)
        guard case .commissionReport(let c) = try decode(Self.commission, v) else {
            Issue.record("not a commission")
            return
        }
        #expect(c.execId == "0000e0d5.67a1b2c3.01.01" && c.commission?.fixedPointUnits == 10_000 && c.currency == "USD")
        #expect(c.realizedPnL?.isUnsetSentinel == true)
    }

    @Test func executionAt190HasNoSubmitter() throws {
        guard case .execution(let e) = try decode(Self.execution190, v190) else {
            Issue.record("not an execution")
            return
        }
        #expect(e.reqId == 3 && e.orderId == 1001 && e.execId == "0000e0d5.67a1b2c3.01.01" && e.side == "BOT")
        #expect(e.shares?.wholeNumber == 60 && e.price?.fixedPointUnits == 1_502_500 && e.permId == 1_234_567_890_123)
        #expect(e.orderRef == "ig-20261207-AAPL-1.E" && e.lastLiquidity == 1 && e.submitter == "")
        // The same fields with a submitter are one too many at 190.
        #expect(throws: TWSDecodeError.trailingFields(message: "executionData", count: 1)) { try decode(Self.execution200, v190) }
    }

    @Test func executionAt200CarriesTheSubmitter() throws {
        guard case .execution(let e) = try decode(Self.execution200, v200) else {
            Issue.record("not an execution")
            return
        }
        #expect(e.submitter == "ast" && e.orderRef == "ig-20261207-AAPL-1.E")
        #expect(throws: TWSDecodeError.missingField(field: 32, message: "executionData")) { try decode(Self.execution190, v200) }
    }

    @Test func errorAt190HasAVersionAndNoTime() throws {
        let e = TWSErrorMessage(
            id: 1001, code: 201, message: "Order rejected - reason:insufficient margin", advancedOrderRejectJson: "", time: 0)
        #expect(try decode(Self.error190, v190) == .error(e))
    }

    @Test func errorAt200DropsTheVersionAndCarriesItsTime() throws {
        let e = TWSErrorMessage(
            id: 1001, code: 201, message: "Order rejected - reason:insufficient margin", advancedOrderRejectJson: "",
            time: 1_796_626_800_000)
        #expect(try decode(Self.error200, v200) == .error(e))
        #expect(
            try decode(["4", "-1", "2104", "Market data farm connection is OK:usfarm", "", "1796626800000"], v200)
                == .error(
                    .init(
                        id: -1, code: 2104, message: "Market data farm connection is OK:usfarm", advancedOrderRejectJson: "",
                        time: 1_796_626_800_000)))
    }

    @Test func unknownIdsAndTrailingFieldsAreRefused() {
        #expect(throws: TWSDecodeError.unknownMessage(id: 1)) { try decode(["1", "6", "1", "1", "150.0"], v200) }
        #expect(throws: TWSDecodeError.unknownMessage(id: 0)) { try decode([""], v200) }
        #expect(throws: TWSDecodeError.trailingFields(message: "nextValidId", count: 1)) { try decode(["9", "1", "1", "x"], v200) }
    }

    /// Every message cut short at every field refuses with a typed error.
    @Test func everyTruncationIsRefused() {
        let all: [([String], TWSServerVersion)] = [
            (Self.orderStatus, v200), (Self.openOrderHead, v200), (Self.position, v190), (Self.execution200, v200),
            (Self.commission, v200), (Self.error190, v190), (Self.error200, v200), (["63", "1", "9", "A", "T", "V", "USD"], v200),
        ]
        for (fields, v) in all {
            for n in 1..<fields.count {
                #expect(throws: TWSDecodeError.self, "\(fields[0]) cut at \(n)") { try decode(Array(fields.prefix(n)), v) }
            }
        }
    }

    /// Non-numeric and out-of-range values in numeric fields are refused, never trapped on.
    @Test func hostileNumbersAreRefused() {
        var bad = Self.orderStatus
        bad[1] = "1001x"
        #expect(throws: TWSDecodeError.notANumber(field: 1, text: "1001x")) { try decode(bad, v200) }
        bad = Self.orderStatus
        bad[6] = "99999999999999999999"  // permId beyond Int64
        #expect(throws: TWSDecodeError.notANumber(field: 6, text: "99999999999999999999")) { try decode(bad, v200) }
        bad = Self.orderStatus
        bad[3] = "4e"  // filled: not a number
        #expect(throws: TWSDecodeError.notANumber(field: 3, text: "4e")) { try decode(bad, v200) }
        var order = Self.openOrderHead
        order[1] = "2147483648"  // orderId beyond Int32
        #expect(throws: TWSDecodeError.notANumber(field: 1, text: "2147483648")) { try decode(order, v200) }
        #expect(throws: TWSDecodeError.notANumber(field: 0, text: "-")) { try decode(["-"], v200) }
    }

    /// Seeded random damage (bytes flipped, cut, inserted) to valid frames: every outcome is a
    /// message or a typed refusal; nothing traps.
    @Test func randomDamageNeverTraps() {
        var rng = SplitMix64(seed: 0x7753)
        let frames = [
            Self.orderStatus, Self.openOrderHead + Self.openOrderTail, Self.position, Self.execution200, Self.commission, Self.error200,
        ]
        .map { payload($0) }
        var decoded = 0
        var refused = 0
        for i in 0..<4000 {
            var bytes = frames[i % frames.count]
            for _ in 0..<rng.int(1...4) {
                guard !bytes.isEmpty else { break }
                let at = rng.int(0...(bytes.count - 1))
                switch rng.int(0...3) {
                case 0: bytes[at] = UInt8(truncatingIfNeeded: rng.next())
                case 1: bytes.removeSubrange(at...)
                case 2: bytes.insert(UInt8(truncatingIfNeeded: rng.next()), at: at)
                default: bytes[at] = 0
                }
            }
            do {
                _ = try TWSMessage.decode(bytes, at: i % 2 == 0 ? v190 : v200)
                decoded += 1
            } catch {
                refused += 1
            }
        }
        #expect(decoded + refused == 4000)
        #expect(refused > 1000)
    }
}
