import ASTAlpaca
import ASTCore
import Testing

/// Fixtures are hand-written from the shapes in Alpaca's Trading API documentation (Order entity,
/// trade_updates example, account activities), not captured from the service.
enum Fixtures {
    static let parentID = "904837e3-3b76-47ec-b432-046db621571b"
    static let takeProfitID = "a5be8f5e-1111-4c2d-9e6f-0123456789ab"
    static let stopID = "a5be8f5e-2222-4c2d-9e6f-0123456789ab"

    static func order(
        id: String = parentID, client: String = "intent-1.E", status: String = "new", type: String = "limit", qty: String = "10",
        filled: String = "0", avg: String = "null", limit: String = #""101.30""#, stop: String = "null", legs: String = "null",
        side: String = "buy", orderClass: String = "bracket"
    ) -> String {
        #"""
        {"id":"\#(id)","client_order_id":"\#(client)","created_at":"2026-12-07T15:00:00.123456Z",
         "updated_at":"2026-12-07T10:00:01.5-05:00","submitted_at":"2026-12-07T15:00:00.2Z","filled_at":null,
         "expired_at":null,"canceled_at":null,"failed_at":null,"replaced_at":null,"replaced_by":null,"replaces":null,
         "asset_id":"b0b6dd9d-8b9b-48a9-ba46-b9d54906e415","symbol":"SPY","asset_class":"us_equity","notional":null,
         "qty":"\#(qty)","filled_qty":"\#(filled)","filled_avg_price":\#(avg),"order_class":"\#(orderClass)","order_type":"\#(type)",
         "type":"\#(type)","side":"\#(side)","time_in_force":"gtc","limit_price":\#(limit),"stop_price":\#(stop),
         "status":"\#(status)","extended_hours":false,"legs":\#(legs),"trail_percent":null,"trail_price":null,"hwm":null}
        """#
    }

    static var bracketWithLegs: String {
        order(
            legs: "[" + order(id: takeProfitID, client: "leg-tp", type: "limit", limit: #""105.00""#, side: "sell") + ","
                + order(id: stopID, client: "leg-sl", status: "held", type: "stop", limit: "null", stop: #""99.00""#, side: "sell") + "]")
    }

    static func update(_ event: String, order: String, extra: String = "") -> [UInt8] {
        Array(
            #"{"stream":"trade_updates","data":{"event":"\#(event)","timestamp":"2026-12-07T15:01:02.123456789Z"\#(extra),"order":\#(order)}}"#
                .utf8)
    }

    static func bracket(
        entryType: OrderType = .limit, limit: Price? = Price("101.30"), stop: Price = Price("99.00")!, target: Price = Price("105.00")!,
        quantity: Quantity = 10, side: Side = .buy
    ) -> BracketOrder {
        let intent: IntentID = "intent-1"
        let entry = OrderSpec(
            clientOrderID: ClientOrderID(intent: intent, leg: .entry), intent: intent, leg: .entry, symbol: "SPY", side: side,
            quantity: quantity, type: entryType, limitPrice: limit, timeInForce: .gtc)
        let sl = OrderSpec(
            clientOrderID: ClientOrderID(intent: intent, leg: .stopLoss), intent: intent, leg: .stopLoss, symbol: "SPY",
            side: side.opposite, quantity: quantity, type: .stop, stopPrice: stop, timeInForce: .gtc, parent: entry.clientOrderID)
        let tp = OrderSpec(
            clientOrderID: ClientOrderID(intent: intent, leg: .takeProfit), intent: intent, leg: .takeProfit, symbol: "SPY",
            side: side.opposite, quantity: quantity, type: .limit, limitPrice: target, timeInForce: .gtc, parent: entry.clientOrderID)
        return BracketOrder(intent: intent, entry: entry, stopLoss: sl, takeProfit: tp)
    }
}

let t0 = Timestamp(nanoseconds: 1_796_655_600_000_000_000)  // 2026-12-07T15:00:00Z

@Suite struct AlpacaJSONTests {
    @Test func parsesNestedValuesAndKeepsNumbersAsText() throws {
        let v = try AlpacaJSONParser.parse(#"{"a":[1,-2.50e3,true,null],"b":"x\u00e9\ud83d\ude00\n","c":{}}"#)
        #expect(v["a"]?.arrayValue == [.number("1"), .number("-2.50e3"), .bool(true), .null])
        #expect(v["b"]?.stringValue == "xé😀\n")
        #expect(v["c"] == .object([:]))
    }

    @Test(arguments: [
        #"{"a":1,"a":2}"#, "[1,]", #"{"a"}"#, "01", "1.", "-", #""\ud800""#, "\"\u{01}\"", "[1] x", "", #"{"a":tru}"#, #""\x""#,
    ])
    func refusesMalformedJSON(_ text: String) {
        #expect(throws: AlpacaJSONError.self) { try AlpacaJSONParser.parse(text) }
    }

    @Test func boundsDepthSizeAndElements() {
        let deep = String(repeating: "[", count: 40) + String(repeating: "]", count: 40)
        #expect(throws: AlpacaJSONError.self) { try AlpacaJSONParser.parse(deep) }
        let small = AlpacaJSONLimits(maxBytes: 10, maxDepth: 4, maxStringBytes: 4, maxElements: 3)
        #expect(throws: AlpacaJSONError.self) { try AlpacaJSONParser.parse("[1,2,3,4]", limits: small) }
        #expect(throws: AlpacaJSONError.self) { try AlpacaJSONParser.parse(#""abcdefg""#, limits: small) }
        #expect(throws: AlpacaJSONError.self) { try AlpacaJSONParser.parse("[1, 2, 3, 4, 5, 6]", limits: small) }
    }

    @Test func writerEscapesAndRoundTrips() throws {
        let text = "a\"b\\c\n\u{01}é"
        let json = AlpacaJSONWriter.object([("k", AlpacaJSONWriter.quote(text))])
        #expect(try AlpacaJSONParser.parse(json)["k"]?.stringValue == text)
    }
}

@Suite struct AlpacaValueTests {
    @Test func decimalsAreExact() throws {
        #expect(AlpacaDecimal("101.25")?.exactPrice == Price("101.25"))
        #expect(AlpacaDecimal("10.000")?.wholeShares == 10)
        #expect(AlpacaDecimal("0.5")?.wholeShares == nil)
        #expect(AlpacaDecimal("0.000000001")?.description == "0.000000001")
        #expect(AlpacaDecimal("101.253333")?.exactPrice == nil)
        #expect(AlpacaDecimal("101.253350")?.roundedPrice == Price("101.2534"))
        #expect(AlpacaDecimal("-1.00005")?.roundedPrice == Price("-1.0001"))
        for bad in ["", "1e5", "+1", "1.", ".5", "1..2", " 1", "99999999999999999999", "1.2.3", "0x10", "NaN"] {
            #expect(AlpacaDecimal(bad) == nil, "\(bad)")
        }
    }

    @Test func rfc3339WithZAndOffsetsIsTheSameInstant() {
        let z = AlpacaTime.parse("2026-12-07T15:01:02.123456789Z")
        #expect(z == Timestamp(nanoseconds: 1_796_655_662_123_456_789))
        #expect(AlpacaTime.parse("2026-12-07T10:01:02.123456789-05:00") == z)
        #expect(AlpacaTime.parse("2026-12-07T16:31:02.123456789+01:30") == z)
        #expect(AlpacaTime.parse("2026-12-07T15:00:00Z") == t0)
        #expect(AlpacaTime.parse(AlpacaTime.format(z!)) == z)
        #expect(AlpacaTime.format(t0) == "2026-12-07T15:00:00.000000000Z")
        for bad in [
            "2026-12-07T15:01:02", "2026-02-30T00:00:00Z", "2026-12-07T25:00:00Z", "2026-12-07T15:01:02.Z",
            "2026-12-07T15:01:02.1234567891Z", "2026-12-07T15:01:02+0500", "1969-12-31T23:59:59Z", "2300-01-01T00:00:00Z",
        ] {
            #expect(AlpacaTime.parse(bad) == nil, "\(bad)")
        }
    }
}

@Suite struct AlpacaRequestTests {
    @Test func bracketBodyCarriesTheLegsAndASTsClientOrderID() throws {
        let r = try AlpacaRequests.submitBracket(Fixtures.bracket())
        #expect(r.method == .post && r.path == "/v2/orders")
        let body = try AlpacaJSONParser.parse(r.body ?? "")
        #expect(body["order_class"]?.stringValue == "bracket")
        #expect(body["client_order_id"]?.stringValue == "intent-1.E")
        #expect(body["qty"]?.stringValue == "10")
        #expect(body["type"]?.stringValue == "limit")
        #expect(body["limit_price"]?.stringValue == "101.30")
        #expect(body["take_profit"]?["limit_price"]?.stringValue == "105.00")
        #expect(body["stop_loss"]?["stop_price"]?.stringValue == "99.00")
        #expect(body["stop_loss"]?["limit_price"] == nil)
        #expect(body["extended_hours"] == .bool(false))
        #expect(body["time_in_force"]?.stringValue == "gtc")
    }

    @Test func marketEntryBracketHasNoLimitPrice() throws {
        let r = try AlpacaRequests.submitBracket(Fixtures.bracket(entryType: .market, limit: nil))
        let body = try AlpacaJSONParser.parse(r.body ?? "")
        #expect(body["type"]?.stringValue == "market" && body["limit_price"] == nil)
    }

    @Test func refusesWhatAlpacaDocumentsItWouldRefuse() {
        var noStop = Fixtures.bracket()
        noStop.stopLoss = nil
        let cases: [BracketOrder] = [
            noStop,
            Fixtures.bracket(stop: Price("99.005")!),  // sub-penny at or above $1
            Fixtures.bracket(target: Price("98.00")!),  // buy: take profit under the stop
            Fixtures.bracket(stop: Price("101.30")!, target: Price("105")!),  // stop not $0.01 under the limit
            Fixtures.bracket(stop: Price("101.29")!),  // exactly base - 0.01: must be less
            Fixtures.bracket(quantity: 0),
            Fixtures.bracket(quantity: Quantity(AlpacaRequests.maxShares + 1)),
            Fixtures.bracket(limit: Price("0")),
            Fixtures.bracket(side: .sell),  // sell with buy-shaped prices
        ]
        for (n, b) in cases.enumerated() {
            #expect(throws: AlpacaRequestError.self, "case \(n)") { try AlpacaRequests.submitBracket(b) }
        }
        // Below $1 four decimals are fine.
        #expect((try? AlpacaRequests.checkPrice(Price("0.6013")!, "limit_price")) != nil)
        #expect(throws: AlpacaRequestError.self) { try AlpacaRequests.checkPrice(Price("11.055")!, "limit_price") }
    }

    @Test func stopExactlyOneCentUnderTheLimitIsRefusedAsAlpacaDoes() {
        // "stop price must be less than base_price - 0.01": 101.29 is not less than 101.29.
        #expect(throws: AlpacaRequestError.self) { try AlpacaRequests.submitBracket(Fixtures.bracket(stop: Price("101.29")!)) }
        #expect((try? AlpacaRequests.submitBracket(Fixtures.bracket(stop: Price("101.28")!))) != nil)
    }

    @Test func listingsLookupsCancelsAndActivities() throws {
        #expect(try AlpacaRequests.order(id: Fixtures.parentID).path == "/v2/orders/\(Fixtures.parentID)?nested=true")
        #expect(
            try AlpacaRequests.order(clientOrderID: "intent-1.E").path == "/v2/orders:by_client_order_id?client_order_id=intent-1.E")
        #expect(try AlpacaRequests.order(clientOrderID: "a:b").path.hasSuffix("client_order_id=a%3Ab"))
        #expect(try AlpacaRequests.cancel(id: Fixtures.parentID) == AlpacaRequest(method: .delete, path: "/v2/orders/\(Fixtures.parentID)"))
        #expect(throws: AlpacaRequestError.self) { try AlpacaRequests.cancel(id: "../account") }
        let list = try AlpacaRequests.listOrders(AlpacaOrderQuery(after: t0))
        #expect(list.path == "/v2/orders?status=all&limit=500&direction=asc&after=2026-12-07T15%3A00%3A00.000000000Z&nested=true")
        #expect(throws: AlpacaRequestError.self) { try AlpacaRequests.listOrders(AlpacaOrderQuery(limit: 501)) }
        let acts = try AlpacaRequests.fillActivities(after: nil, pageToken: "20190524113406977::8efc7b9a-8b2b-4000-9955-d36e7db0df74")
        #expect(acts.path.hasPrefix("/v2/account/activities?activity_types=FILL&direction=asc&page_size=100&page_token=2019"))
        #expect(throws: AlpacaRequestError.self) { try AlpacaRequests.fillActivities(after: nil, pageToken: "x&y=1") }
    }
}

@Suite struct AlpacaResponseTests {
    @Test func decodesANestedBracketWithHeldStopLeg() throws {
        let o = try AlpacaOrder.decode(try AlpacaJSONParser.parse(Fixtures.bracketWithLegs))
        #expect(o.id == Fixtures.parentID && o.clientOrderID == "intent-1.E" && o.symbol == "SPY")
        #expect(o.quantity == 10 && o.filledQuantity == 0 && o.limitPrice == Price("101.30") && o.status == .new)
        #expect(o.updatedAt == AlpacaTime.parse("2026-12-07T15:00:01.5Z"))
        #expect(o.legs.count == 2)
        #expect(o.takeProfitLeg?.id == Fixtures.takeProfitID && o.takeProfitLeg?.limitPrice == Price("105.00"))
        #expect(o.stopLossLeg?.status == .held && o.stopLossLeg?.status.brokerStatus == .held)
        #expect(o.stopLossLeg?.stopPrice == Price("99.00"))
    }

    @Test func refusesOrdersWithBadValues() {
        let bad = [
            Fixtures.order(qty: "10.5"), Fixtures.order(filled: "11"), Fixtures.order(limit: "101.30"),  // a number, not a string
            Fixtures.order(limit: #""-1""#), Fixtures.order(id: "not/an/id"), Fixtures.order(filled: "-1"),
            Fixtures.order(legs: "[" + Fixtures.order(legs: "[" + Fixtures.order() + "]") + "]"),
        ]
        for (n, text) in bad.enumerated() {
            #expect(throws: AlpacaDecodeError.self, "case \(n)") { try AlpacaOrder.decode(try AlpacaJSONParser.parse(text)) }
        }
    }

    @Test func unknownStatusIsNeitherTerminalNorFilled() throws {
        let o = try AlpacaOrder.decode(try AlpacaJSONParser.parse(Fixtures.order(status: "pending_review")))
        #expect(o.status == .unknown("pending_review") && !o.status.isTerminal && o.status.brokerStatus == nil)
        #expect(AlpacaOrderStatus("replaced").isTerminal && AlpacaOrderStatus("filled").brokerStatus == .filled)
    }

    @Test func decodesAccountPositionsAndFillActivities() throws {
        let account = try AlpacaAccount.decode(
            try AlpacaJSONParser.parse(
                #"{"id":"e6fe16f3-64a4-4921-8928-cadf02f92f98","account_number":"PA3G5ZX0M9BV","status":"ACTIVE","currency":"USD","cash":"100000.12","equity":"100500","buying_power":"200000","trading_blocked":false,"account_blocked":false,"trade_suspended_by_user":false}"#
            ))
        #expect(account.cash == Money("100000.12") && account.equity == Money("100500") && account.permitsTrading)
        var blocked = account
        blocked.tradingBlocked = nil
        #expect(!blocked.permitsTrading, "a missing block flag is not permission")
        let positions = try AlpacaPosition.decodeList(
            try AlpacaJSONParser.parse(
                #"[{"asset_id":"x","symbol":"SPY","exchange":"ARCA","asset_class":"us_equity","qty":"10","side":"long","avg_entry_price":"101.25","market_value":"1015"},{"symbol":"AAPL","qty":"5","side":"short","avg_entry_price":"190.123456"}]"#
            ))
        #expect(positions[0].brokerPosition == BrokerPosition(symbol: "SPY", quantity: 10, averagePrice: Price("101.25")!))
        #expect(positions[1].brokerPosition?.quantity == -5 && positions[1].averageEntryPrice == Price("190.1235"))
        let fills = try AlpacaFillActivity.decodeList(
            try AlpacaJSONParser.parse(
                #"[{"activity_type":"FILL","id":"20190524113406977::8efc7b9a-8b2b-4000-9955-d36e7db0df74","transaction_time":"2019-05-24T15:34:06.977Z","type":"partial_fill","price":"1.63","qty":"1","side":"buy","symbol":"LPCN","leaves_qty":"2","cum_qty":"1","order_id":"904837e3-3b76-47ec-b432-046db621571b"}]"#
            ))
        #expect(fills.count == 1 && fills[0].price == Price("1.63") && fills[0].cumulativeQuantity == 1 && fills[0].leavesQuantity == 2)
        #expect(fills[0].transactionTime == AlpacaTime.parse("2019-05-24T15:34:06.977Z"))
    }

    @Test func classifiesSubmitAnswers() throws {
        let h = AlpacaRateLimitHeaders()
        let ok = AlpacaAnswer.read(status: 200, headers: h, body: Array(Fixtures.order().utf8), now: t0)
        guard case .accepted(let o) = AlpacaSubmitOutcome.read(ok) else {
            Issue.record("not accepted: \(ok)")
            return
        }
        #expect(o.clientOrderID == "intent-1.E")
        let dup = AlpacaAnswer.read(
            status: 422, headers: h, body: Array(#"{"code":40010001,"message":"client_order_id must be unique"}"#.utf8), now: t0)
        #expect(AlpacaSubmitOutcome.read(dup) == .alreadyThere(AlpacaAPIError(code: 40010001, message: "client_order_id must be unique")))
        let subPenny = AlpacaAnswer.read(
            status: 422, headers: h,
            body: Array(
                #"{"code":42210000,"message":"invalid limit_price 41.085. sub-penny increment does not fulfill minimum pricing criteria"}"#
                    .utf8),
            now: t0)
        guard case .rejected(422, let e) = AlpacaSubmitOutcome.read(subPenny) else {
            Issue.record("\(subPenny)")
            return
        }
        #expect(e.code == 42210000)
        let power = AlpacaAnswer.read(
            status: 403, headers: h, body: Array(#"{"code":40310000,"message":"insufficient buying power"}"#.utf8), now: t0)
        guard case .rejected(403, _) = AlpacaSubmitOutcome.read(power) else {
            Issue.record("\(power)")
            return
        }
        let limited = AlpacaAnswer.read(
            status: 429, headers: AlpacaRateLimitHeaders(reset: t0.advanced(by: .seconds(30))), body: [], now: t0)
        #expect(limited == .rateLimited(retryAt: t0.advanced(by: .seconds(30))))
        guard case .unknown = AlpacaSubmitOutcome.read(limited) else {
            Issue.record("a 429 on a POST must be unknown")
            return
        }
        guard case .unknown = AlpacaSubmitOutcome.read(.serverError(status: 502, AlpacaAPIError(code: nil, message: "<html>"))) else {
            Issue.record("a 5xx on a POST must be unknown")
            return
        }
        guard case .unknown = AlpacaSubmitOutcome.read(AlpacaAnswer.read(status: 200, headers: h, body: Array("{".utf8), now: t0)) else {
            Issue.record("an unreadable 200 must be unknown")
            return
        }
        #expect(
            AlpacaLookupOutcome.read(
                AlpacaAnswer.read(status: 404, headers: h, body: Array(#"{"code":40410000,"message":"order not found"}"#.utf8), now: t0))
                == .absent)
        #expect(AlpacaAPIError.decode(Array("<html>\n502</html>".utf8)).message == "<html> 502</html>")
    }

    @Test func duplicateRefusalIsMatchedLooselyButNotOtherValidation() {
        #expect(AlpacaAPIError(code: 40010001, message: "client order id must be unique").isDuplicateClientOrderID)
        #expect(AlpacaAPIError(code: nil, message: "Client_Order_ID already exists").isDuplicateClientOrderID)
        #expect(!AlpacaAPIError(code: 40010001, message: "limit price must be > 0").isDuplicateClientOrderID)
        #expect(!AlpacaAPIError(code: 40010001, message: "client_order_id is too long").isDuplicateClientOrderID)
    }
}

@Suite struct AlpacaRateLimiterTests {
    @Test func twoHundredAMinuteThenOneEveryThreeHundredMilliseconds() {
        var bucket = AlpacaRateLimiter()
        var taken = 0
        for _ in 0..<200 where bucket.take(t0) { taken += 1 }
        #expect(taken == 200)
        do {
            let took = bucket.take(t0)
            #expect(!took)
        }
        #expect(bucket.nextSlot(t0) == t0.advanced(by: .milliseconds(300)))
        do {
            let took = bucket.take(t0.advanced(by: .milliseconds(299)))
            #expect(!took)
        }
        do {
            let took = bucket.take(t0.advanced(by: .milliseconds(300)))
            #expect(took)
        }
        #expect(bucket.available(t0.advanced(by: .seconds(600))) == 200, "refills to capacity, not beyond")
    }

    @Test func a429BlocksUntilTheServersResetBounded() {
        var bucket = AlpacaRateLimiter()
        let reset = t0.advanced(by: .seconds(20))
        bucket.observe(
            status: 429, headers: AlpacaRateLimitHeaders(headers: [("X-Ratelimit-Reset", String(reset.nanoseconds / 1_000_000_000))]),
            now: t0)
        do {
            let took = bucket.take(t0.advanced(by: .seconds(19)))
            #expect(!took)
        }
        #expect(bucket.nextSlot(t0) >= reset)
        do {
            let took = bucket.take(t0.advanced(by: .seconds(21)))
            #expect(took)
        }
        // No reset header: 60 s. An absurd one: capped at two minutes.
        var other = AlpacaRateLimiter()
        other.observe(status: 429, headers: AlpacaRateLimitHeaders(), now: t0)
        #expect(other.blockedUntil == t0.advanced(by: .seconds(60)))
        other.observe(status: 429, headers: AlpacaRateLimitHeaders(headers: [("x-ratelimit-reset", "7000000000")]), now: t0)
        #expect(other.blockedUntil == t0.advanced(by: .seconds(120)))
        let overflowing = AlpacaRateLimitHeaders(headers: [("X-Ratelimit-Reset", "99999999999")])
        #expect(overflowing.reset == nil, "a reset that does not fit is read as absent (then 60 s)")
        #expect(
            AlpacaRateLimitHeaders(headers: [("X-Ratelimit-Remaining", "-4"), ("X-Ratelimit-Limit", "abc")]) == AlpacaRateLimitHeaders())
    }

    @Test func serverRemainingLowersTheBucket() {
        var bucket = AlpacaRateLimiter()
        bucket.observe(status: 200, headers: AlpacaRateLimitHeaders(limit: 200, remaining: 3), now: t0)
        #expect(bucket.available(t0) == 3)
        bucket.observe(status: 200, headers: AlpacaRateLimitHeaders(remaining: 0, reset: t0.advanced(by: .seconds(5))), now: t0)
        do {
            let took = bucket.take(t0.advanced(by: .seconds(4)))
            #expect(!took)
        }
    }
}

@Suite struct AlpacaStreamTests {
    static func listening() -> AlpacaStream {
        var s = AlpacaStream()
        _ = s.start(now: t0)
        _ = s.socketOpened(now: t0)
        _ = s.received(Array(#"{"stream":"authorization","data":{"status":"authorized","action":"authenticate"}}"#.utf8), now: t0)
        _ = s.received(Array(#"{"stream":"listening","data":{"streams":["trade_updates"]}}"#.utf8), now: t0)
        return s
    }

    @Test func authenticatesListensAndReportsUp() {
        var s = AlpacaStream()
        #expect(s.start(now: t0) == [.openSocket])
        #expect(s.socketOpened(now: t0) == [.sendAuthenticate])
        #expect(s.state == .authenticating)
        let auth = s.received(Array(#"{"stream":"authorization","data":{"status":"authorized","action":"authenticate"}}"#.utf8), now: t0)
        #expect(auth == [.send(#"{"action":"listen","data":{"streams":["trade_updates"]}}"#)])
        #expect(s.received(Array(#"{"stream":"listening","data":{"streams":["trade_updates"]}}"#.utf8), now: t0) == [.streamUp])
        #expect(s.state.isUp)
        let msg = AlpacaStreamMessages.authenticate(keyID: "K", secretKey: "S\"")
        #expect(msg == #"{"action":"authenticate","data":{"key_id":"K","secret_key":"S\""}}"#)
    }

    @Test func refusedAuthenticationGoesDownAndRetriesWithBackoff() {
        var s = AlpacaStream()
        _ = s.start(now: t0)
        _ = s.socketOpened(now: t0)
        let actions = s.received(
            Array(
                #"{"stream":"authorization","data":{"status":"unauthorized","action":"authenticate","message":"access key verification failed"}}"#
                    .utf8),
            now: t0)
        #expect(actions.first == .closeSocket)
        #expect(actions.last == .streamDown(reason: "not listening: authentication refused: access key verification failed"))
        #expect(s.tick(now: t0.advanced(by: .milliseconds(999))) == [])
        #expect(s.tick(now: t0.advanced(by: .seconds(1))) == [.openSocket])
        _ = s.socketClosed(reason: "refused", now: t0.advanced(by: .seconds(1)))
        guard case .disconnected(_, let retry) = s.state else {
            Issue.record("\(s.state)")
            return
        }
        #expect(retry == t0.advanced(by: .seconds(3)), "the second failure waits twice as long")
    }

    @Test func aSilentStreamIsPingedAndADeadOneGoesDownAndReconnects() {
        var s = Self.listening()
        #expect(s.tick(now: t0.advanced(by: .seconds(14))) == [], "not silent long enough")
        #expect(s.tick(now: t0.advanced(by: .seconds(15))) == [.sendPing])
        #expect(s.tick(now: t0.advanced(by: .seconds(16))) == [], "one ping outstanding at a time")
        s.heard(now: t0.advanced(by: .seconds(17)))
        #expect(s.tick(now: t0.advanced(by: .seconds(31))) == [], "the pong restarted the silence")
        #expect(s.tick(now: t0.advanced(by: .seconds(32))) == [.sendPing])
        let dead = s.tick(now: t0.advanced(by: .seconds(42)))
        #expect(dead.first == .closeSocket)
        guard case .streamDown(let reason)? = dead.last else {
            Issue.record("\(dead)")
            return
        }
        #expect(reason.contains("dead connection"))
        #expect(!s.state.isUp)
        #expect(s.tick(now: t0.advanced(by: .seconds(43))) == [.openSocket], "reconnected after the back-off")
    }

    @Test func aTradeUpdateCountsAsALifeSign() {
        var s = Self.listening()
        _ = s.received(
            Fixtures.update("new", order: Fixtures.order(status: "new", filled: "0"), extra: ""), now: t0.advanced(by: .seconds(10)))
        #expect(s.tick(now: t0.advanced(by: .seconds(24))) == [])
        #expect(s.tick(now: t0.advanced(by: .seconds(25))) == [.sendPing])
    }

    @Test func handshakeTimeoutAndMissingTradeUpdatesGoDown() {
        var s = AlpacaStream()
        _ = s.start(now: t0)
        _ = s.socketOpened(now: t0)
        #expect(s.tick(now: t0.advanced(by: .seconds(10))).contains(.closeSocket))
        var t = AlpacaStream()
        _ = t.start(now: t0)
        _ = t.socketOpened(now: t0)
        _ = t.received(Array(#"{"stream":"authorization","data":{"status":"authorized","action":"authenticate"}}"#.utf8), now: t0)
        #expect(t.received(Array(#"{"stream":"listening","data":{"streams":[]}}"#.utf8), now: t0).contains(.closeSocket))
        #expect(!t.state.isUp)
    }

    @Test(arguments: [
        "new", "partial_fill", "fill", "canceled", "expired", "done_for_day", "replaced", "rejected", "pending_new", "stopped",
        "pending_cancel", "pending_replace", "calculated", "suspended", "order_replace_rejected", "order_cancel_rejected",
        "accepted", "restated", "held", "some_future_event",
    ])
    func deliversEveryEventType(_ event: String) {
        var s = Self.listening()
        let isFill = event == "fill" || event == "partial_fill"
        let order = Fixtures.order(status: isFill ? (event == "fill" ? "filled" : "partially_filled") : "new", filled: isFill ? "4" : "0")
        let extra = isFill ? #","price":"101.25","qty":"4","position_qty":"4","execution_id":"2f63ea93-1111-2222-3333-444455556666""# : ""
        let actions = s.received(Fixtures.update(event, order: order, extra: extra), now: t0)
        guard case .deliver(let u) = actions.first, actions.count == 1 else {
            Issue.record("\(actions)")
            return
        }
        #expect(u.event.name == event)
        #expect(u.timestamp == AlpacaTime.parse("2026-12-07T15:01:02.123456789Z"))
        if isFill {
            #expect(u.price == Price("101.25") && u.quantity == 4 && u.order.filledQuantity == 4 && u.executionID != nil)
        }
        #expect(s.state.isUp)
    }

    @Test func binaryOrTextTheBytesAreTheSame() {
        // Paper sends binary frames, the data stream text: the core takes bytes either way.
        var s = Self.listening()
        guard case .deliver = s.received(Fixtures.update("new", order: Fixtures.order()), now: t0).first else {
            Issue.record("not delivered")
            return
        }
    }

    @Test func anUnreadableUpdateIsAGapNotASkip() {
        var s = Self.listening()
        let noPrice = Fixtures.update("fill", order: Fixtures.order(status: "filled", filled: "10"))
        let actions = s.received(noPrice, now: t0)
        #expect(actions.first == .closeSocket)
        guard case .streamDown = actions.last else {
            Issue.record("\(actions)")
            return
        }
        #expect(!s.state.isUp)
        var t = Self.listening()
        #expect(t.received(Array("not json".utf8), now: t0).first == .closeSocket)
    }

    @Test func unknownStreamsAreIgnoredAndDisconnectIsReported() {
        var s = Self.listening()
        guard case .ignored = s.received(Array(#"{"stream":"account_updates","data":{}}"#.utf8), now: t0).first else {
            Issue.record("not ignored")
            return
        }
        #expect(s.state.isUp)
        let down = s.socketClosed(reason: "EOF", now: t0)
        #expect(down == [.streamDown(reason: "socket closed: EOF")])
        #expect(s.socketClosed(reason: "again", now: t0) == [], "one down per outage")
    }

    @Test func oversizedMessagesAreRefused() {
        var s = AlpacaStream(settings: AlpacaStreamSettings(maxMessageBytes: 64))
        _ = s.start(now: t0)
        _ = s.socketOpened(now: t0)
        #expect(s.received(Array(repeating: UInt8(ascii: " "), count: 65), now: t0).first == .closeSocket)
    }
}

@Suite struct AlpacaFillLedgerTests {
    static func update(_ event: String, filled: String, price: String) throws -> AlpacaTradeUpdate {
        var s = AlpacaStreamTests.listening()
        let order = Fixtures.order(status: filled == "10" ? "filled" : "partially_filled", filled: filled)
        let actions = s.received(Fixtures.update(event, order: order, extra: #","price":"\#(price)","qty":"4""#), now: t0)
        guard case .deliver(let u) = actions.first else { throw AlpacaDecodeError("\(actions)") }
        return u
    }

    static func activity(cum: String, qty: String, price: String) throws -> AlpacaFillActivity {
        let text =
            #"[{"activity_type":"FILL","id":"20261207150102123::8efc7b9a-8b2b-4000-9955-d36e7db0df74","transaction_time":"2026-12-07T15:01:02.123Z","type":"fill","price":"\#(price)","qty":"\#(qty)","side":"buy","symbol":"SPY","leaves_qty":"0","cum_qty":"\#(cum)","order_id":"\#(Fixtures.parentID)"}]"#
        return try AlpacaFillActivity.decodeList(try AlpacaJSONParser.parse(text))[0]
    }

    @Test func aFillSeenOnTheStreamAndAgainInTheGapListingCountsOnce() throws {
        var ledger = AlpacaFillLedger()
        let first = ledger.apply(try Self.update("partial_fill", filled: "4", price: "101.25"))
        #expect(first.execution?.quantity == 4 && first.execution?.executionID == ExecutionID("\(Fixtures.parentID):4"))
        #expect(ledger.apply(try Self.update("partial_fill", filled: "4", price: "101.25")).execution == nil, "a repeated update")
        #expect(ledger.apply(try Self.activity(cum: "4", qty: "4", price: "101.25")).execution == nil, "the same execution via REST")
        // The rest filled while the stream was down: only the activity listing has it.
        let gap = ledger.apply(try Self.activity(cum: "10", qty: "6", price: "101.20"))
        #expect(gap.execution?.quantity == 6 && gap.execution?.price == Price("101.20") && gap.execution?.cumulative == 10)
        #expect(ledger.apply(try Self.update("fill", filled: "10", price: "101.22")).execution == nil, "a late stream copy")
        #expect(ledger.filled[Fixtures.parentID] == 10)
    }

    @Test func restoredTotalsHoldAndATotalAboveTheOrderIsAnInconsistency() throws {
        var ledger = AlpacaFillLedger()
        ledger.restore(orderID: Fixtures.parentID, filled: 4)
        #expect(ledger.apply(try Self.activity(cum: "3", qty: "3", price: "101")).execution == nil)
        var other = AlpacaFillLedger()
        var u = try Self.update("fill", filled: "10", price: "101")
        u.order.quantity = 8
        #expect(other.apply(u).inconsistent)
    }
}

@Suite struct AlpacaOrderPagerTests {
    static func order(_ n: Int, at seconds: Int64) throws -> AlpacaOrder {
        var o = try AlpacaOrder.decode(try AlpacaJSONParser.parse(Fixtures.order(id: "00000000-0000-4000-8000-00000000000\(n)")))
        o.submittedAt = t0.advanced(by: .seconds(seconds))
        return o
    }

    @Test func pagesOnFromTheNewestTimeAndDeduplicates() throws {
        var pager = AlpacaOrderPager(since: t0, pageSize: 2)
        #expect(pager.nextRequest()?.path.contains("after=2026-12-07T14%3A59%3A59.000000000Z") == true, "the first cursor has the margin")
        pager.received([try Self.order(1, at: 1), try Self.order(2, at: 2)])
        #expect(pager.nextRequest()?.path.contains("after=2026-12-07T15%3A00%3A01.999999999Z") == true)
        pager.received([try Self.order(2, at: 2), try Self.order(3, at: 2)])  // a tie at 2 s, one seen before
        pager.received([try Self.order(3, at: 2)])
        #expect(pager.isDone && pager.isComplete && pager.nextRequest() == nil)
        #expect(pager.orders.map(\.id).map { $0.suffix(1) } == ["1", "2", "3"])
    }

    @Test func aFullPageWithNothingNewIsIncomplete() throws {
        var pager = AlpacaOrderPager(since: nil, pageSize: 2)
        pager.received([try Self.order(1, at: 1), try Self.order(2, at: 1)])
        pager.received([try Self.order(1, at: 1), try Self.order(2, at: 1)])
        #expect(pager.isDone && !pager.isComplete)
        var bounded = AlpacaOrderPager(since: nil, pageSize: 1, maxPages: 2)
        bounded.received([try Self.order(1, at: 1)])
        bounded.received([try Self.order(2, at: 2)])
        #expect(bounded.isDone && !bounded.isComplete)
    }
}

/// `PATCH /v2/orders/{id}`: the fields given and only those, checked before anything is sent; the
/// answer read as taken (the new order), refused (nothing changed) or unknown.
@Suite struct AlpacaReplaceTests {
    @Test func replaceSendsOnlyTheFieldsGivenAsText() throws {
        let stop = try AlpacaRequests.replace(id: Fixtures.parentID, AlpacaReplace(stopPrice: Price("100.50")))
        #expect(stop == AlpacaRequest(method: .patch, path: "/v2/orders/\(Fixtures.parentID)", body: #"{"stop_price":"100.50"}"#))
        let all = try AlpacaRequests.replace(
            id: Fixtures.parentID,
            AlpacaReplace(quantity: 5, limitPrice: Price("0.1234"), timeInForce: .day, clientOrderID: "intent-1.T"))
        #expect(all.body == #"{"qty":"5","time_in_force":"day","limit_price":"0.1234","client_order_id":"intent-1.T"}"#)
    }

    @Test func replaceRefusesWhatAlpacaWouldRefuse() {
        let id = Fixtures.parentID
        #expect(throws: AlpacaRequestError.self) { try AlpacaRequests.replace(id: "../account", AlpacaReplace(quantity: 1)) }
        #expect(throws: AlpacaRequestError.self) { try AlpacaRequests.replace(id: id, AlpacaReplace()) }
        #expect(throws: AlpacaRequestError.self) { try AlpacaRequests.replace(id: id, AlpacaReplace(clientOrderID: "intent-1.S")) }
        #expect(throws: AlpacaRequestError.self) { try AlpacaRequests.replace(id: id, AlpacaReplace(quantity: 0)) }
        #expect(throws: AlpacaRequestError.self) { try AlpacaRequests.replace(id: id, AlpacaReplace(quantity: 10_000_001)) }
        #expect(throws: AlpacaRequestError.self) { try AlpacaRequests.replace(id: id, AlpacaReplace(stopPrice: Price("100.505"))) }
        #expect(throws: AlpacaRequestError.self) { try AlpacaRequests.replace(id: id, AlpacaReplace(limitPrice: Price("0"))) }
    }

    @Test func classifiesReplaceAnswers() throws {
        let h = AlpacaRateLimitHeaders()
        let ok = AlpacaAnswer.read(status: 200, headers: h, body: Array(Fixtures.order().utf8), now: t0)
        guard case .accepted(let o) = AlpacaReplaceOutcome.read(ok) else {
            Issue.record("not accepted: \(ok)")
            return
        }
        #expect(o.clientOrderID == "intent-1.E")
        let notReplaceable = AlpacaAnswer.read(
            status: 422, headers: h, body: Array(#"{"code":42210000,"message":"order is not replaceable"}"#.utf8), now: t0)
        #expect(
            AlpacaReplaceOutcome.read(notReplaceable)
                == .refused(status: 422, AlpacaAPIError(code: 42210000, message: "order is not replaceable")))
        #expect(AlpacaReplaceOutcome.read(AlpacaAnswer.read(status: 404, headers: h, body: [], now: t0)).isRefused)
        for unknown in [
            AlpacaAnswer.read(status: 503, headers: h, body: [], now: t0), AlpacaAnswer.read(status: 429, headers: h, body: [], now: t0),
            AlpacaAnswer.read(status: 200, headers: h, body: Array("{".utf8), now: t0),
        ] {
            guard case .unknown = AlpacaReplaceOutcome.read(unknown) else {
                Issue.record("not unknown: \(unknown)")
                continue
            }
        }
    }
}

extension AlpacaReplaceOutcome {
    var isRefused: Bool { if case .refused = self { true } else { false } }
}
