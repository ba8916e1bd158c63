import ASTCore
@_exported import ASTMessages

/// The risk gate and Safe Mode as a pure state machine: every input with the time it is
/// handled at, every effect an output (``RiskOutput``) for the shell to carry out. No clock,
/// no randomness, no I/O; outputs never depend on hash order, so replaying the same inputs
/// from the same record reproduces the same outputs.
///
/// Safe Mode (ARCHITECTURE.md):
/// - ACTIVE -> SAFE_REDUCING when a snapshot or a mark puts the book over a portfolio limit
///   (drawdown, daily loss, leverage, symbol or sector concentration), or a child whose spec
///   says `on_crash: reduce` goes down.
/// - ACTIVE | SAFE_REDUCING -> HALTED on a critical failure: a child with `on_crash: halt` goes
///   down (exit or watchdog timeout; every broker by default), the supervisor gives up, a
///   broker reports a lost connection, a reconciliation mismatch, a journal that fails
///   verification, an operator halt, or ast-risk starting after an unclean exit of its own.
/// - Nothing leaves HALTED but ``OperatorCommand/resume(to:)``, and nothing leaves
///   SAFE_REDUCING but a resume to ACTIVE: a book back under its limits does not by itself
///   re-enable entries.
/// - Resume is refused while any broker is down or disconnected, and out of HALTED while no
///   clean reconciliation was recorded since the latest critical failure (when
///   ``RiskLimits/resumeRequiresCleanReconciliation``). A resume to ACTIVE while the book is
///   over a portfolio limit goes to SAFE_REDUCING instead (out of HALTED) or is refused (out of
///   SAFE_REDUCING, where it would change nothing).
/// - A broker counts as down from a lifecycle `exited`, `watchdog_timeout` or `stopped` until a
///   `ready` (a `spawned` or `restarted` process is not serving yet), and as disconnected from a
///   lost-connection report until it reports connected again. Brokers the gate has heard
///   nothing about since its start are not counted down; a restart of ast-risk while HALTED
///   needs a new clean reconciliation, which needs the brokers.
///
/// Intent groups: see ``handle(_:now:)`` and the rules on ``RiskLimits``.
public struct RiskGate: Sendable {
    public let limits: RiskLimits
    /// The Safe Mode state, for `astctl status`.
    public private(set) var state: TradingState
    /// When the gate entered ``state``.
    public private(set) var since: Timestamp
    /// Why the gate is in ``state``.
    public private(set) var cause: SafeModeCause
    /// Whether a clean reconciliation was recorded after the latest critical failure.
    public internal(set) var hasCleanReconciliationSinceHalt = false

    var book: Book?
    /// The last mark per symbol from market data (the snapshot's marks are valuations, not
    /// market data: they do not make a symbol's price fresh).
    var quotes: [Symbol: MarketMark] = [:]
    /// Approvals since the last snapshot, in order: counted as if filled until a snapshot at
    /// or after their time replaces them.
    var pending: [PendingApproval] = []
    /// When each approval within the rate window was given, oldest first.
    var approvalTimes: [Timestamp] = []
    /// Decisions by intent id, so that a re-sent intent gets the same answer.
    var decided: [IntentID: Remembered] = [:]
    var decidedOrder: [IntentID] = []
    var brokersDown: [ProcessIdentity: String] = [:]
    var brokersDisconnected: [ProcessIdentity: String] = [:]
    /// Brokers in a planned disconnect (``BrokerConnectionReport/planned``: IB Gateway's nightly
    /// restart) and why, from the report until the first clean reconciliation after they are
    /// connected again: no intent is approved meanwhile (`BROKER_DISCONNECTED`), without a halt.
    var plannedOutages: [ProcessIdentity: String] = [:]
    /// The latest critical failure, from which a clean reconciliation is required.
    var lastCriticalFailureAt: Timestamp?
    /// Protective stops the operator placed (``OperatorOrder``), per symbol: the shares they
    /// cover and the side of the position they protect, until a snapshot shows that position gone.
    var operatorStops: [Symbol: OperatorStops] = [:]
    /// Approvals a broker refused, most recent last (at most ``rememberedDecisions``).
    public internal(set) var refusedApprovals: [ApprovalID] = []

