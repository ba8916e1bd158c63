import ASTCore
import ASTMessages
import Foundation
import Testing

@testable import ASTRisk

/// One row: a gate in `from`, one input, and where it must end up (`nil`: no transition).
struct TransitionCase: Sendable, CustomTestStringConvertible {
    var name: String
    var from: TradingState
    var input: RiskInput
    var to: TradingState?
    var cause: SafeModeCause.Kind?

    var testDescription: String { "\(from) + \(name) -> \(to?.rawValue ?? "no change")" }
}

let criticalInputs: [(String, RiskInput, SafeModeCause.Kind)] = [
    (
        "broker exit with on_crash halt",
        .lifecycle(lifecycle(.exited, reason: "killed by signal 9 (SIGKILL)", onCrash: .halt)), .childDown
    ),
    ("broker watchdog timeout with on_crash halt", .lifecycle(lifecycle(.watchdogTimeout, onCrash: .halt)), .childDown),
    ("supervisor gave up", .lifecycle(lifecycle(.gaveUp, nil, reason: "6 restarts in 30 s")), .supervisorGaveUp),
    (
        "broker disconnect", .brokerConnection(BrokerConnectionReport(broker: paper, connected: false, detail: "socket closed")),
        .brokerDisconnected
    ),
    ("reconciliation mismatch", .reconciliation(.mismatch("AAPL: book 100, broker 90")), .reconciliationMismatch),
    ("journal verification failure", .journalVerificationFailed(detail: "entry 812: hash mismatch"), .journalVerificationFailed),
    ("operator halt", .command(.halt(reason: "maintenance")), .operatorHalt),
    ("unclean exit of ast-risk", .startedAfterUncleanExit, .uncleanExit),
]

let reduceChild = ProcessIdentity(role: .marketdata)

let transitionCases: [TransitionCase] =
    criticalInputs.flatMap { name, input, kind in
        [
            TransitionCase(name: name, from: .active, input: input, to: .halted, cause: kind),
            TransitionCase(name: name, from: .safeReducing, input: input, to: .halted, cause: kind),
            TransitionCase(name: name, from: .halted, input: input, to: nil),
        ]
    } + [
        TransitionCase(
            name: "child exit with on_crash reduce", from: .active,
            input: .lifecycle(lifecycle(.exited, reduceChild, reason: "exited with code 1", onCrash: .reduce)),
            to: .safeReducing, cause: .childDown),
        TransitionCase(
            name: "child exit with on_crash reduce", from: .safeReducing,
            input: .lifecycle(lifecycle(.exited, reduceChild, onCrash: .reduce)), to: nil),
        TransitionCase(
            name: "child exit with on_crash reduce", from: .halted,
            input: .lifecycle(lifecycle(.exited, reduceChild, onCrash: .reduce)), to: nil),
        TransitionCase(
            name: "child exit with on_crash none", from: .active,
            input: .lifecycle(lifecycle(.exited, reduceChild, onCrash: .noEffect)), to: nil),
        TransitionCase(
            name: "child given up on alone with on_crash reduce", from: .active,
            input: .lifecycle(lifecycle(.givenUp, reduceChild, reason: "restart budget exceeded", onCrash: .reduce)),
            to: .safeReducing, cause: .childDown),
        TransitionCase(
            name: "child given up on alone with on_crash halt", from: .active,
            input: .lifecycle(lifecycle(.givenUp, ProcessIdentity(role: .strategy), onCrash: .halt)), to: .halted, cause: .childDown),
        TransitionCase(
            name: "notifier given up on alone with on_crash none", from: .active,
            input: .lifecycle(lifecycle(.givenUp, ProcessIdentity(role: .notifier), onCrash: .noEffect)), to: nil),
        TransitionCase(
            name: "broker stopped by the supervisor", from: .active, input: .lifecycle(lifecycle(.stopped)), to: nil),
        TransitionCase(name: "broker ready", from: .active, input: .lifecycle(lifecycle(.ready)), to: nil),
        TransitionCase(
            name: "broker connected", from: .active,
            input: .brokerConnection(BrokerConnectionReport(broker: paper, connected: true)), to: nil),
        TransitionCase(name: "clean reconciliation", from: .active, input: .reconciliation(.clean), to: nil),
        TransitionCase(name: "clean reconciliation", from: .halted, input: .reconciliation(.clean), to: nil),
    ]

