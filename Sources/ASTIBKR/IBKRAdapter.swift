import ASTBus
import ASTCore
import ASTExecution
import ASTJournal
import ASTProcessKit
import ASTRuntime
import ASTTWS
import ASTTWSClient
import ASTWire
import Foundation
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// Where an adapter's outputs go (see ``IBKRAdapter/init(name:config:trading:journal:clock:logger:deliver:connectionChanged:accountChanged:echo:)``).
struct IBKROutlet: Sendable {
    var deliver: @Sendable ([ExecutionReport]) throws -> Void
    var connectionChanged: @Sendable (Bool, String) throws -> Void
    /// A planned disconnect (the nightly restart window); nil: reported as any disconnect.
    var plannedDisconnect: (@Sendable (String) throws -> Void)?
    var accountChanged: @Sendable (String) throws -> Void
    var echo: (@Sendable (String) -> Void)?
}

/// The IBKR adapter cannot do what it was asked.
public struct IBKRAdapterError: Error, CustomStringConvertible {
    public var description: String
    init(_ d: String) { description = d }
}

/// The journal entry types of `broker@ibkr`: those of every real broker (the input is a bracket with
/// its IB order ids, a cancel or a resize) and the requests written to TWS.
enum IBKRJournal {
    static let common = RealBrokerJournalTypes(prefix: "ibkr")
    static let input = common.input
    /// One request written to TWS (durable, before it is written).
    static let sent = "ibkr.sent"
    static let received = common.received
    static let report = common.report
}

/// What `broker@ibkr` journals as handled, write-ahead.
enum IBKRInput: Codable, Sendable, Equatable {
    /// A bracket as placed: prices rounded to the tick, under IB ids `parentId`...`parentId+2`.
    case bracket(BracketOrder, parentId: Int32, account: String)
    case cancel(ClientOrderID, orderId: Int32, reason: String)
    case modify(ClientOrderID, orderId: Int32, quantity: Quantity, reason: String)
}

/// One request written to TWS.
struct IBKRSent: Codable, Sendable, Equatable {
    var orderId: Int32
    var orderRef: String
    var what: String
}

/// Fault injection for the crash tests (refused in LIVE): `AST_FAULT_IBKR_CRASH=after-parent` SIGKILLs
/// the process once the bracket's parent is written and before its children; `after-transmit` once the
/// transmitting child is written and before IB's acknowledgement is handled. One-shot per runtime
/// directory (a marker file), like ``CrashAfterInputFault``.
enum IBKRCrashFault {
    static let variable = "AST_FAULT_IBKR_CRASH"
    static var point: String? { ProcessInfo.processInfo.environment[variable].flatMap { $0.isEmpty ? nil : $0 } }
}