    /// How many decisions are remembered for re-sent intents; older ids are evaluated afresh.
    public static let rememberedDecisions = 4096

    struct PendingApproval: Sendable, Equatable {
        var approval: ApprovalID
        var symbol: Symbol
        var delta: Int128
        var reference: Int128
        var sector: String?
        var at: Timestamp
    }

    struct Remembered: Sendable, Equatable {
        var intent: IntentGroup
        var decision: IntentDecision
    }

    /// A gate in the state `record` describes: the last journaled transition, or
    /// ``SafeModeRecord/firstStart(at:)`` when there is none. A HALTED gate needs a new clean
    /// reconciliation before it resumes. Throws the first limit out of range.
    public init(limits: RiskLimits = .cautiousDefaults, restoring record: SafeModeRecord) throws(RiskLimitsError) {
        if let problem = limits.problems.first { throw problem }
        self.limits = limits
        state = record.state
        since = record.since
        cause = record.cause
        lastCriticalFailureAt = record.state == .halted ? record.since : nil
    }

    /// The record to journal for ``state``: what ``init(limits:restoring:)`` takes back.
    public var record: SafeModeRecord { SafeModeRecord(state: state, since: since, cause: cause) }

    /// Brokers down since their last lifecycle event, sorted.
    public var downBrokers: [ProcessIdentity] { brokersDown.keys.sorted { $0.description < $1.description } }
    /// Brokers that reported a lost connection and not yet its return, sorted.
    public var disconnectedBrokers: [ProcessIdentity] {
        brokersDisconnected.keys.sorted { $0.description < $1.description }
    }

    /// Brokers in a planned disconnect, or back from one and not yet reconciled clean, sorted.
    public var plannedOutageBrokers: [ProcessIdentity] { plannedOutages.keys.sorted { $0.description < $1.description } }

    /// The portfolio limit the book is over right now, if any (`nil` without a snapshot).
    public var portfolioViolation: PortfolioViolation? { book?.violation(limits) }