struct ViolationCase: Sendable, CustomTestStringConvertible {
    var name: String
    var limits: RiskLimits = .cautiousDefaults
    var portfolio: PortfolioSnapshot
    var expected: ReasonCode?

    var testDescription: String { "\(name) -> \(expected?.rawValue ?? "no violation")" }
}

let violationCases: [ViolationCase] = [
    ViolationCase(name: "drawdown at the limit", portfolio: snapshot(equity: "90000.00", peak: "100000.00", startOfDay: "90000.00")),
    ViolationCase(
        name: "drawdown over the limit", portfolio: snapshot(equity: "89999.99", peak: "100000.00", startOfDay: "89999.99"),
        expected: .maxDrawdown),
    ViolationCase(name: "daily loss at the limit", portfolio: snapshot(equity: "98000.00", startOfDay: "100000.00")),
    ViolationCase(
        name: "daily loss over the limit", portfolio: snapshot(equity: "97999.99", startOfDay: "100000.00"),
        expected: .dailyLossLimit),
    ViolationCase(
        name: "gross exposure at the limit",
        portfolio: snapshot(tenNames.map { Holding($0, 100, "100.00", "s-\($0)") })),
    ViolationCase(
        name: "gross exposure over the limit",
        portfolio: snapshot(tenNames.map { Holding($0, 100, "100.00", "s-\($0)") } + [Holding("K", 1, "0.01", "s-K")]),
        expected: .maxLeverage),
    ViolationCase(name: "symbol at the limit", portfolio: snapshot([Holding("AAPL", 100, "100.00")])),
    ViolationCase(
        name: "symbol over the limit", portfolio: snapshot([Holding("AAPL", 100, "100.0001")]), expected: .maxConcentration),
    ViolationCase(
        name: "a short counts by its size", portfolio: snapshot([Holding("AAPL", -101, "100.00")]), expected: .maxConcentration),
    ViolationCase(
        name: "sector at the limit", portfolio: snapshot([Holding("A", 100), Holding("B", 100), Holding("C", 100)])),
    ViolationCase(
        name: "sector over the limit",
        portfolio: snapshot([Holding("A", 100), Holding("B", 100), Holding("C", 100), Holding("D", 1, "0.01")]),
        expected: .maxSectorConcentration),
    ViolationCase(name: "equity not positive", portfolio: snapshot(equity: "0.00", startOfDay: "100.00"), expected: .maxDrawdown),
]

@Suite struct SafeModeTests {
    @Test(arguments: transitionCases)
    func safeModeTransition(_ row: TransitionCase) throws {
        var desk = try Desk(in: row.from)
        let before = desk.gate.cause
        desk.advance(.seconds(5))
        let out = desk.send(row.input)
        guard let to = row.to else {
            #expect(out.transitions.isEmpty && out.alerts.isEmpty)
            #expect(desk.gate.state == row.from && desk.gate.since == t0 && desk.gate.cause == before)
            return
        }
        #expect(out.transitions.count == 1)
        let t = try #require(out.transitions.first)
        #expect(t.from == row.from && t.to == to && t.at == desk.now && t.cause.kind == row.cause)
        #expect(out.alerts == [Alert(for: t)])
        #expect(out.alerts.first?.priority == (to == .halted ? .p0 : .p1))
        #expect(desk.gate.state == to && desk.gate.since == desk.now && desk.gate.cause == t.cause)
        #expect(desk.gate.record == SafeModeRecord(t))
    }