/// The Interactive Brokers adapter: brackets, cancels and resizes sent through the TWS API
/// (``TWSClient``), every order written and every message received journaled, the client order id
/// in `orderRef` so that after any crash the orders are found at IB and never placed twice.
///
/// At every start of the API session and after every 1101/1102 it asks IB for its open orders,
/// positions and executions and settles the journaled brackets against them (adopt what IB has, send
/// again with the same ids only what IB cannot have transmitted, report the rest unacknowledged) before
/// it tells the risk gate and the reconciler it is connected (the reconciler then reconciles). A 1100,
/// a disconnect, a planned one, a refused account: connected false (the risk gate halts).
public actor IBKRAdapter: BrokerAdapter {
    public nonisolated let name: String
    let config: IBKRConfig
    let trading: TradingConfig
    let journal: Journal
    let clock: any WallClock
    let logger: Logger
    let outlet: IBKROutlet
    let client: TWSClient
    let tick: Price

    // Rebuilt from the journal.
    var brackets: [IntentID: (bracket: BracketOrder, parentId: Int32)] = [:]
    var specs: [String: (spec: OrderSpec, orderId: Int32)] = [:]
    var sentRefs: Set<String> = []
    /// Orders AST asked IB to cancel (journaled inputs): a cancel of any other is IB's own.
    var cancelRequested: Set<String> = []
    var reports: RealBrokerReports
    var reported: Set<String> { reports.keys }
    var reportsThrough: Int64 { reports.through }
    var highestOrderId: Int32 = 0
    var unhandled: [Envelope] = []

    // IB's view, from the current session.
    var session: TWSSession?
    var account = ""
    var nextId: Int32 = 0
    var connected = false
    var refusedAccount: String?
    var ibOpen: [String: (order: TWSOpenOrder, status: TWSOrderStatus?)] = [:]
    var statusById: [Int32: TWSOrderStatus] = [:]
    var ibPositions: [String: (quantity: Int64, average: Price)] = [:]
    var executions: [String: Fill] = [:]
    /// IB's commission of each execution, by execId: a commissionReport follows its execDetails,
    /// other messages possibly in between.
    var commissions: [String: Money] = [:]
    /// Executions whose commission report has not come yet: their fill is reported when it comes,
    /// or after ``commissionWait`` without it (commission 0, logged).
    var awaitingCommission: Set<String> = []
    /// Executions whose fill went out with commission 0 (the wait ran out, or IB charged nothing):
    /// a commission report that comes later is reported on its own, once (`ExecutionEvent.commission`).
    var lateCommission: Set<String> = []
    var netLiquidation = Money(units: 0)
    var cash = Money(units: 0)
    var pendingModify: [Int32: (ClientOrderID, Quantity, String)] = [:]
    var crashing = false
    var lastDownDetail: String?
    var syncGeneration = 0
    /// Account syncs asked of IB since the process started (each is six requests), for the log.
    var syncCount = 0
    /// The API connection's clock (the system clock under a replay's market clock).
    let connectionClock: any WallClock
    /// The nightly restart window, if configured.
    let maintenanceWindow: TWSMaintenanceWindow?
    /// The end of the planned disconnect in progress (the nightly window's end), until connected again.
    var plannedUntil: Timestamp?
    /// How long after the nightly window's end the broker may still be reconnecting and re-syncing
    /// before the planned disconnect becomes a failure (HALTED, P0): a reconnect at the window's
    /// end, then at most a connect, handshake, start and sync timeout of 10 s each.
    static let plannedGrace: Duration = .seconds(60)

    // A sync in flight: the ends still awaited, and who waits.
    var awaitingEnds: Set<String> = []
    var syncWaiters: [CheckedContinuation<Bool, Never>] = []
    var execReqId: Int32 = 9000

    /// An adapter for the account `config` names, trading as `trading` says, journaling into
    /// `journal`: reports go to `deliver`, connection changes to `connectionChanged`, an account
    /// changed behind AST's back (an unrequested cancel of a stop) to `accountChanged`; `echo`, when
    /// given, sees every request written and every message received, as one line each; the API
    /// connection runs on `connectionClock` (default: `clock`).
    public init(
        name: String, config: IBKRConfig, trading: TradingConfig, journal: Journal, clock: any WallClock, logger: Logger,
        deliver: @escaping @Sendable ([ExecutionReport]) throws -> Void,
        connectionChanged: @escaping @Sendable (Bool, String) throws -> Void,
        accountChanged: @escaping @Sendable (String) throws -> Void,
        echo: (@Sendable (String) -> Void)? = nil, connectionClock: (any WallClock)? = nil,
        plannedDisconnect: (@Sendable (String) throws -> Void)? = nil
    ) throws {
        self.name = name
        self.config = config
        self.trading = trading
        self.journal = journal
        self.clock = clock
        self.logger = logger
        self.outlet = IBKROutlet(
            deliver: deliver, connectionChanged: connectionChanged, plannedDisconnect: plannedDisconnect, accountChanged: accountChanged,
            echo: echo)
        self.connectionClock = connectionClock ?? clock
        self.tick = Price(config.minimumTick) ?? Price("0.01")!
        if IBKRCrashFault.point != nil, trading.mode == .live {
            throw IBKRAdapterError(
                "\(IBKRCrashFault.variable) is a fault injection for tests and is refused with trading.mode LIVE; unset it")
        }
        var settings = TWSConnectionSettings(clientId: Int32(clamping: config.clientId))
        if let start = config.restartWindowStartSecond, config.restartWindowDuration > .zero {
            settings.maintenanceWindow = TWSMaintenanceWindow(startSecondOfDay: Int64(start), duration: config.restartWindowDuration)
        }
        maintenanceWindow = settings.maintenanceWindow
        if let ms = ProcessInfo.processInfo.environment["AST_FAULT_IBKR_BACKOFF_MS"].flatMap(Int.init), (1...60_000).contains(ms) {
            settings.backoff = TWSBackoff(initial: .milliseconds(ms), maximum: .milliseconds(ms * 8))  // tests only
        }
        // The socket's timeouts, back-off, pacing and nightly window run on `connectionClock` when
        // given (the system clock under a replay's market clock, which stands still between steps).
        client = TWSClient(host: config.host, port: config.port, settings: settings, clock: connectionClock ?? clock, logger: logger)
        var brackets: [IntentID: (bracket: BracketOrder, parentId: Int32)] = [:]
        var specs: [String: (spec: OrderSpec, orderId: Int32)] = [:]
        var sentRefs: Set<String> = []
        var cancelRequested: Set<String> = []
        var late: Set<String> = []
        var highest: Int32 = 0
        let reports = try RealBrokerReports.restore(
            broker: name, type: IBKRJournal.report, from: journal,
            restored: { rep in
                if case .fill(let f) = rep.event, f.commission.units == 0 { late.insert(f.executionID.rawValue) }
                if case .commission(let e, _, _) = rep.event { late.remove(e.rawValue) }
            }
        ) { r in
            switch r.type {
            case IBKRJournal.input:
                switch try JSONDecoder().decode(IBKRInput.self, from: Data(r.body)) {
                case .bracket(let b, let parentId, _):
                    guard let ids = Self.legIds(parentId: parentId, count: max(3, b.legs.count)), let last = ids.last else {
                        throw IBKRAdapterError(
                            "journaled bracket \(b.intent) under IB order id \(parentId): its legs' ids do not fit "
                                + "a TWS order id; restore refused")
                    }
                    brackets[b.intent] = (b, parentId)
                    for (leg, id) in zip(b.legs, ids) { specs[leg.clientOrderID.rawValue] = (leg, id) }
                    highest = max(highest, last)
                case .cancel(let id, _, _): cancelRequested.insert(id.rawValue)
                case .modify: break
                }
            case IBKRJournal.sent:
                if let s = try? JSONDecoder().decode(IBKRSent.self, from: Data(r.body)), s.what == "place" { sentRefs.insert(s.orderRef) }
            default: break
            }
        }
        self.brackets = brackets
        self.specs = specs
        self.sentRefs = sentRefs
        self.cancelRequested = cancelRequested
        self.reports = reports
        self.lateCommission = late
        self.highestOrderId = highest
        unhandled = try UnhandledMessages.find(in: journal, types: [.orderSubmit, .orderCancel], handledType: IBKRJournal.input)
        logger.notice("ibkr adapter restored", metadata: ["brackets": "\(brackets.count)", "reports": "\(reports.through)"])
    }

    // MARK: - Running

    /// Connects and handles what TWS sends until the task is cancelled.
    public func run() async {
        await client.start()
        for await output in client.outputs {
            if crashing { continue }
            do { try await handle(output) } catch {
                logger.critical("ast-broker@ibkr cannot journal or send: \(error)")
                fatalError("ast-broker: \(error)")
            }
        }
    }

    public func stop() async { await client.stop() }

    public func catchUp() -> [Envelope] {
        defer { unhandled = [] }
        return unhandled
    }

    func handle(_ output: TWSClientOutput) async throws {
        switch output {
        case .message(let m):
            try journalReceived(m)
            try await handle(m)
        case .event(let e):
            switch e {
            case .started(let s): try await started(s)
            case .disconnected(let reason, let reconnectAt):
                finishSync(false)
                // The event that follows a planned disconnect (the reconnect waits for the window's end).
                if let until = plannedUntil, reconnectAt == until, !connected { return }
                plannedUntil = nil
                try setConnected(false, "IB API disconnected: \(reason)")
            case .plannedDisconnect(let until):
                try planned(until: until, "IB API planned disconnect (nightly restart) until \(until)")
            case .error(let m, let outcome): try await handleError(m, outcome)
            case .refused(let request, let why):
                logger.error("request not sent to TWS: \(why) (\(String(describing: request).prefix(120)))")
            }
        }
    }

    func started(_ s: TWSSession) async throws {
        session = s
        // The journal's highest id may be Int32.max: no id is left, and submit refuses.
        let (afterHighest, exhausted) = highestOrderId.addingReportingOverflow(1)
        nextId = exhausted ? Int32.max : max(s.nextValidId, afterHighest)
        let chosen =
            config.account.isEmpty
            ? (s.accounts.count == 1 ? s.accounts[0] : nil) : (s.accounts.contains(config.account) ? config.account : nil)
        guard let chosen else {
            refusedAccount = "TWS manages \(s.accounts.joined(separator: ",")): set ibkr.account to one of them"
            try setConnected(false, refusedAccount!)
            return
        }
        let paper = chosen.hasPrefix("DU")
        switch trading.mode {
        case .live where !trading.liveEnabled:
            refusedAccount = "trading.mode LIVE without trading.live_enabled: broker@ibkr refuses to trade"
        case .live where paper:
            refusedAccount = "trading.mode LIVE on IB paper account \(chosen) (DU...): refused"
        case .paper, .dryRun:
            if !paper {
                refusedAccount =
                    "trading.mode \(trading.mode.rawValue) on live IB account \(chosen): refused (paper accounts start with DU)"
            }
        default: break
        }
        if let why = refusedAccount {
            logger.critical("\(why)")
            try setConnected(false, why)
            await client.stop()
            return
        }
        account = chosen
        // Not awaited here: the answers arrive through the loop that called this.
        Task { await self.syncAndSettle("API session started") }
    }

    /// Syncs with IB, then settles the journaled brackets and says connected.
    func syncAndSettle(_ why: String) async {
        guard await sync(why) else { return }
        do { try await settleBrackets() } catch {
            logger.critical("ast-broker@ibkr cannot journal or send: \(error)")
            fatalError("ast-broker: \(error)")
        }
    }

    /// Asks IB for open orders, positions, executions and account values; true once every end arrived.
    func sync(_ why: String) async -> Bool {
        guard session != nil, refusedAccount == nil else { return false }
        if awaitingEnds.isEmpty {
            syncCount += 1
            logger.info("account sync \(syncCount): \(why)")
            awaitingEnds = ["orders", "positions", "executions", "account"]
            ibOpen = [:]
            ibPositions = [:]
            execReqId = execReqId == Int32.max ? 9000 : execReqId + 1
            syncGeneration += 1
            let generation = syncGeneration
            Task {
                try? await Task.sleep(for: .seconds(10))
                await self.syncTimedOut(generation)
            }
            for r: TWSRequest in [
                .reqAllOpenOrders, .reqPositions, .reqExecutions(reqId: execReqId, filter: TWSExecutionFilter()),
                .reqAccountSummary(reqId: 1, group: "All", tags: "NetLiquidation,TotalCashValue"),
            ] {
                await send(r)
            }
        }
        return await withCheckedContinuation { syncWaiters.append($0) }
    }

    func ended(_ what: String) async throws {
        guard awaitingEnds.remove(what) != nil, awaitingEnds.isEmpty else { return }
        await send(.cancelPositions)
        await send(.cancelAccountSummary(reqId: 1))
        finishSync(true)
    }

    func syncTimedOut(_ generation: Int) {
        guard generation == syncGeneration, !awaitingEnds.isEmpty else { return }
        logger.error("TWS did not answer the account requests in 10 s (still waiting for \(awaitingEnds.sorted()))")
        finishSync(false)
    }

    func finishSync(_ ok: Bool) {
        if !ok { awaitingEnds = [] }
        let waiters = syncWaiters
        syncWaiters = []
        for w in waiters { w.resume(returning: ok) }
    }

    /// Settles every journaled bracket against IB's open orders and executions, reports what IB did
    /// while no one listened, then says connected (the reconciler reconciles on it).
    func settleBrackets() async throws {
        let known = Set(ibOpen.keys).union(executions.values.map { $0.clientOrderID.rawValue })
        for intent in brackets.keys.sorted() {
            guard let (bracket, parentId) = brackets[intent] else { continue }
            let refs = bracket.legs.map(\.clientOrderID.rawValue)
            let atIB = refs.filter { known.contains($0) }
            let finals = refs.filter { reported.contains("final:\($0)") }
            if atIB.isEmpty && finals.count < refs.count {
                if let last = refs.last, !sentRefs.contains(last) {
                    logger.notice("bracket \(intent) was not transmitted before the last exit: placing it again under the same ids")
                    try await place(bracket, parentId: parentId)
                } else if finals.isEmpty {
                    for id in bracket.legs.map(\.clientOrderID) {
                        try report(.unacknowledged(id, detail: "IB knows no order with orderRef \(id) after a restart"))
                    }
                }
            }
            for ref in atIB {
                guard let o = ibOpen[ref], let st = o.status ?? statusById[o.order.orderId] else { continue }
                try statusReports(ref: ref, st)
            }
        }
        for fill in executions.values.sorted(by: { $0.executionID < $1.executionID })
        where !awaitingCommission.contains(fill.executionID.rawValue) {
            try report(.fill(fill))
        }
        try setConnected(
            true,
            "IB API session started (server version \(session.map { "\($0.serverVersion)" } ?? "-"), account \(account)); account state synced"
        )
        // IB's state was just read: the resize plans on it without asking again (it asked again
        // before, a second sync milliseconds after the first at every API start).
        Task { await self.resizeProtection("brackets settled after a sync", synced: true) }
    }

    /// Reports a connection change once (a disconnect again only with another detail); a planned
    /// one goes to ``IBKROutlet/plannedDisconnect`` (no halt, no P0 at the risk gate).
    func setConnected(_ up: Bool, _ detail: String, planned: Bool = false) throws {
        if up == connected && (up || detail == lastDownDetail) { return }
        connected = up
        lastDownDetail = up ? nil : detail
        if up { plannedUntil = nil }
        if !up, planned, let plannedDisconnect = outlet.plannedDisconnect {
            try plannedDisconnect(detail)
            logger.notice("broker@ibkr planned disconnect: \(detail)")
            return
        }
        try outlet.connectionChanged(up, detail)
        if up { logger.notice("\(detail)") } else { logger.critical("broker@ibkr disconnected: \(detail)") }
    }

    /// A disconnect inside the nightly window: planned until `until`. If the broker is not
    /// connected again ``plannedGrace`` after it, the disconnect is reported as a failure.
    func planned(until: Timestamp, _ detail: String) throws {
        let first = plannedUntil != until
        plannedUntil = until
        try setConnected(false, detail, planned: true)
        guard first else { return }
        let wait = until.duration(since: connectionClock.now()) + Self.plannedGrace
        Task {
            try? await Task.sleep(for: max(wait, .zero))
            await self.plannedOverdue(until)
        }
    }

    /// The nightly window ended a grace period ago and the broker is still not connected: a failure.
    func plannedOverdue(_ until: Timestamp) {
        guard plannedUntil == until, !connected else { return }
        plannedUntil = nil
        do {
            try setConnected(
                false, "IB API still not connected \(Self.plannedGrace) after the nightly restart window ended at \(until)")
        } catch {
            logger.critical("ast-broker@ibkr cannot journal or send: \(error)")
            fatalError("ast-broker: \(error)")
        }
    }

    func handleError(_ m: TWSErrorMessage, _ outcome: TWSErrorOutcome) async throws {
        switch outcome {
        case .connectivityLost:
            let detail = "TWS lost its connection to IB (\(m.code)): \(m.message.prefix(120))"
            // IB's nightly server reset inside the configured window cuts TWS off (1100, then 1101/1102): planned.
            if let end = maintenanceWindow?.end(containing: connectionClock.now()) {
                try planned(until: end, detail + " inside the nightly restart window")
            } else {
                try setConnected(false, detail)
            }
        case .connectivityRestored(let dataLost):
            logger.notice("TWS connection to IB restored (\(m.code)\(dataLost ? ", market data lost" : "")): reconciling before resuming")
            Task { await self.syncAndSettle("TWS connection to IB restored (\(m.code))") }
        case .orderRejected(let id, let code):
            if let ref = ref(for: id), let cid = ClientOrderID(validating: ref) {
                try report(.rejected(cid, reason: "IB \(code): \(m.message.prefix(160))"))
            }
        case .orderCancelled(let id):
            if let ref = ref(for: id), let cid = ClientOrderID(validating: ref) {
                try cancelledAtIB(cid, reason: "IB 202: \(m.message.prefix(160))")
            }
        case .clientIdInUse:
            try setConnected(false, "IB API client id \(config.clientId) is in use (326): set ibkr.client_id to a free one")
        default: break
        }
    }

    func ref(for orderId: Int32) -> String? {
        specs.first(where: { $0.value.orderId == orderId })?.key
    }

    func handle(_ m: TWSMessage) async throws {
        switch m {
        case .openOrder(let o):
            guard specs[o.orderRef] != nil else { return }  // not ours
            ibOpen[o.orderRef] = (o, statusById[o.orderId])
            if let (id, q, reason) = pendingModify[o.orderId], o.totalQuantity?.wholeNumber == q.shares {
                pendingModify[o.orderId] = nil
                try report(.modified(id, quantity: q, reason: reason))
            }
        case .orderStatus(let st):
            statusById[st.orderId] = st
            guard let ref = ref(for: st.orderId) else { return }
            if let o = ibOpen[ref] { ibOpen[ref] = (o.order, st) }
            try statusReports(ref: ref, st)
            if st.status == "Cancelled", specs[ref]?.spec.leg == .entry, (st.filled?.wholeNumber ?? 0) > 0 {
                Task { await self.resizeProtection("entry \(ref) cancelled with fills") }
            }
        case .execution(let e):
            guard executions[e.execId] == nil, var fill = fill(e) else { return }
            if let commission = commissions[e.execId] {
                fill.commission = commission
                executions[e.execId] = fill
                try report(.fill(fill))
            } else {
                executions[e.execId] = fill
                awaitingCommission.insert(e.execId)
                let execId = e.execId
                Task {
                    try? await Task.sleep(for: Self.commissionWait)
                    self.commissionOverdue(execId)
                }
            }
            Task { await self.resizeProtection("execution \(e.execId.prefix(40))") }
        case .commissionReport(let c):
            guard let commission = Self.commission(c) else {
                logger.error(
                    "commission report for \(c.execId.prefix(64)) not taken: \(c.commission.map { "\($0)" } ?? "-") \(c.currency.prefix(8))"
                )
                return
            }
            commissions[c.execId] = commission
            let waited = awaitingCommission.remove(c.execId) != nil
            guard var fill = executions[c.execId] else { return }
            if lateCommission.remove(c.execId) != nil {
                // Its fill went out without it: the commission follows on its own, once (its key).
                // The execution keeps the commission it was reported with, so that a reconciliation
                // that books it from the account state does not charge this twice.
                if commission.units > 0 {
                    try report(.commission(fill.executionID, fill.clientOrderID, amount: commission))
                }
                return
            }
            fill.commission = commission
            executions[c.execId] = fill
            if waited { try report(.fill(fill)) }
        case .position(let p):
            guard p.contract.secType == "STK", let q = p.position?.wholeNumber else { return }
            let avg = p.averageCost.flatMap { $0.fixedPointUnits }.map { Price(units: $0) } ?? Price(units: 0)
            if q == 0 { ibPositions[p.contract.symbol] = nil } else { ibPositions[p.contract.symbol] = (q, avg) }
        case .accountSummary(let v):
            if let units = TWSNumber(v.value)?.fixedPointUnits {
                if v.tag == "NetLiquidation" { netLiquidation = Money(units: units) }
                if v.tag == "TotalCashValue" { cash = Money(units: units) }
            }
        case .error(let e) where TWSErrorOutcome(e) == .connectivityLost:
            // At once, from the decoded message: the error event that follows repeats it (reported once).
            try await handleError(e, .connectivityLost)
        case .openOrderEnd: try await ended("orders")
        case .positionEnd: try await ended("positions")
        case .executionEnd: try await ended("executions")
        case .accountSummaryEnd: try await ended("account")
        default: break
        }
    }

    /// The TWS order ids of a bracket placed under `parentId` (`parentId`, `+1`, `+2`, ...), or nil when
    /// `parentId` is not positive or an id does not fit an Int32: a journaled id is checked, never trusted.
    static func legIds(parentId: Int32, count: Int) -> [Int32]? {
        guard parentId > 0, count >= 0, count <= 16 else { return nil }
        var ids: [Int32] = []
        for i in 0..<count {
            let (id, overflow) = parentId.addingReportingOverflow(Int32(i))
            guard !overflow else { return nil }
            ids.append(id)
        }
        return ids
    }

    /// How long a fill waits for its commission report before it is reported without one.
    static let commissionWait: Duration = .seconds(5)

    /// IB's commission in dollars, checked: USD, not IB's unset sentinel, not negative, under $1,000,000.
    public static func commission(_ c: TWSCommissionReport) -> Money? {
        guard c.currency == "USD" || c.currency.isEmpty, let n = c.commission, !n.isUnsetSentinel, let units = n.fixedPointUnits,
            units >= 0, units < 1_000_000 * Price.unitsPerDollar
        else { return nil }
        return Money(units: units)
    }

    /// A fill whose commission report did not come in time: reported with commission 0.
    func commissionOverdue(_ execId: String) {
        guard awaitingCommission.remove(execId) != nil, let fill = executions[execId] else { return }
        logger.error(
            "no commission report for execution \(execId) within \(Self.commissionWait): fill reported with commission 0, its commission follows"
        )
        lateCommission.insert(execId)
        do { try report(.fill(fill)) } catch {
            logger.critical("ast-broker@ibkr cannot journal or send: \(error)")
            fatalError("ast-broker: \(error)")
        }
    }

    func fill(_ e: TWSExecution) -> Fill? {
        guard let (spec, _) = specs[e.orderRef], let shares = e.shares?.wholeNumber, shares > 0, let units = e.price?.fixedPointUnits,
            units > 0
        else { return nil }
        return Fill(
            executionID: ExecutionID(e.execId), clientOrderID: spec.clientOrderID, symbol: spec.symbol, side: spec.side,
            quantity: Quantity(shares), price: Price(units: units), commission: Money(units: 0), at: clock.now())
    }

    /// The acknowledgement and the final state an orderStatus says.
    func statusReports(ref: String, _ st: TWSOrderStatus) throws {
        guard let id = ClientOrderID(validating: ref) else { return }
        switch st.status {
        case "PreSubmitted", "Submitted", "Filled":
            try report(.acknowledged(id, brokerOrderID: String(st.permId)))
            try report(.accepted(id))
        case "Cancelled", "ApiCancelled":
            try report(.acknowledged(id, brokerOrderID: String(st.permId)))
            try cancelledAtIB(id, reason: "IB reports the order cancelled")
        case "Inactive":
            try report(.rejected(id, reason: "IB reports the order inactive"))
        default: break
        }
    }

    /// Reports a cancel IB says happened. One AST did not ask for, of a protective leg (a stop TWS
    /// cancelled at the session's end, an operator's cancel in TWS), may leave a position without
    /// its stop: the reconciler reconciles at once against IB's positions and orders, and an
    /// unprotected position it finds is a P0 and HALTED (a sibling's fill that cancelled it as OCA
    /// leaves no position, and the reconciliation is clean).
    func cancelledAtIB(_ id: ClientOrderID, reason: String) throws {
        let spec = specs[id.rawValue]?.spec
        let asked = cancelRequested.contains(id.rawValue)
        // A child of an entry that ended (cancelled by AST or IB, a DAY entry at the close) with nothing
        // filled: IB cancels the children with it, and there is no position to protect.
        let orphaned =
            spec?.parent.map { p in
                !executions.values.contains { $0.clientOrderID == p }
                    && (cancelRequested.contains(p.rawValue) || reported.contains("final:\(p.rawValue)"))
            } == true
        let why = asked ? reason : orphaned ? "\(reason) (its entry ended unfilled)" : "\(reason); AST did not ask for this cancel"
        let expected = asked || orphaned
        guard try report(.cancelled(id, reason: why)) != nil, !expected, let spec, spec.leg == .stopLoss else { return }
        logger.critical("IB cancelled the protective \(id) (\(spec.side) \(spec.quantity) \(spec.symbol)) without AST asking")
        // Not yet connected (a session's first sync): the connected report that ends it reconciles.
        guard connected else { return }
        try outlet.accountChanged("IB cancelled the protective stop \(id) (\(spec.symbol)) without AST asking")
    }

    /// Journals (durably) and delivers one report, once per key.
    @discardableResult
    func report(_ event: ExecutionEvent) throws -> ExecutionReport? {
        guard let rep = try reports.report(event, at: clock.now(), journal: journal, deliver: outlet.deliver) else { return nil }
        logger.info("report \(rep.id): \(event.summary)")
        return rep
    }

    /// Writes one request to TWS (echoed first when asked).
    func send(_ request: TWSRequest) async {
        outlet.echo?("→ \(request)")
        await client.send(request)
    }

    func journalReceived(_ m: TWSMessage) throws {
        outlet.echo?("← \(m)")
        try journal.append(
            JournalRecord(
                kind: .received, type: IBKRJournal.received, timestamp: clock.now(), body: Array(String(describing: m).prefix(4000).utf8)),
            durability: .batched)
    }

    func journalSent(orderId: Int32, ref: String, what: String) throws {
        try journal.append(
            JournalRecord(
                kind: .sent, type: IBKRJournal.sent, timestamp: clock.now(), correlationID: ref,
                body: Array(try JSONEncoder.sorted.encode(IBKRSent(orderId: orderId, orderRef: ref, what: what)))), durability: .durable)
    }

    // MARK: - BrokerAdapter

    func rounded(_ p: Price?) -> Price? { p.map { Self.round($0, tick: tick) } }

    /// `p` to the nearest multiple of `tick` (half up), so IB never refuses it with 110.
    public static func round(_ p: Price, tick: Price) -> Price {
        guard tick.units > 0, p.units >= 0 else { return p }
        let (q, r) = p.units.quotientAndRemainder(dividingBy: tick.units)
        let (units, overflow) = (r * 2 >= tick.units ? q + 1 : q).multipliedReportingOverflow(by: tick.units)
        return overflow ? p : Price(units: units)
    }

    public func submit(_ bracket: BracketOrder, messageID: String?) async throws -> [ExecutionReport] {
        if brackets[bracket.intent] != nil { return [] }  // known: nothing new
        var b = bracket
        b.entry.limitPrice = rounded(b.entry.limitPrice)
        let stop = rounded(b.stopLoss?.stopPrice)
        let target = rounded(b.takeProfit?.limitPrice)
        b.stopLoss?.stopPrice = stop
        b.takeProfit?.limitPrice = target
        var out: [ExecutionReport] = []
        let refusal: String? =
            if !connected || session == nil {
                "broker@ibkr is not connected to IB\(refusedAccount.map { " (\($0))" } ?? "")"
            } else if b.stopLoss == nil || b.takeProfit == nil || b.entry.type != .limit || b.entry.limitPrice == nil
                || b.stopLoss?.stopPrice == nil || b.takeProfit?.limitPrice == nil
            { "broker@ibkr places limit-entry brackets with a stop and a target only" } else { nil }
        if let refusal {
            for leg in b.legs {
                if let r = try report(.submitting(leg)) { out.append(r) }
                if let r = try report(.rejected(leg.clientOrderID, reason: refusal)) { out.append(r) }
            }
            return out
        }
        guard nextId > 0, nextId <= Int32.max - 3 else { throw IBKRAdapterError("IB order ids exhausted") }
        let parentId = nextId
        nextId += 3
        highestOrderId = parentId + 2
        try journal.append(
            JournalRecord(
                kind: .received, type: IBKRJournal.input, timestamp: clock.now(), messageID: messageID, correlationID: b.intent.rawValue,
                body: Array(try JSONEncoder.sorted.encode(IBKRInput.bracket(b, parentId: parentId, account: account)))),
            durability: .durable)
        brackets[b.intent] = (b, parentId)
        for (i, leg) in b.legs.enumerated() { specs[leg.clientOrderID.rawValue] = (leg, parentId + Int32(i)) }
        for leg in b.legs { if let r = try report(.submitting(leg)) { out.append(r) } }
        try await place(b, parentId: parentId)
        return out
    }

    /// Sends the bracket's three placeOrders under `parentId`...: each journaled before it is written.
    func place(_ b: BracketOrder, parentId: Int32, quantities: [String: Quantity] = [:]) async throws {
        guard let entry = b.entry.limitPrice, let stop = b.stopLoss?.stopPrice, let target = b.takeProfit?.limitPrice else { return }
        let placements: [TWSPlacement]
        do {
            placements = try TWSBracket.placements(
                parentId: parentId, side: b.entry.side, quantity: b.entry.quantity, entry: entry, stop: stop, target: target,
                clientOrderId: b.intent.rawValue, account: account, timeInForce: b.entry.timeInForce == .day ? .day : .goodTillCancelled,
                protectiveTimeInForce: b.stopLoss?.timeInForce == .day ? .day : .goodTillCancelled)
        } catch {
            for leg in b.legs { try report(.rejected(leg.clientOrderID, reason: "not sent to IB: \(error)")) }
            return
        }
        let contract = TWSContract(symbol: b.entry.symbol.rawValue, exchange: config.exchange)
        for (i, p) in placements.enumerated() {
            try journalSent(orderId: p.orderId, ref: p.order.orderRef, what: "place")
            sentRefs.insert(p.order.orderRef)
            await send(.placeOrder(orderId: p.orderId, contract: contract, order: p.order))
            if i == 0 { await crashPoint("after-parent") }
        }
        await crashPoint("after-transmit")
    }

    func crashPoint(_ name: String) async {
        guard let points = IBKRCrashFault.point, points.split(separator: ",").contains(Substring(name)) else { return }
        let flag = journal.path + ".fault-\(name)"
        guard !FileManager.default.fileExists(atPath: flag) else { return }
        _ = FileManager.default.createFile(atPath: flag, contents: Data(name.utf8))
        crashing = true
        logger.critical("FAULT INJECTION: SIGKILL \(name)")
        try? await Task.sleep(for: .milliseconds(300))  // the bytes leave; what comes back is not handled
        kill(getpid(), SIGKILL)
    }

    public func cancel(_ id: ClientOrderID, reason: String, messageID: String?) async throws -> CancelAnswer {
        guard let (_, orderId) = specs[id.rawValue] else {
            return CancelAnswer(accepted: false, message: "cancel of \(id) refused: broker@ibkr placed no such order", reports: [])
        }
        guard connected else {
            return CancelAnswer(accepted: false, message: "cancel of \(id) refused: broker@ibkr is not connected to IB", reports: [])
        }
        if reported.contains("final:\(id)") {
            return CancelAnswer(accepted: false, message: "cancel of \(id) refused: the order is already final", reports: [])
        }
        try journal.append(
            JournalRecord(
                kind: .received, type: IBKRJournal.input, timestamp: clock.now(), messageID: messageID, correlationID: id.rawValue,
                body: Array(try JSONEncoder.sorted.encode(IBKRInput.cancel(id, orderId: orderId, reason: reason)))), durability: .durable)
        cancelRequested.insert(id.rawValue)
        try journalSent(orderId: orderId, ref: id.rawValue, what: "cancel")
        await send(.cancelOrder(orderId: orderId, manualOrderCancelTime: ""))
        return CancelAnswer(accepted: true, message: "cancel of \(id) sent to IB (order \(orderId))", reports: [])
    }

    public func modify(_ id: ClientOrderID, quantity: Quantity, reason: String, messageID: String?) async throws -> CancelAnswer {
        guard let (spec, orderId) = specs[id.rawValue], let (b, parentId) = brackets[spec.intent], connected, quantity > .zero,
            quantity < spec.quantity || (ibOpen[id.rawValue]?.order.totalQuantity?.wholeNumber).map({ quantity.shares < $0 }) == true
        else { return CancelAnswer(accepted: false, message: "modify of \(id) refused", reports: []) }
        let placements = try TWSBracket.placements(
            parentId: parentId, side: b.entry.side, quantity: b.entry.quantity, entry: b.entry.limitPrice!, stop: b.stopLoss!.stopPrice!,
            target: b.takeProfit!.limitPrice!, clientOrderId: b.intent.rawValue, account: account,
            timeInForce: b.entry.timeInForce == .day ? .day : .goodTillCancelled,
            protectiveTimeInForce: b.stopLoss?.timeInForce == .day ? .day : .goodTillCancelled)
        guard var p = placements.first(where: { $0.orderId == orderId })?.order else {
            return CancelAnswer(accepted: false, message: "modify of \(id) refused: no such leg", reports: [])
        }
        p.quantity = quantity
        p.transmit = true
        try journal.append(
            JournalRecord(
                kind: .received, type: IBKRJournal.input, timestamp: clock.now(), messageID: messageID, correlationID: id.rawValue,
                body: Array(try JSONEncoder.sorted.encode(IBKRInput.modify(id, orderId: orderId, quantity: quantity, reason: reason)))),
            durability: .durable)
        try journalSent(orderId: orderId, ref: id.rawValue, what: "modify")
        pendingModify[orderId] = (id, quantity, reason)
        await send(
            .placeOrder(orderId: orderId, contract: TWSContract(symbol: spec.symbol.rawValue, exchange: config.exchange), order: p))
        return CancelAnswer(accepted: true, message: "resize of \(id) to \(quantity) sent to IB", reports: [])
    }

    /// Brings the protective legs within the position IB reports (a partially filled entry whose
    /// remainder was cancelled leaves its children at the entry's full quantity until this runs).
    func resizeProtection(_ why: String, synced: Bool = false) async {
        guard connected else { return }
        if !synced { guard await sync("protective resize after \(why)") else { return } }
        let state = currentState(executionsSince: Timestamp(nanoseconds: 0))
        for adjustment in ProtectiveResize.plan(positions: state.positions, openOrders: state.openOrders) {
            do {
                switch adjustment {
                case .modify(let id, let q, let reason):
                    let a = try await modify(id, quantity: q, reason: reason, messageID: nil)
                    logger.notice("protective leg: \(a.message) (\(reason))")
                case .cancel(let id, let reason):
                    let a = try await cancel(id, reason: reason, messageID: nil)
                    logger.notice("protective leg: \(a.message) (\(reason))")
                }
            } catch {
                logger.critical("ast-broker@ibkr cannot journal a protective resize: \(error)")
                fatalError("ast-broker: \(error)")
            }
        }
    }

    public func accountState(executionsSince: Timestamp) async throws -> BrokerAccountState {
        if connected { _ = await sync("account state asked for (executions since \(executionsSince))") }
        return currentState(executionsSince: executionsSince)
    }

    func currentState(executionsSince: Timestamp) -> BrokerAccountState {
        var orders: [BrokerOrder] = []
        for (ref, o) in ibOpen {
            guard let (spec, _) = specs[ref], let st = o.status ?? statusById[o.order.orderId] else { continue }
            let status: BrokerOrderStatus
            switch st.status {
            case "PreSubmitted", "PendingSubmit", "ApiPending": status = .held
            case "Submitted": status = (st.filled?.wholeNumber ?? 0) > 0 ? .partiallyFilled : .working
            default: continue
            }
            let total = o.order.totalQuantity?.wholeNumber ?? spec.quantity.shares
            var s = spec
            s.quantity = Quantity(total)
            orders.append(
                BrokerOrder(
                    spec: s, brokerOrderID: String(o.order.permId), status: status, filledQuantity: Quantity(st.filled?.wholeNumber ?? 0),
                    workingQuantity: Quantity(total),
                    averageFillPrice: st.averageFillPrice?.fixedPointUnits.flatMap { $0 > 0 ? Price(units: $0) : nil }))
        }
        let positions = ibPositions.compactMap { symbol, p in
            Symbol(validating: symbol).map { BrokerPosition(symbol: $0, quantity: Quantity(p.quantity), averagePrice: p.average) }
        }
        var state = BrokerAccountState(
            broker: name, asOf: clock.now(), connected: connected, account: AccountValues(cash: cash, equity: netLiquidation),
            positions: positions.sorted { $0.symbol < $1.symbol },
            openOrders: orders.sorted { $0.spec.clientOrderID < $1.spec.clientOrderID },
            executions: executions.values.filter { $0.at >= executionsSince }.sorted { $0.executionID < $1.executionID })
        state.reportsThrough = reportsThrough
        return state
    }

    public func isConnected() -> Bool { connected }
}

extension ExecutionEvent {
    /// One line for the log (every broker process and `ast ibkr test-order` print reports this way).
    public var summary: String {
        switch self {
        case .submitting(let s): "submitting \(s.clientOrderID) \(s.side) \(s.quantity) \(s.symbol) \(s.type.rawValue)"
        case .acknowledged(let id, let b): "acknowledged \(id) as \(b)"
        case .accepted(let id): "accepted \(id)"
        case .unacknowledged(let id, let d): "UNACKNOWLEDGED \(id): \(d)"
        case .fill(let f): "fill \(f.executionID) \(f.clientOrderID) \(f.side) \(f.quantity) \(f.symbol) @ \(f.price)"
        case .cancelled(let id, let r): "cancelled \(id): \(r)"
        case .rejected(let id, let r): "rejected \(id): \(r)"
        case .expired(let id): "expired \(id)"
        case .modified(let id, let q, let r): "resized \(id) to \(q): \(r)"
        case .commission(let e, let id, let amount): "commission \(amount) of \(e) (\(id)), reported after its fill"
        }
    }
}