    /// Handles one input at `now` and returns what the shell must do, in order.
    ///
    /// An intent group gets exactly one ``RiskOutput/decision(_:)``. Rules, in order (the
    /// first that refuses decides; size limits take the smallest quantity they allow):
    /// `TRADING_HALTED`; `INVALID_BRACKET` (shape); `NO_PORTFOLIO`; `NO_MARKET_DATA`,
    /// `STALE_MARKET_DATA`; `PRICE_OUT_OF_BAND`; `INVALID_BRACKET` (stop and take profit
    /// against the mark for market entries); in SAFE_REDUCING `TRADING_STATE_REDUCING` (no
    /// position) or `REDUCE_ONLY_WOULD_INCREASE_POSITION` (an increase, or a flip: a sell
    /// larger than the long is blocked, never cut down to the position, because the strategy
    /// sized it as something else); `MISSING_PROTECTIVE_STOP` (entries); `RATE_LIMIT_EXCEEDED`;
    /// then for entries `MAX_OPEN_POSITIONS` and the size limits `NOTIONAL_EXCEEDS_MAX_PER_ORDER`,
    /// `MAX_CONCENTRATION`, `MAX_SECTOR_CONCENTRATION`, `MAX_LEVERAGE`, `DAILY_LOSS_LIMIT`,
    /// `MAX_DRAWDOWN` (downgrade to the largest whole quantity all allow, or block when that
    /// is zero). An order that only reduces a position passes the size limits. Positions are
    /// the snapshot's plus approvals given since it. A re-sent intent (same id, same content)
    /// gets its earlier decision again without counting twice, except that an approval given in
    /// a less strict state is not repeated (`TRADING_HALTED`, `TRADING_STATE_REDUCING`); the same
    /// id with other content is blocked as `INVALID_BRACKET`. The last
    /// ``rememberedDecisions`` ids are remembered.
    public mutating func handle(_ input: RiskInput, now: Timestamp) -> [RiskOutput] {
        switch input {
        case .intent(let group):
            return [.decision(decide(group, now: now))]
        case .portfolio(let snapshot):
            return receive(snapshot, now: now)
        case .mark(let mark):
            return receive(mark, now: now)
        case .lifecycle(let event):
            return receive(event, now: now)
        case .brokerConnection(let report):
            if report.connected {
                brokersDisconnected[report.broker] = nil
                return []
            }
            brokersDisconnected[report.broker] = report.detail
            let why = report.detail.isEmpty ? "" : ": \(report.detail)"
            if report.planned == true {
                return plannedDisconnect(report, now: now)
            }
            plannedOutages[report.broker] = nil
            return criticalFailure(
                SafeModeCause(kind: .brokerDisconnected, process: report.broker, text: "broker \(report.broker) lost its connection\(why)"),
                now: now)
        case .reconciliation(.clean):
            if state == .halted { hasCleanReconciliationSinceHalt = true }
            return plannedOutagesReconciled(now: now)
        case .reconciliation(.mismatch(let what)):
            return criticalFailure(SafeModeCause(kind: .reconciliationMismatch, text: "reconciliation mismatch: \(what)"), now: now)
        case .journalVerificationFailed(let detail):
            return criticalFailure(
                SafeModeCause(kind: .journalVerificationFailed, text: "journal verification failed: \(detail)"), now: now)
        case .command(let command):
            return perform(command, now: now)
        case .cancel(let request):
            return [.cancel(cancelDecision(for: request))]
        case .startedAfterUncleanExit:
            return criticalFailure(.uncleanExit, now: now)
        case .orderRefused(let refusal):
            return orderRefused(refusal, now: now)
        case .operatorOrder(let order):
            return operatorOrder(order, now: now)
        }
    }

    /// Whether `request` may be cancelled now. A resting, unfilled entry: always. A protective
    /// stop: never (`PROTECTIVE_STOP_UNTOUCHABLE`). A partially filled entry or a take profit:
    /// not while HALTED (`TRADING_HALTED`: no modifications), otherwise yes.
    public func cancelDecision(for request: CancelRequest) -> CancelDecision {
        func refuse(_ code: ReasonCode, _ detail: String) -> CancelDecision {
            CancelDecision(orderID: request.orderID, kind: request.kind, allowed: false, reason: code, detail: detail)
        }
        let allowed = CancelDecision(orderID: request.orderID, kind: request.kind, allowed: true, reason: nil, detail: "")
        switch request.kind {
        case .restingUnfilledEntry where OperatorOrder.isOperatorProtectiveStop(request.orderID):
            // An operator's protective stop rides in an entry's slot: it is still a protective stop.
            return refuse(.protectiveStopUntouchable, "\(request.orderID) is an operator's protective stop")
        case .restingUnfilledEntry:
            return allowed
        case .protectiveStop:
            return refuse(.protectiveStopUntouchable, "protective stops are never cancelled by the system")
        case .partiallyFilledEntry, .takeProfit:
            guard state != .halted else {
                return refuse(.tradingHalted, "HALTED allows only cancelling resting, unfilled entries")
            }
            return allowed
        }
    }

    /// Every reason a resume to `target` would be refused now, in a stable order: empty when it
    /// would be accepted. For `astctl status` as much as for the command itself.
    public func resumeRefusals(to target: ResumeTarget) -> [ResumeRefusal] {
        if state == .active || (state == .safeReducing && target == .reducing) { return [.nothingToResume(state)] }
        var out: [ResumeRefusal] = downBrokers.map { .brokerDown($0, reason: brokersDown[$0]!) }
        out += disconnectedBrokers.map { .brokerDisconnected($0, detail: brokersDisconnected[$0]!) }
        if state == .halted, limits.resumeRequiresCleanReconciliation, !hasCleanReconciliationSinceHalt {
            out.append(.noCleanReconciliationSinceHalt(haltedAt: lastCriticalFailureAt ?? since))
        }
        if state == .safeReducing, let v = portfolioViolation { out.append(.portfolioViolation(v.code, detail: v.detail)) }
        return out
    }

