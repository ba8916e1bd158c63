import ASTCore
import Testing

@testable import ASTPaperBroker

/// Submits, cancels and injected faults.
@Suite struct LifecycleTests {
    @Test func submittingTheSameBracketTwiceMakesOneOrder() {
        var h = Harness()
        let b = bracket(entry(), stop: "95.00", target: "110.00")
        h.submit(b)
        let again = h.submit(b, at: t(0, preMarket + 1))
        #expect(again.reports.isEmpty)
        #expect(again.notices == [.duplicateSubmitIgnored([E1, S1, T1])])
        #expect(h.exchange.openOrders.count == 3)
        #expect(h.deliver(bar(0, "100.00", "101.00", "99.00", "100.00")).fills.map(\.quantity) == [100])
    }

    @Test func bracketReusingAKnownIdCreatesNothingAndRejectsItsNewLegs() {
        var h = Harness()
        h.submit(standalone(entry()))
        let e = entry()
        var stop = child(of: e, .stopLoss, type: .stop, stop: "95.00")
        stop.clientOrderID = "other.S"
        let out = h.submit(BracketOrder(intent: "i1", entry: e, stopLoss: stop, takeProfit: nil))
        #expect(out.notices == [.duplicateSubmitIgnored([E1])])
        #expect(out.events.count == 1)
        guard case .rejected("other.S", let reason) = out.events.first else {
            Issue.record("expected a rejection of other.S, got \(out.events)")
            return
        }
        #expect(reason.contains("reuses client order id i1.E"))
        #expect(h.exchange.order("other.S") == nil)
    }

    static let invalid: [(String, BracketOrder, String)] = {
        let e = entry()
        var wrongSide = child(of: e, .stopLoss, type: .stop, stop: "95.00")
        wrongSide.side = .buy
        var orphan = child(of: e, .stopLoss, type: .stop, stop: "95.00")
        orphan.parent = nil
        return [
            ("zero quantity", standalone(entry(quantity: 0)), "quantity must be a positive number of shares (got 0)"),
            ("limit without price", standalone(entry(type: .limit)), "a limit order needs a limit price"),
            ("stop without price", standalone(entry(type: .stop)), "a stop order needs a stop price"),
            ("stop limit without limit", standalone(entry(type: .stopLimit, stop: "95.00")), "a stop_limit order needs a limit price"),
            ("market with a limit", standalone(entry(type: .market, limit: "95.00")), "a market order takes no limit price (got 95.00)"),
            ("negative price", standalone(entry(type: .limit, limit: "-1.00")), "the limit price must be positive (got -1.00)"),
            ("zero stop", standalone(entry(type: .stop, stop: "0")), "the stop price must be positive (got 0.00)"),
            (
                "child on the wrong side", BracketOrder(intent: "i1", entry: e, stopLoss: wrongSide, takeProfit: nil),
                "the stop loss must sell to close the entry's buy, not buy"
            ),
            (
                "child without parent", BracketOrder(intent: "i1", entry: e, stopLoss: orphan, takeProfit: nil),
                "the stop loss must name the entry i1.E as its parent (got none)"
            ),
        ]
    }()

    @Test(arguments: invalid)
    func invalidOrdersAreRejectedWithAReason(name: String, b: BracketOrder, reason: String) {
        var h = Harness()
        let out = h.submit(b)
        let rejected = out.events.compactMap { if case .rejected(let id, let why) = $0 { (id, why) } else { nil } }
        #expect(rejected.count == b.legs.count, "\(name)")
        #expect(rejected.contains { $0.1 == reason }, "\(name): \(rejected)")
        #expect(b.legs.allSatisfy { h.status($0.clientOrderID) == .rejected })
        // Rejected orders are known: the same submit again is a duplicate, not a new order.
        #expect(h.submit(b).reports.isEmpty)
    }