    @Test(arguments: violationCases)
    func portfolioViolationMovesActiveToSafeReducing(_ row: ViolationCase) throws {
        var desk = try Desk(row.limits)
        let out = desk.send(.portfolio(row.portfolio))
        #expect(desk.gate.portfolioViolation?.code == row.expected)
        guard let code = row.expected else {
            #expect(out.isEmpty && desk.gate.state == .active)
            return
        }
        let t = try #require(out.transitions.first)
        #expect(t.from == .active && t.to == .safeReducing && t.cause.kind == .portfolioViolation && t.cause.code == code)
        #expect(out.alerts.first?.priority == .p1)
    }

    @Test func portfolioViolationDoesNotLeaveHalted() throws {
        var desk = try Desk(in: .halted)
        #expect(desk.send(.portfolio(snapshot(equity: "80000.00", peak: "100000.00"))).isEmpty)
        #expect(desk.gate.state == .halted)
    }

    @Test func marksRevalueTheBookAndRaiseThePeak() throws {
        let limits = RiskLimits.cautiousDefaults.with {
            $0.maxSymbolConcentrationPct = 100
            $0.maxSectorConcentrationPct = 100
        }
        var desk = try Desk(limits)
        desk.send(.portfolio(snapshot([Holding("AAPL", 1000, "10.00")])))
        // 1,000 shares from 10.00 to 8.00: exactly 2 % lost today, not over.
        desk.mark(["AAPL"], "8.00")
        #expect(desk.gate.state == .active)
        desk.mark(["AAPL"], "20.00")  // equity 110,000: the new peak
        #expect(desk.gate.state == .active)
        // From the 110,000 peak to 98,900 is 10.09 % down; from the start of day only 1.1 %.
        desk.advance(.seconds(1))
        let out = desk.send(.mark(MarketMark(symbol: "AAPL", price: price("8.90"), at: desk.now)))
        #expect(out.transitions.first?.cause.code == .maxDrawdown)
        #expect(out.transitions.first?.cause.text == "MAX_DRAWDOWN: equity 98900.00 is 10.0909% below peak 110000.00 (max 10%)")
        // An older mark changes nothing.
        desk.send(.mark(MarketMark(symbol: "AAPL", price: price("1.00"), at: t0)))
        #expect(desk.gate.portfolioViolation?.detail.hasPrefix("equity 98900.00") == true)
    }

    @Test func dailyLossFromAMarkMovesToSafeReducing() throws {
        var desk = try Desk(.cautiousDefaults.with { $0.maxSymbolConcentrationPct = 100 })
        desk.send(.portfolio(snapshot([Holding("AAPL", 1000, "10.00", "a")])))
        let out = desk.send(.mark(MarketMark(symbol: "AAPL", price: price("7.9999"), at: t0)))
        #expect(out.transitions.map(\.to) == [.safeReducing])
        #expect(out.transitions.first?.cause.code == .dailyLossLimit)
    }

    // MARK: - Resume

