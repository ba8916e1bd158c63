import ASTCore
import Testing

@testable import ASTTWS

/// Every request AST sends, at the lowest and highest server version it supports, against fields
/// written out by hand from the official client's `EClient`.
@Suite struct TWSRequestEncodingTests {
    @Test func handshakeIsApiNulThenTheLengthPrefixedVersionRange() {
        // "API\0", then length 9, then "v190..200" with no NUL (sendV100APIHeader).
        #expect(
            TWSHandshake.hello() == [0x41, 0x50, 0x49, 0x00, 0, 0, 0, 9] + Array("v190..200".utf8))
        #expect(TWSHandshake.hello(connectOptions: "+PACEAPI").suffix(18) == Array("v190..200 +PACEAPI".utf8))
    }

    @Test func handshakeReplyGivesServerVersionAndConnectionTime() throws {
        let reply = try TWSHandshake.decodeReply(payload(["200", "20261207 07:00:00 EST"]))
        #expect(reply == .init(serverVersion: 200, connectionTime: "20261207 07:00:00 EST"))
        #expect(throws: TWSDecodeError.self) { try TWSHandshake.decodeReply(payload(["0", "t"])) }
        #expect(throws: TWSDecodeError.self) { try TWSHandshake.decodeReply(payload(["abc", "t"])) }
        #expect(throws: TWSDecodeError.self) { try TWSHandshake.decodeReply(payload(["200"])) }
    }

    @Test(arguments: [v190, v200])
    func simpleRequestsAreTheSameAtEveryVersion(v: TWSServerVersion) throws {
        let cases: [(TWSRequest, [String])] = [
            (.startApi(clientId: 7, optionalCapabilities: ""), ["71", "2", "7", ""]),  // START_API, VERSION 2, clientId, capabilities
            (.reqIds(count: 1), ["8", "1", "1"]),  // REQ_IDS, VERSION 1, numIds
            (.reqOpenOrders, ["5", "1"]),
            (.reqAllOpenOrders, ["16", "1"]),
            (.reqPositions, ["61", "1"]),
            (.cancelPositions, ["64", "1"]),
            (
                .reqAccountSummary(reqId: 9, group: "All", tags: "NetLiquidation,BuyingPower"),
                ["62", "1", "9", "All", "NetLiquidation,BuyingPower"]
            ),
            (.cancelAccountSummary(reqId: 9), ["63", "1", "9"]),
            (.reqCurrentTime, ["49", "1"]),
        ]
        for (request, fields) in cases {
            #expect(try request.encode(at: v) == payload(fields), "\(request)")
        }
    }

    @Test func cancelOrderAt190HasItsVersionAndNoCMETagging() throws {
        #expect(try TWSRequest.cancelOrder(orderId: 1002, manualOrderCancelTime: "").encode(at: v190) == payload(["4", "1", "1002", ""]))
    }

    @Test func cancelOrderAt200DropsTheVersionAndAddsCMETagging() throws {
        // CANCEL_ORDER, id, manualOrderCancelTime, extOperator, manualOrderIndicator (send of Integer.MAX_VALUE)
        #expect(
            try TWSRequest.cancelOrder(orderId: 1002, manualOrderCancelTime: "").encode(at: v200)
                == payload(["4", "1002", "", "", "2147483647"]))
    }

    @Test func reqExecutionsAt190SendsTheSevenFilterFields() throws {
        let f = TWSExecutionFilter(clientId: 7, account: "DU1234567", time: "20261207-13:30:00", symbol: "")
        // REQ_EXECUTIONS, VERSION 3, reqId, clientId, acctCode, time, symbol, secType, exchange, side
        #expect(
            try TWSRequest.reqExecutions(reqId: 3, filter: f).encode(at: v190)
                == payload(["7", "3", "3", "7", "DU1234567", "20261207-13:30:00", "", "", "", ""]))
        let withDays = TWSExecutionFilter(lastNDays: 2)
        #expect(throws: TWSEncodeError.self) { try TWSRequest.reqExecutions(reqId: 3, filter: withDays).encode(at: v190) }
    }

    @Test func reqExecutionsAt200AddsLastNDaysAndSpecificDates() throws {
        let f = TWSExecutionFilter(clientId: 7, account: "DU1234567")
        #expect(
            try TWSRequest.reqExecutions(reqId: 3, filter: f).encode(at: v200)
                == payload(["7", "3", "3", "7", "DU1234567", "", "", "", "", "", "2147483647", "0"]))
        let days = TWSExecutionFilter(lastNDays: 3, specificDates: [20_261_204, 20_261_207])
        #expect(
            try TWSRequest.reqExecutions(reqId: 4, filter: days).encode(at: v200)
                == payload(["7", "3", "4", "0", "", "", "", "", "", "", "3", "2", "20261204", "20261207"]))
    }
}

/// A bracket's legs at IB: the entry for its own time in force, the protection GTC unless asked.
@Suite struct TWSBracketTimeInForceTests {
    @Test func aDayEntrysStopAndTargetAreGoodTillCancelled() throws {
        let legs = try TWSBracket.placements(
            parentId: 7, side: .buy, quantity: Quantity(10), entry: Price("100")!, stop: Price("95")!, target: Price("110")!,
            clientOrderId: "i1", timeInForce: .day)
        #expect(legs.map(\.order.timeInForce) == [.day, .goodTillCancelled, .goodTillCancelled])
    }

    @Test func protectionIsDayOnlyWhenAskedFor() throws {
        let legs = try TWSBracket.placements(
            parentId: 7, side: .sell, quantity: Quantity(10), entry: Price("100")!, stop: Price("105")!, target: Price("90")!,
            clientOrderId: "i1", timeInForce: .day, protectiveTimeInForce: .day)
        #expect(legs.map(\.order.timeInForce) == [.day, .day, .day])
    }
}