    @Test func rejectionOfOneLegRejectsTheWholeBracketSayingWhy() {
        var h = Harness()
        let e = entry()
        let b = BracketOrder(intent: "i1", entry: e, stopLoss: child(of: e, .stopLoss, type: .stop), takeProfit: nil)
        #expect(
            h.submit(b).answers == [
                .rejected(E1, reason: "the bracket was rejected because of i1.S: a stop order needs a stop price"),
                .rejected(S1, reason: "a stop order needs a stop price"),
            ])
    }

    @Test func stopOnTheWrongSideOfThePriceIsAccepted() {
        var h = Harness()
        // A buy entry's stop loss above the target: odd, but an exchange does not judge it.
        let out = h.submit(bracket(entry(), stop: "120.00", target: "90.00"))
        #expect(out.events.filter { if case .rejected = $0 { true } else { false } }.isEmpty)
    }

    @Test func injectedRejectRejectsEveryLegOfTheNextBracketOnly() {
        var h = Harness()
        #expect(h.send(.inject(.rejectNext(reason: "drill: insufficient margin")), at: t(0, preMarket)).reports.isEmpty)
        let out = h.submit(bracket(entry(), stop: "95.00", target: "110.00"))
        #expect(
            out.answers == [
                .rejected(E1, reason: "drill: insufficient margin"),
                .rejected(S1, reason: "drill: insufficient margin"),
                .rejected(T1, reason: "drill: insufficient margin"),
            ])
        let next = h.submit(standalone(entry("i2")))
        #expect(next.answers == [.acknowledged("i2.E", brokerOrderID: "broker@paper-o4"), .accepted("i2.E")])
    }

    @Test func disconnectLosesSubmitsAndReportsButNotExecutions() {
        var h = Harness()
        h.submit(bracket(entry(), stop: "95.00", target: "110.00"), at: t(0, preMarket))
        let lost = h.send(.inject(.disconnect(seconds: 86_400)), at: t(0, preMarket + 10))
        #expect(lost.connection == .lost(until: t(1, preMarket + 10)))
        #expect(!h.exchange.isConnected(at: t(0, preMarket + 11)))

        // A submit does not reach the exchange.
        let submit = h.submit(standalone(entry("i2")), at: t(0, preMarket + 20))
        #expect(submit.answers.count == 1)
        guard case .unacknowledged("i2.E", let detail) = submit.answers.first else {
            Issue.record("expected unacknowledged, got \(submit.events)")
            return
        }
        #expect(detail.contains("unreachable"))
        #expect(h.exchange.order("i2.E") == nil)

        // A cancel cannot reach it either.
        let cancel = h.send(.cancel(E1, reason: "pre-close cleanup"), at: t(0, preMarket + 30))
        #expect(cancel.notices == [.cancelRefused(E1, .brokerUnreachable(until: t(1, preMarket + 10)))])
        #expect(h.status(E1) == .working)

        // The exchange keeps filling; the fill report is lost in transit.
        let day0 = h.deliver(bar(0, "100.00", "101.00", "99.00", "100.00"))
        #expect(day0.reports.isEmpty)
        #expect(h.status(E1) == .filled)
        let state = h.exchange.accountState(executionsSince: t(0, 0), now: t(0, afterClose + 1))
        #expect(!state.connected)
        #expect(state.executions.map(\.clientOrderID) == [E1])
        #expect(state.positions == [BrokerPosition(symbol: "AAPL", quantity: 100, averagePrice: p("100.00"))])
        #expect(state.openOrders.map(\.spec.clientOrderID) == [S1, T1])

        // A tick after the deadline restores the connection, reporting nothing of the past.
        let back = h.send(.tick, at: t(1, preMarket + 10))
        #expect(back.connection == .restored)
        #expect(back.reports.isEmpty)
        #expect(h.exchange.isConnected(at: t(1, preMarket + 10)))
        // Lost reports took no ids: the next report follows the last one delivered (r11, the
        // unacknowledged submit after its `submitting` note r10).
        #expect(h.send(.cancel(S1, reason: "test"), at: t(1, preMarket + 11)).reports.map(\.id) == ["broker@paper-r12"])
    }

    @Test func dropNextAcknowledgementRecordsTheOrderButReportsItUnacknowledged() {
        var h = Harness()
        h.send(.inject(.dropNextAcknowledgement), at: t(0, preMarket))
        let out = h.submit(bracket(entry(), stop: "95.00", target: "110.00"))
        #expect(out.answers.map(\.clientOrderID) == [E1, S1, T1])
        #expect(out.answers.allSatisfy { if case .unacknowledged = $0 { true } else { false } })
        #expect(h.status(E1) == .working && h.status(S1) == .held)
        // The order works: its fill is reported normally.
        #expect(h.deliver(bar(0, "100.00", "101.00", "99.00", "100.00")).fills.map(\.clientOrderID) == [E1])
        // Only the next submit lost its answer.
        #expect(
            h.submit(standalone(entry("i2")), at: t(1, preMarket)).answers.first
                == .acknowledged("i2.E", brokerOrderID: "broker@paper-o4"))
    }

    @Test func brokerCancelIsReportedAndTakesTheHeldChildren() {
        var h = Harness()
        h.submit(bracket(entry(), stop: "95.00", target: "110.00"))
        let out = h.send(.inject(.brokerCancel(E1)), at: t(0, preMarket + 5))
        #expect(
            out.events == [
                .cancelled(E1, reason: "cancelled by the broker"),
                .cancelled(S1, reason: "entry i1.E ended cancelled without a fill"),
                .cancelled(T1, reason: "entry i1.E ended cancelled without a fill"),
            ])
        #expect(h.exchange.openOrders.isEmpty)
    }

    @Test func silentBrokerCancelLeavesAnUnprotectedPositionOnlyReconciliationFinds() {
        var h = BracketTests.filledLongBracket()
        let out = h.send(.inject(.brokerCancelSilently(S1)), at: t(1, preMarket))
        #expect(out.reports.isEmpty)
        #expect(out.notices.isEmpty)
        #expect(h.status(S1) == .cancelled)
        let state = h.exchange.accountState(executionsSince: t(0, 0), now: t(1, preMarket))
        #expect(state.positions.map(\.quantity) == [100])
        #expect(state.openOrders.map(\.spec.clientOrderID) == [T1])  // no stop any more
        // The stop no longer protects: a crash through 95 fills nothing.
        #expect(h.deliver(bar(1, "96.00", "97.00", "80.00", "81.00")).fills.isEmpty)
    }

    @Test func cancellingAnUnfilledEntryCancelsItsHeldChildren() {
        var h = Harness()
        h.submit(bracket(entry(), stop: "95.00", target: "110.00"))
        let out = h.send(.cancel(E1, reason: "pre-close cleanup"), at: t(0, preMarket + 5))
        #expect(
            out.events == [
                .cancelled(E1, reason: "pre-close cleanup"),
                .cancelled(S1, reason: "entry i1.E ended cancelled without a fill"),
                .cancelled(T1, reason: "entry i1.E ended cancelled without a fill"),
            ])
    }

    @Test func cancellingAPartiallyFilledEntryKeepsTheChildrenProtectingTheFill() {
        var config = frictionless
        config.maxVolumeSharePercent = 10
        var h = Harness(config)
        h.submit(bracket(entry(tif: .gtc), stop: "95.00", target: "110.00"))
        h.deliver(bar(0, "100.00", "101.00", "99.00", "100.00", volume: 400))
        let out = h.send(.cancel(E1, reason: "pre-close cleanup"), at: t(0, afterClose + 5))
        #expect(out.events == [.cancelled(E1, reason: "pre-close cleanup")])
        #expect(h.working(S1) == 40 && h.working(T1) == 40)
    }

    @Test func cancelOfAFinishedOrUnknownOrderIsRefusedAndChangesNothing() {
        var h = BracketTests.filledLongBracket()
        let filled = h.send(.cancel(E1, reason: "cleanup"), at: t(1, preMarket))
        #expect(filled.reports.isEmpty)
        #expect(filled.notices == [.cancelRefused(E1, .alreadyFinal(.filled))])
        #expect(filled.notices.first?.description == "cancel of i1.E refused: the order is already filled")
        let unknown = h.send(.cancel("nope.E", reason: "cleanup"), at: t(1, preMarket))
        #expect(unknown.notices == [.cancelRefused("nope.E", .unknownOrder)])

        // Cancelling twice: the second is a refusal, nothing else.
        #expect(h.send(.cancel(T1, reason: "cleanup"), at: t(1, preMarket)).events == [.cancelled(T1, reason: "cleanup")])
        let before = h.exchange
        let twice = h.send(.cancel(T1, reason: "cleanup"), at: t(1, preMarket))
        #expect(twice.reports.isEmpty)
        #expect(twice.notices == [.cancelRefused(T1, .alreadyFinal(.cancelled))])
        #expect(h.exchange == before)
        #expect(h.status(S1) == .working)  // cancelling one child leaves its sibling
    }
}