    // MARK: - Safe Mode

    mutating func transition(to target: TradingState, cause: SafeModeCause, now: Timestamp) -> [RiskOutput] {
        guard target != state else { return [] }
        let t = SafeModeTransition(from: state, to: target, cause: cause, at: now)
        state = target
        since = now
        self.cause = cause
        if target != .halted {
            hasCleanReconciliationSinceHalt = false
            lastCriticalFailureAt = nil
        }
        return [.transition(t), .alert(Alert(for: t))]
    }

    /// A planned disconnect (the nightly restart of IB Gateway, inside its configured window): no
    /// halt and no P0, as nothing failed; the broker counts as disconnected, and intents are
    /// blocked (`BROKER_DISCONNECTED`) until it is connected again and a reconciliation after that
    /// is clean. An `info` alert says so. A disconnect that is not planned (one outside the window,
    /// or the broker still down when the window ends) halts as always.
    mutating func plannedDisconnect(_ report: BrokerConnectionReport, now: Timestamp) -> [RiskOutput] {
        let first = plannedOutages[report.broker] == nil
        plannedOutages[report.broker] = report.detail
        guard first else { return [] }
        return [
            .alert(
                Alert(
                    priority: .info, key: "broker-planned-disconnect:\(report.broker)", title: "\(report.broker) planned disconnect",
                    text: "\(report.broker): \(report.detail); no order goes out until it is back and reconciled clean (Safe Mode "
                        + "stays \(state.rawValue))", at: now))
        ]
    }

    /// A clean reconciliation ends the planned outage of every broker connected again.
    mutating func plannedOutagesReconciled(now: Timestamp) -> [RiskOutput] {
        let back = plannedOutageBrokers.filter { brokersDisconnected[$0] == nil }
        guard !back.isEmpty else { return [] }
        for b in back { plannedOutages[b] = nil }
        let names = back.map(\.description).joined(separator: ", ")
        return [
            .alert(
                Alert(
                    priority: .info, key: "broker-planned-disconnect-ended", title: "\(names) back after a planned disconnect",
                    text: "\(names) connected again and reconciled clean: orders may go out (Safe Mode \(state.rawValue))", at: now))
        ]
    }

    /// HALTED, and any reconciliation before this failure no longer counts.
    mutating func criticalFailure(_ cause: SafeModeCause, now: Timestamp) -> [RiskOutput] {
        hasCleanReconciliationSinceHalt = false
        lastCriticalFailureAt = now
        return transition(to: .halted, cause: cause, now: now)
    }

    mutating func checkPortfolio(now: Timestamp) -> [RiskOutput] {
        guard state == .active, let v = portfolioViolation else { return [] }
        return transition(
            to: .safeReducing,
            cause: SafeModeCause(kind: .portfolioViolation, code: v.code, text: "\(v.code): \(v.detail)"), now: now)
    }

    mutating func receive(_ snapshot: PortfolioSnapshot, now: Timestamp) -> [RiskOutput] {
        if let current = book, snapshot.asOf < current.asOf { return [] }
        guard let next = Book(snapshot) else { return [] }
        book = next
        forgetOperatorStops()
        pending.removeAll { $0.at <= snapshot.asOf }
        return checkPortfolio(now: now)
    }