    @Test func resumeIsRefusedWhileTheBrokerIsDownWithTheReason() throws {
        var desk = try Desk.ready()
        desk.send(.lifecycle(lifecycle(.exited, reason: "killed by signal 9 (SIGKILL)", onCrash: .halt)))
        #expect(desk.gate.state == .halted && desk.gate.downBrokers == [paper])
        let haltedAt = desk.now

        desk.advance(.seconds(1))
        var r = desk.command(.resume(to: .active))
        #expect(!r.accepted)
        #expect(
            r.refusals == [.brokerDown(paper, reason: "killed by signal 9 (SIGKILL)"), .noCleanReconciliationSinceHalt(haltedAt: haltedAt)])
        #expect(
            r.message
                == "resume refused: broker broker@paper is down (killed by signal 9 (SIGKILL)); no clean reconciliation has completed since the halt at \(haltedAt)"
        )

        // Restarted and spawned is not serving yet; ready is.
        desk.send(.lifecycle(lifecycle(.restarted)))
        desk.send(.lifecycle(lifecycle(.spawned)))
        #expect(desk.gate.downBrokers == [paper])
        desk.send(.lifecycle(lifecycle(.ready)))
        #expect(desk.gate.downBrokers.isEmpty)
        r = desk.command(.resume(to: .active))
        #expect(r.refusals == [.noCleanReconciliationSinceHalt(haltedAt: haltedAt)])
        #expect(desk.gate.state == .halted)

        desk.send(.reconciliation(.clean))
        desk.advance(.seconds(1))
        let out = desk.send(.command(.resume(to: .active)))
        let t = try #require(out.transitions.first)
        #expect(t.from == .halted && t.to == .active && t.cause.kind == .operatorResume)
        #expect(out.alerts.first?.priority == .p1)
        guard case .commandResult(let result) = out.last else {
            Issue.record("the command result comes last")
            return
        }
        #expect(result.accepted && result.message == "resumed: HALTED -> ACTIVE")
        #expect(Verdict(desk.decide(intent(quantity: 1))) == .approve)
    }

    @Test func resumeIsRefusedWhileABrokerIsDisconnected() throws {
        var desk = try Desk(.cautiousDefaults.with { $0.resumeRequiresCleanReconciliation = false })
        desk.send(.brokerConnection(BrokerConnectionReport(broker: ibkr, connected: false, detail: "gateway timeout")))
        desk.send(.brokerConnection(BrokerConnectionReport(broker: paper, connected: false)))
        let r = desk.command(.resume(to: .active))
        #expect(r.message == "resume refused: broker broker@ibkr is disconnected (gateway timeout); broker broker@paper is disconnected")
        desk.send(.brokerConnection(BrokerConnectionReport(broker: ibkr, connected: true)))
        desk.send(.brokerConnection(BrokerConnectionReport(broker: paper, connected: true)))
        // Without the reconciliation requirement, brokers up is enough.
        #expect(desk.command(.resume(to: .active)).accepted == true)
        #expect(desk.gate.state == .active)
    }

    @Test func resumeToReducingGoesToSafeReducing() throws {
        var desk = try Desk(in: .halted)
        desk.send(.reconciliation(.clean))
        let out = desk.send(.command(.resume(to: .reducing)))
        #expect(out.transitions.map(\.to) == [.safeReducing])
        #expect(desk.gate.state == .safeReducing)
    }

    @Test func resumeToActiveWithAViolationGoesToSafeReducing() throws {
        var desk = try Desk(in: .halted)
        desk.send(.portfolio(snapshot(equity: "85000.00", peak: "100000.00", startOfDay: "85000.00")))
        desk.send(.reconciliation(.clean))
        let out = desk.send(.command(.resume(to: .active)))
        let t = try #require(out.transitions.first)
        #expect(t.to == .safeReducing && t.cause.kind == .operatorResume && t.cause.code == .maxDrawdown)
        #expect(t.cause.text.hasPrefix("operator resume --to active; SAFE_REDUCING instead of ACTIVE"))
    }

    @Test func resumeFromSafeReducingWaitsForTheBookToComeBackUnderItsLimits() throws {
        var desk = try Desk()
        desk.send(.portfolio(snapshot(equity: "97000.00", startOfDay: "100000.00")))
        #expect(desk.gate.state == .safeReducing)
        #expect(desk.command(.resume(to: .reducing)).refusals == [.nothingToResume(.safeReducing)])
        let refused = desk.command(.resume(to: .active))
        let codes: [ReasonCode?] = refused.refusals.map { if case .portfolioViolation(let code, _) = $0 { code } else { nil } }
        #expect(!refused.accepted && codes == [.dailyLossLimit])
        // Back under the limit: nothing happens by itself ...
        desk.advance(.seconds(1))
        #expect(desk.send(.portfolio(snapshot(equity: "99000.00", startOfDay: "100000.00", asOf: desk.now))).isEmpty)
        #expect(desk.gate.state == .safeReducing)
        // ... until an operator resumes.
        #expect(desk.command(.resume(to: .active)).accepted == true)
        #expect(desk.gate.state == .active)
    }

    @Test func resumeWhileActiveIsRefused() throws {
        var desk = try Desk()
        let r = desk.command(.resume(to: .active))
        #expect(!r.accepted && r.refusals == [.nothingToResume(.active)])
        #expect(r.message == "resume refused: already ACTIVE: nothing to resume")
    }

    @Test func aReconciliationBeforeTheLatestFailureDoesNotCount() throws {
        var desk = try Desk()
        desk.send(.reconciliation(.clean))  // while ACTIVE: not "since the halt"
        desk.send(.command(.halt(reason: "drill")))
        #expect(desk.gate.resumeRefusals(to: .active) == [.noCleanReconciliationSinceHalt(haltedAt: t0)])
        desk.send(.reconciliation(.clean))
        #expect(desk.gate.resumeRefusals(to: .active).isEmpty)
        desk.advance(.seconds(1))
        desk.send(.reconciliation(.mismatch("cash differs by 0.01")))
        #expect(desk.gate.resumeRefusals(to: .active) == [.noCleanReconciliationSinceHalt(haltedAt: desk.now)])
        #expect(desk.gate.cause.kind == .operatorHalt)  // still halted for the first reason
        desk.send(.reconciliation(.clean))
        #expect(desk.command(.resume(to: .active)).accepted == true)
    }

    @Test func haltWhileHaltedIsAcceptedWithoutATransition() throws {
        var desk = try Desk(in: .halted)
        desk.send(.reconciliation(.clean))
        let out = desk.send(.command(.halt(reason: "")))
        #expect(out.transitions.isEmpty)
        guard case .commandResult(let r) = out.first else {
            Issue.record("expected a command result")
            return
        }
        #expect(r.accepted && r.message.hasPrefix("already HALTED since"))
        #expect(!desk.gate.hasCleanReconciliationSinceHalt)
    }

    @Test func operatorHaltNamesItsReason() throws {
        var desk = try Desk()
        let out = desk.send(.command(.halt(reason: "  ")))
        #expect(out.transitions.first?.cause.text == "operator halt: no reason given")
        #expect(out.alerts.first?.text == "ACTIVE -> HALTED at \(t0): operator halt: no reason given")
    }

    // MARK: - Restore

    @Test func restoredHaltedGateStaysHaltedUntilReconciledAndResumed() throws {
        let halted = SafeModeTransition(
            from: .active, to: .halted,
            cause: SafeModeCause(kind: .childDown, process: paper, text: "broker@paper exited (on_crash: halt)"), at: t0)
        let journaled = try JSONEncoder().encode(halted)
        let record = SafeModeRecord(try JSONDecoder().decode(SafeModeTransition.self, from: journaled))
        var desk = try Desk(.cautiousDefaults, record)
        desk.advance(.seconds(60))
        #expect(desk.gate.state == .halted && desk.gate.since == t0 && desk.gate.cause.process == paper)
        desk.send(.portfolio(snapshot()))
        desk.mark(["AAPL"])
        #expect(Verdict(desk.decide(intent(quantity: 1))) == .block(.tradingHalted))
        #expect(desk.gate.resumeRefusals(to: .active) == [.noCleanReconciliationSinceHalt(haltedAt: t0)])
        desk.send(.reconciliation(.clean))
        #expect(desk.command(.resume(to: .active)).accepted == true)
    }

    @Test(arguments: [TradingState.active, .safeReducing])
    func restoredStateIsKept(_ state: TradingState) throws {
        let desk = try Desk(in: state)
        #expect(desk.gate.state == state && desk.gate.since == t0)
    }

    @Test func uncleanStartGoesHalted() throws {
        var desk = try Desk()
        let out = desk.send(.startedAfterUncleanExit)
        #expect(out.transitions.map(\.to) == [.halted])
        #expect(out.transitions.first?.cause.kind == .uncleanExit)
        #expect(out.alerts.first?.priority == .p0)
        // Already HALTED: it stays so, with its original cause.
        var halted = try Desk(in: .halted)
        #expect(halted.send(.startedAfterUncleanExit).isEmpty)
        #expect(halted.gate.cause.kind == .operatorHalt)
    }

    @Test func theRecordRoundTripsThroughJSON() throws {
        var desk = try Desk()
        desk.send(.lifecycle(lifecycle(.exited, reason: "exited with code 1", onCrash: .halt)))
        let data = try JSONEncoder().encode(desk.gate.record)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains(#""process":"broker@paper""#) && text.contains(#""kind":"child_down""#))
        let restored = try RiskGate(restoring: JSONDecoder().decode(SafeModeRecord.self, from: data))
        #expect(restored.record == desk.gate.record)
    }

    // MARK: - Cancels

    static let cancelCases: [(CancelKind, TradingState, ReasonCode?)] = [
        (.restingUnfilledEntry, .active, nil), (.restingUnfilledEntry, .safeReducing, nil), (.restingUnfilledEntry, .halted, nil),
        (.partiallyFilledEntry, .active, nil), (.partiallyFilledEntry, .safeReducing, nil),
        (.partiallyFilledEntry, .halted, .tradingHalted),
        (.takeProfit, .active, nil), (.takeProfit, .safeReducing, nil), (.takeProfit, .halted, .tradingHalted),
        (.protectiveStop, .active, .protectiveStopUntouchable), (.protectiveStop, .safeReducing, .protectiveStopUntouchable),
        (.protectiveStop, .halted, .protectiveStopUntouchable),
    ]

    @Test(arguments: cancelCases)
    func cancelIsAllowedOnlyWhereItCannotAddRisk(kind: CancelKind, state: TradingState, refusal: ReasonCode?) throws {
        var desk = try Desk(in: state)
        let request = CancelRequest(orderID: "o-1", intent: "i-1", kind: kind)
        let out = desk.send(.cancel(request))
        #expect(out == [.cancel(desk.gate.cancelDecision(for: request))])
        let d = desk.gate.cancelDecision(for: request)
        #expect(d.allowed == (refusal == nil) && d.reason == refusal && d.orderID == "o-1")
    }

    // MARK: - Limits

    @Test func limitsDecodeFromSnakeCaseWithCautiousDefaults() throws {
        let yamlLike = #"{"max_drawdown_pct": 15, "price_band_pct": 2.5, "resume_requires_clean_reconciliation": false}"#
        let limits = try JSONDecoder().decode(RiskLimits.self, from: Data(yamlLike.utf8))
        #expect(
            limits
                == RiskLimits.cautiousDefaults.with {
                    $0.maxDrawdownPct = 15
                    $0.priceBandPct = Percent("2.5")!
                    $0.resumeRequiresCleanReconciliation = false
                })
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let text = String(decoding: try encoder.encode(RiskLimits.cautiousDefaults), as: UTF8.self)
        #expect(
            text
                == #"{"daily_loss_limit_pct":2,"max_drawdown_pct":10,"max_gross_leverage_pct":100,"max_mark_age_seconds":300,"max_open_positions":10,"max_order_notional_pct":5,"max_orders_per_window":10,"max_sector_concentration_pct":30,"max_symbol_concentration_pct":10,"order_rate_window_seconds":60,"price_band_pct":5,"require_protective_stop":true,"resume_requires_clean_reconciliation":true}"#
        )
        #expect(try JSONDecoder().decode(RiskLimits.self, from: Data(text.utf8)) == .cautiousDefaults)
    }

    @Test func limitsOutOfRangeAreRefusedInOperatorWords() {
        let bad = RiskLimits.cautiousDefaults.with {
            $0.maxDrawdownPct = 250
            $0.orderRateWindowSeconds = 0
        }
        #expect(
            bad.problems.map(\.description) == [
                "config: risk.max_drawdown_pct must be between 0 and 100 (got 250) in etc/ast.yaml",
                "config: risk.order_rate_window_seconds must be between 1 and 86400 (got 0) in etc/ast.yaml",
            ])
        #expect(throws: RiskLimitsError.self) { try RiskGate(limits: bad, restoring: .firstStart(at: t0)) }
        #expect(RiskLimits.cautiousDefaults.problems.isEmpty)
    }
}