    mutating func receive(_ mark: MarketMark, now: Timestamp) -> [RiskOutput] {
        guard mark.price.units > 0 else { return [] }
        // One hash per mark (every symbol's, every session): a stale mark puts the held one back
        // (its key stays, so nothing else moves).
        if let last = quotes.updateValue(mark, forKey: mark.symbol), last.at > mark.at {
            quotes[mark.symbol] = last
            return []
        }
        guard book?.revalue(mark) == true else { return [] }
        return checkPortfolio(now: now)
    }

    mutating func receive(_ event: LifecycleEvent, now: Timestamp) -> [RiskOutput] {
        if let child = event.child, child.role == .broker {
            switch event.kind {
            case .exited, .watchdogTimeout, .stopped:
                brokersDown[child] = event.reason ?? event.kind.rawValue
            case .ready:
                brokersDown[child] = nil
            case .spawned, .restarted, .gaveUp, .givenUp:
                break
            }
        }
        if event.kind == .gaveUp {
            return criticalFailure(
                SafeModeCause(kind: .supervisorGaveUp, text: "supervisor gave up: \(event.reason ?? "restart intensity exceeded")"),
                now: now)
        }
        // A child given up on alone (non-critical, over its restart budget) stays down: its on_crash applies again.
        guard event.kind == .exited || event.kind == .watchdogTimeout || event.kind == .givenUp, let child = event.child,
            let impact = event.onCrash
        else {
            return []
        }
        let what =
            switch event.kind {
            case .watchdogTimeout: "missed its watchdog deadline"
            case .givenUp: "was given up on (restart budget exceeded)"
            default: event.reason ?? "exited"
            }
        let text = "\(child) \(what) (on_crash: \(impact.rawValue))"
        switch impact {
        case .halt:
            return criticalFailure(SafeModeCause(kind: .childDown, process: child, text: text), now: now)
        case .reduce:
            guard state == .active else { return [] }
            return transition(to: .safeReducing, cause: SafeModeCause(kind: .childDown, process: child, text: text), now: now)
        case .noEffect:
            return []
        }
    }

    mutating func perform(_ command: OperatorCommand, now: Timestamp) -> [RiskOutput] {
        switch command {
        case .halt(let reason):
            let why = reason.allSatisfy(\.isWhitespace) ? "no reason given" : reason
            if state == .halted {
                hasCleanReconciliationSinceHalt = false
                lastCriticalFailureAt = now
                return [
                    .commandResult(
                        CommandResult(
                            command: command, accepted: true, message: "already HALTED since \(since): \(cause.text)"))
                ]
            }
            let out = criticalFailure(SafeModeCause(kind: .operatorHalt, text: "operator halt: \(why)"), now: now)
            return out + [.commandResult(CommandResult(command: command, accepted: true, message: "HALTED: operator halt: \(why)"))]
        case .resume(let target):
            let refusals = resumeRefusals(to: target)
            guard refusals.isEmpty else {
                return [
                    .commandResult(
                        CommandResult(
                            command: command, accepted: false,
                            message: "resume refused: " + refusals.map(\.description).joined(separator: "; "), refusals: refusals))
                ]
            }
            let from = state
            var to = target.state
            var text = "operator resume --to \(target)"
            var code: ReasonCode?
            if to == .active, let v = portfolioViolation {
                to = .safeReducing
                code = v.code
                text += "; SAFE_REDUCING instead of ACTIVE: the portfolio is over a limit: \(v.code): \(v.detail)"
            }
            let out = transition(to: to, cause: SafeModeCause(kind: .operatorResume, code: code, text: text), now: now)
            return out + [.commandResult(CommandResult(command: command, accepted: true, message: "resumed: \(from) -> \(to)"))]
        }
    }

    static func sectorName(_ key: String) -> String { key.isEmpty ? "(unknown)" : key }

    /// A sector as a peer sent it, `nil` when it names none: empty or only whitespace is a
    /// missing sector (REFERENCE_DATA_MISSING where the rule needs it), never a sector named "".
    static func knownSector(_ sector: String?) -> String? {
        guard let sector, sector.contains(where: { !$0.isWhitespace }) else { return nil }
        return sector
    }
}
