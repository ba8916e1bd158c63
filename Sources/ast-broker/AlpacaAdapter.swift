import ASTAlpaca
import ASTAlpacaClient
import ASTBus
import ASTCore
import ASTExecution
import ASTJournal
import ASTProcessKit
import ASTRuntime
import ASTTelegram
import ASTWire
import Foundation
import Logging

/// The journal entry types of `broker@alpaca`: those of every real broker (the input is a bracket or
/// a cancel, a message received is one trade update) and the brackets placed.
enum AlpacaJournal {
    static let common = RealBrokerJournalTypes(prefix: "alpaca")
    static let input = common.input
    /// A bracket found at Alpaca (created or adopted by its client order id) with its order ids, durable.
    static let placed = "alpaca.placed"
    static let received = common.received
    static let report = common.report
}

/// What `broker@alpaca` journals as handled, write-ahead.
enum AlpacaInput: Codable, Sendable, Equatable {
    /// A bracket about to be sent, under `client_order_id` = its entry's client order id.
    case bracket(BracketOrder)
    case cancel(ClientOrderID, orderID: String, reason: String)
    /// A replace (`PATCH`) of the order `orderID`, AST's leg `ClientOrderID`.
    case replace(ClientOrderID, orderID: String, AlpacaReplace, reason: String)
}

/// A bracket at Alpaca: the entry's order id and its legs' (learnt from the nested order).
struct AlpacaPlaced: Codable, Sendable, Equatable {
    var intent: IntentID
    var entry: String
    var stopLoss: String?
    var takeProfit: String?
}

/// The Alpaca adapter: brackets sent to Alpaca's Trading API with `client_order_id` = AST's entry
/// client order id, each journaled before it is sent, so that after any crash the order is found
/// by that id before anything is sent again (and a re-send Alpaca refuses as a duplicate is
/// settled by the same lookup); the `trade_updates` stream turned into execution reports, each
/// journaled before it leaves.
///
/// Connected (the risk gate trades) only while the stream listens *and* the gap since the last
/// report was closed over REST: every start of the stream (the first, and each reconnect) lists
/// the FILL activities since the last fill journaled and reads every bracket not yet final,
/// reporting what happened while no one listened; every bracket whose placement outcome is unknown
/// is settled by lookup first. A stream that goes down, a dead one (no answer to a keep-alive ping),
/// or an unknown placement outcome: disconnected (the risk gate halts) until that is done.
actor AlpacaAdapter: BrokerAdapter {
    nonisolated let name: String
    let trading: TradingConfig
    let journal: Journal
    let clock: any WallClock
    let logger: Logger
    let deliver: @Sendable ([ExecutionReport]) throws -> Void
    let connectionChanged: @Sendable (Bool, String) throws -> Void
    let client: AlpacaClient?
    let stream: AlpacaStreamClient?
    /// Why the adapter cannot trade at all (setup refused); nil when it can.
    let refusal: String?

    // Rebuilt from the journal.
    var brackets: [IntentID: BracketOrder] = [:]
    var placed: [IntentID: AlpacaPlaced] = [:]
    var legByOrderID: [String: OrderSpec] = [:]
    var reports: RealBrokerReports
    var fills: [Fill] = []
    var ledger = AlpacaFillLedger()
    var lastFillAt: Timestamp?
    var unhandled: [Envelope] = []

    // This process's view.
    var streamUp = false
    var connected = false
    var lastDownDetail: String?
    var syncing = false
    var account: AlpacaAccount?
    var positions: [AlpacaPosition] = []
    /// Quantity replaces Alpaca took whose old order is not yet seen `replaced`, by the old order's
    /// id: reported `modified` once it is (lost with the process: the next reconciliation sees the size).
    var pendingResize: [String: (id: ClientOrderID, quantity: Quantity, reason: String)] = [:]

    init(
        name: String, config: AlpacaConfig, trading: TradingConfig, secrets: SecretStore, journal: Journal, clock: any WallClock,
        logger: Logger, deliver: @escaping @Sendable ([ExecutionReport]) throws -> Void,
        connectionChanged: @escaping @Sendable (Bool, String) throws -> Void
    ) throws {
        self.name = name
        self.trading = trading
        self.journal = journal
        self.clock = clock
        self.deliver = deliver
        self.connectionChanged = connectionChanged
        let settings = AlpacaSettings(
            baseURL: config.baseURL, environment: trading.mode == .live ? .live : .paper,
            caFile: config.caFile.isEmpty ? nil : config.caFile,
            requestTimeout: .milliseconds(config.requestTimeoutMS))
        let streamSettings = AlpacaStreamSettings(
            initialBackoff: .milliseconds(config.backoffInitialMS), maximumBackoff: .milliseconds(config.backoffMaxMS),
            pingAfter: .milliseconds(config.streamPingMS), deadAfter: .milliseconds(config.streamDeadMS))
        var client: AlpacaClient?
        var stream: AlpacaStreamClient?
        var refusal: String?
        var redacted = logger
        do {
            let credentials = try AlpacaCredentials.from(secrets)
            // Whatever an error or a log line carries, the key id and the secret never reach the log.
            redacted = RedactingLogHandler.logger(logger, redactor: SecretRedactor([credentials.keyID, credentials.secretKey]))
            let liveAllowed = trading.mode == .live && trading.liveEnabled
            // The client's rate limiter, request timeouts and the stream's keep-alive talk to Alpaca's
            // own time (its rate-limit reset is in Unix seconds): always the wall clock, never the
            // replay clock, whose market time may stand still while the broker is down.
            let wall = SystemClock()
            do {
                client = try AlpacaClient(settings: settings, credentials: credentials, clock: wall, liveAllowed: liveAllowed)
                stream = try AlpacaStreamClient(
                    settings: settings, credentials: credentials, clock: wall, liveAllowed: liveAllowed, streamSettings: streamSettings)
            } catch {
                refusal = "broker@alpaca refuses to trade: \(error.description)"
            }
        } catch {
            refusal = "broker@alpaca has no Alpaca credentials (alpaca_key_id, alpaca_secret_key): \(error)"
        }
        self.logger = redacted
        self.client = client
        self.stream = stream
        self.refusal = refusal

        var brackets: [IntentID: BracketOrder] = [:]
        var placed: [IntentID: AlpacaPlaced] = [:]
        var fills: [Fill] = []
        let reports = try RealBrokerReports.restore(
            broker: name, type: AlpacaJournal.report, from: journal,
            restored: { rep in
                if case .fill(let f) = rep.event { fills.append(f) }
            }
        ) { r in
            switch r.type {
            case AlpacaJournal.input:
                if case .bracket(let b) = try JSONDecoder().decode(AlpacaInput.self, from: Data(r.body)) { brackets[b.intent] = b }
            case AlpacaJournal.placed:
                let p = try JSONDecoder().decode(AlpacaPlaced.self, from: Data(r.body))
                placed[p.intent] = p
            default: break
            }
        }
        self.brackets = brackets
        self.placed = placed
        self.reports = reports
        self.fills = fills
        for f in fills {
            // Execution ids are `<Alpaca order id>:<filled total>` (``AlpacaExecution/executionID``).
            let parts = f.executionID.rawValue.split(separator: ":")
            if parts.count == 2, let total = Int64(parts[1]) { ledger.restore(orderID: String(parts[0]), filled: Quantity(total)) }
            lastFillAt = max(lastFillAt ?? f.at, f.at)
        }
        var legs: [String: OrderSpec] = [:]
        for p in placed.values {
            guard let b = brackets[p.intent] else { continue }
            legs[p.entry] = b.entry
            if let id = p.stopLoss, let leg = b.stopLoss { legs[id] = leg }
            if let id = p.takeProfit, let leg = b.takeProfit { legs[id] = leg }
        }
        self.legByOrderID = legs
        unhandled = try UnhandledMessages.find(in: journal, types: [.orderSubmit, .orderCancel], handledType: AlpacaJournal.input)
        self.logger.notice(
            "alpaca adapter restored",
            metadata: [
                "brackets": "\(brackets.count)", "placed": "\(placed.count)", "reports": "\(reports.through)",
                "base_url": "\(config.baseURL)",
            ])
    }

    /// The brackets journaled whose placement is not settled: no order ids journaled and not every leg final.
    var unresolved: [IntentID] {
        brackets.keys.filter { intent in
            guard placed[intent] == nil, let b = brackets[intent] else { return false }
            return !b.legs.allSatisfy { reports.contains("final:\($0.clientOrderID)") }
        }.sorted()
    }

    func learn(_ p: AlpacaPlaced) {
        guard let b = brackets[p.intent] else { return }
        legByOrderID[p.entry] = b.entry
        if let id = p.stopLoss, let leg = b.stopLoss { legByOrderID[id] = leg }
        if let id = p.takeProfit, let leg = b.takeProfit { legByOrderID[id] = leg }
    }

    // MARK: - Running

    /// Runs the stream (and the REST catch-up it triggers) until the task is cancelled.
    func run() async {
        if let refusal {
            logger.critical("\(refusal)")
            try? setConnected(false, refusal)
            return
        }
        guard let stream else { return }
        await withDiscardingTaskGroup { group in
            group.addTask { await stream.run { event in await self.streamEvent(event) } }
            group.addTask { await self.retryLoop() }
        }
    }

    func stop() async { await client?.shutdown() }

    func catchUp() -> [Envelope] {
        defer { unhandled = [] }
        return unhandled
    }

    /// While the stream is up but the gap is not closed (a REST call failed, a placement outcome
    /// is unknown), tries again every 2 s.
    func retryLoop() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(2))
            if streamUp && !connected && !syncing { await sync() }
        }
    }

    func streamEvent(_ event: AlpacaStreamEvent) async {
        do {
            switch event {
            case .up:
                streamUp = true
                logger.notice("Alpaca trade_updates stream listening: closing the gap over REST")
                await sync()
            case .down(let reason):
                streamUp = false
                try setConnected(false, "Alpaca trade_updates stream down: \(reason)")
            case .update(let u):
                try journal.append(
                    JournalRecord(
                        kind: .received, type: AlpacaJournal.received, timestamp: clock.now(), correlationID: u.order.clientOrderID,
                        body: Array(
                            "\(u.event.name) \(u.order.id) \(u.order.clientOrderID) \(u.order.status.name) filled \(u.order.filledQuantity)"
                                .utf8)),
                    durability: .batched)
                try await apply(u)
            }
        } catch {
            logger.critical("ast-broker@alpaca cannot journal or send: \(error)")
            fatalError("ast-broker: \(error)")
        }
    }

    /// Closes the gap: settles unknown placements, applies the FILL activities since the last
    /// fill journaled and every open bracket's state, reads the account; then says connected.
    func sync() async {
        guard let client, !syncing else { return }
        syncing = true
        defer { syncing = false }
        do {
            for intent in unresolved {
                guard let b = brackets[intent] else { continue }
                logger.notice("bracket \(intent) was journaled but its placement is not known: looking \(b.entry.clientOrderID) up first")
                try await handle(await client.place(b, lookUpFirst: true), b)
            }
            if let pending = unresolved.first {
                try setConnected(false, "the placement of bracket \(pending) at Alpaca is not known yet")
                return
            }
            let since = lastFillAt.map { $0.advanced(by: .seconds(-5)) }
            switch await client.fillActivities(after: since) {
            case .failure(let e):
                try setConnected(false, "cannot list Alpaca's fills since the last one journaled: \(e)")
                return
            case .success(let activities):
                for a in activities.sorted(by: { ($0.transactionTime, $0.id) < ($1.transactionTime, $1.id) }) {
                    guard let leg = legByOrderID[a.orderID] else { continue }
                    let (execution, inconsistent) = ledger.apply(a)
                    if inconsistent {
                        logger.error("FILL activity \(a.id) is inconsistent with the fills journaled for \(leg.clientOrderID)")
                    }
                    if let execution { try reportFill(execution, leg) }
                }
            }
            for intent in placed.keys.sorted() {
                guard let p = placed[intent], let b = brackets[intent],
                    !b.legs.allSatisfy({ reports.contains("final:\($0.clientOrderID)") })
                else { continue }
                switch await client.order(id: p.entry) {
                case .failure(let e):
                    try setConnected(false, "cannot read bracket \(intent) at Alpaca: \(e)")
                    return
                case .success(let o): try learnAndApply(o, b)
                }
            }
            if case .failure(let e) = await refreshAccount() {
                try setConnected(false, "cannot read the Alpaca account: \(e)")
                return
            }
            guard streamUp else { return }
            if let account, !account.permitsTrading {
                try setConnected(false, "Alpaca account \(account.accountNumber) does not permit trading (status \(account.status))")
                return
            }
            try setConnected(
                true, "Alpaca trade_updates stream listening and the gap closed over REST (account \(account?.accountNumber ?? "-"))")
        } catch {
            logger.critical("ast-broker@alpaca cannot journal or send: \(error)")
            fatalError("ast-broker: \(error)")
        }
    }

    func refreshAccount() async -> Result<Void, AlpacaSetupError> {
        guard let client else { return .failure(AlpacaSetupError(refusal ?? "no client")) }
        switch (await client.account(), await client.positions()) {
        case (.success(let a), .success(let p)):
            account = a
            positions = p
            return .success(())
        case (.failure(let e), _), (_, .failure(let e)):
            return .failure(e)
        }
    }

    func setConnected(_ value: Bool, _ detail: String) throws {
        if value == connected && (value || detail == lastDownDetail) { return }
        connected = value
        lastDownDetail = value ? nil : detail
        if value { logger.notice("connected: \(detail)") } else { logger.error("disconnected: \(detail)") }
        try connectionChanged(value, detail)
    }

    // MARK: - Orders and updates

    /// What a placement attempt came to.
    func handle(_ placement: AlpacaPlacement, _ b: BracketOrder) async throws {
        switch placement {
        case .placed(let o, let adopted):
            if adopted { logger.notice("bracket \(b.intent) found at Alpaca as order \(o.id): adopted, nothing sent again") }
            try learnAndApply(o, b)
        case .rejected(let why):
            for leg in b.legs { try report(.rejected(leg.clientOrderID, reason: "Alpaca refused the bracket: \(why)")) }
        case .unknown(let why):
            logger.error("bracket \(b.intent): outcome at Alpaca unknown (\(why)); it is looked up before anything is sent again")
            try setConnected(false, "the placement of bracket \(b.intent) at Alpaca is not known: \(why)")
        }
    }

    /// Journals the order ids of a bracket the first time they are seen, then reports its legs' states.
    func learnAndApply(_ o: AlpacaOrder, _ b: BracketOrder) throws {
        var p = placed[b.intent] ?? AlpacaPlaced(intent: b.intent, entry: o.id)
        let before = p
        if let sl = o.stopLossLeg { p.stopLoss = sl.id }
        if let tp = o.takeProfitLeg { p.takeProfit = tp.id }
        if placed[b.intent] == nil || p != before {
            try journal.append(
                JournalRecord(
                    kind: .received, type: AlpacaJournal.placed, timestamp: clock.now(), correlationID: b.intent.rawValue,
                    body: Array(try JSONEncoder.sorted.encode(p))), durability: .durable)
            placed[b.intent] = p
            learn(p)
        }
        try applyState(o, b.entry)
        for leg in o.legs {
            if let spec = legByOrderID[leg.id] { try applyState(leg, spec) }
        }
    }

    /// The reports an order's state says: acknowledged and accepted once live, its fills (from
    /// its filled total), then its final state.
    func applyState(_ o: AlpacaOrder, _ leg: OrderSpec) throws {
        let id = leg.clientOrderID
        switch o.status {
        case .rejected where o.replaces != nil:
            // A replacement refused (its old order filled first, as Alpaca documents): the leg is
            // whatever its old order is, and that order's own updates say so.
            logger.warning("the replacement \(o.id) of order \(o.replaces ?? "-") (\(id)) was rejected by Alpaca")
            return
        case .rejected:
            try report(.rejected(id, reason: "Alpaca rejected the order"))
            return
        case .suspended, .unknown:
            logger.warning("order \(o.id) (\(id)) is \(o.status.name) at Alpaca")
            return
        default:
            try report(.acknowledged(id, brokerOrderID: o.id))
            try report(.accepted(id))
        }
        let (execution, inconsistent) = ledger.apply(order: o, at: clock.now())
        if inconsistent { logger.error("order \(o.id) (\(id)) reports fills inconsistent with those journaled") }
        if let execution { try reportFill(execution, leg) }
        switch o.status {
        case .canceled: try report(.cancelled(id, reason: "Alpaca reports the order canceled"))
        case .expired: try report(.expired(id))
        case .replaced:
            // The replacement (AST's or one made elsewhere) is followed under the same leg.
            if let next = o.replacedBy { try follow(leg, from: o.id, to: next) }
            if let (cid, q, reason) = pendingResize.removeValue(forKey: o.id) { try report(.modified(cid, quantity: q, reason: reason)) }
        default: break
        }
    }

    /// One trade update: learns its order if it is one of ours, reports what it says.
    func apply(_ u: AlpacaTradeUpdate) async throws {
        var leg = legByOrderID[u.order.id]
        if leg == nil, let old = u.order.replaces, let oldLeg = legByOrderID[old] {
            // The replacement of one of ours (whichever order the `replaced` event carries).
            try follow(oldLeg, from: old, to: u.order.id)
            leg = oldLeg
        }
        if leg == nil, let intent = brackets.values.first(where: { $0.entry.clientOrderID.rawValue == u.order.clientOrderID })?.intent,
            let b = brackets[intent]
        {
            // An update for an entry whose POST answer has not been handled yet (or was lost).
            try learnAndApply(u.order, b)
            leg = legByOrderID[u.order.id]
        }
        if leg == nil, let client {
            // A leg whose id is not known yet: read the open brackets with their legs.
            for (intent, p) in placed where p.stopLoss == nil || p.takeProfit == nil {
                if case .success(let o) = await client.order(id: p.entry), let b = brackets[intent] { try learnAndApply(o, b) }
            }
            leg = legByOrderID[u.order.id]
        }
        guard let leg else {
            logger.warning("trade update \(u.event.name) for order \(u.order.id) that AST did not place: ignored")
            return
        }
        let id = leg.clientOrderID
        switch u.event {
        case .fill, .partialFill:
            try report(.acknowledged(id, brokerOrderID: u.order.id))
            try report(.accepted(id))
            let (execution, inconsistent) = ledger.apply(u)
            if inconsistent { logger.error("trade update for \(u.order.id) (\(id)) is inconsistent with the fills journaled") }
            if let execution { try reportFill(execution, leg) }
        case .canceled, .expired, .rejected, .replaced, .new, .accepted, .pendingNew, .held, .restated, .doneForDay, .stopped,
            .calculated, .pendingCancel, .pendingReplace:
            try applyState(u.order, leg)
        case .orderReplaceRejected:
            pendingResize[u.order.id] = nil
            logger.warning("Alpaca rejected the replace of \(id) (order \(u.order.id), status \(u.order.status.name)): it stays as it was")
        case .orderCancelRejected, .suspended, .other:
            logger.warning("trade update \(u.event.name) for \(id) (order \(u.order.id), status \(u.order.status.name))")
        }
    }

    func reportFill(_ e: AlpacaExecution, _ leg: OrderSpec) throws {
        let at = e.at ?? clock.now()
        let fill = Fill(
            executionID: e.executionID, clientOrderID: leg.clientOrderID, symbol: leg.symbol, side: leg.side, quantity: e.quantity,
            price: e.price, commission: Money(units: 0), at: at)
        if try report(.fill(fill)) != nil {
            fills.append(fill)
            lastFillAt = max(lastFillAt ?? at, at)
        }
    }

    /// Journals (durably) and delivers one report, once per key.
    @discardableResult
    func report(_ event: ExecutionEvent) throws -> ExecutionReport? {
        try reports.report(event, at: clock.now(), journal: journal, deliver: deliver)
    }

    // MARK: - BrokerAdapter

    func submit(_ bracket: BracketOrder, messageID: String?) async throws -> [ExecutionReport] {
        if brackets[bracket.intent] != nil { return [] }  // known: nothing new
        var out: [ExecutionReport] = []
        var refusalReason: String? = nil
        if let refusal {
            refusalReason = refusal
        } else if !connected || client == nil {
            refusalReason = "broker@alpaca is not connected (\(lastDownDetail ?? "the stream is not up yet"))"
        } else {
            do { _ = try AlpacaRequests.submitBracket(bracket) } catch { refusalReason = "not sent to Alpaca: \(error.description)" }
        }
        if let refusalReason {
            for leg in bracket.legs {
                if let r = try report(.submitting(leg)) { out.append(r) }
                if let r = try report(.rejected(leg.clientOrderID, reason: refusalReason)) { out.append(r) }
            }
            return out
        }
        // Write-ahead: the intent and its client order id are durable before the POST.
        try journal.append(
            JournalRecord(
                kind: .received, type: AlpacaJournal.input, timestamp: clock.now(), messageID: messageID,
                correlationID: bracket.intent.rawValue, body: Array(try JSONEncoder.sorted.encode(AlpacaInput.bracket(bracket)))),
            durability: .durable)
        brackets[bracket.intent] = bracket
        for leg in bracket.legs { if let r = try report(.submitting(leg)) { out.append(r) } }
        guard let client else { return out }
        try await handle(await client.place(bracket), bracket)
        return out
    }

    func cancel(_ id: ClientOrderID, reason: String, messageID: String?) async throws -> CancelAnswer {
        guard let client, let orderID = currentOrderID(id) else {
            return CancelAnswer(
                accepted: false, message: "cancel of \(id) refused: broker@alpaca knows no Alpaca order for it", reports: [])
        }
        if reports.contains("final:\(id)") {
            return CancelAnswer(accepted: false, message: "cancel of \(id) refused: the order is already final", reports: [])
        }
        try journal.append(
            JournalRecord(
                kind: .received, type: AlpacaJournal.input, timestamp: clock.now(), messageID: messageID, correlationID: id.rawValue,
                body: Array(try JSONEncoder.sorted.encode(AlpacaInput.cancel(id, orderID: orderID, reason: reason)))), durability: .durable)
        switch await client.cancel(id: orderID) {
        case .success(true):
            return CancelAnswer(accepted: true, message: "cancel of \(id) accepted by Alpaca (order \(orderID))", reports: [])
        case .success(false):
            return CancelAnswer(accepted: false, message: "cancel of \(id): Alpaca says order \(orderID) is not cancelable", reports: [])
        case .failure(let e):
            return CancelAnswer(accepted: false, message: "cancel of \(id) not confirmed by Alpaca: \(e)", reports: [])
        }
    }

    /// Resizes one open leg by a replace (`PATCH qty`): a reduction only, above nothing filled
    /// (``BrokerAdapter/modify(_:quantity:reason:messageID:)``); reported `modified` once Alpaca
    /// says the old order is replaced. (Alpaca itself resizes a bracket's stop to a partially
    /// filled take profit.)
    func modify(_ id: ClientOrderID, quantity: Quantity, reason: String, messageID: String?) async throws -> CancelAnswer {
        guard let spec = legSpec(id), quantity > .zero, quantity < spec.quantity else {
            return CancelAnswer(
                accepted: false, message: "modify of \(id) to \(quantity) refused: not a reduction of an open leg", reports: [])
        }
        return try await replace(id, AlpacaReplace(quantity: quantity), reason: reason, messageID: messageID)
    }

    /// Replaces one open leg at Alpaca (`PATCH /v2/orders/{id}`): a stop moved, a size or a time in
    /// force changed. Journaled (durably) before it is sent; on Alpaca's acceptance the new order id
    /// is journaled as the leg's and followed, as the `replaced` update will say. A refusal changes
    /// nothing (the old order stays the leg's, live); an unknown outcome is settled by reading the
    /// bracket (the leg's current order is among its legs).
    func replace(_ id: ClientOrderID, _ change: AlpacaReplace, reason: String, messageID: String?) async throws -> CancelAnswer {
        func refused(_ why: String) -> CancelAnswer {
            CancelAnswer(accepted: false, message: "replace of \(id) refused: \(why)", reports: [])
        }
        guard let client, let orderID = currentOrderID(id), let spec = legSpec(id) else {
            return refused("broker@alpaca knows no Alpaca order for it")
        }
        guard connected else { return refused("broker@alpaca is not connected (\(lastDownDetail ?? "the stream is not up yet"))") }
        if reports.contains("final:\(id)") { return refused("the order is already final") }
        do { _ = try AlpacaRequests.replace(id: orderID, change) } catch { return refused(error.description) }
        try journal.append(
            JournalRecord(
                kind: .received, type: AlpacaJournal.input, timestamp: clock.now(), messageID: messageID, correlationID: id.rawValue,
                body: Array(try JSONEncoder.sorted.encode(AlpacaInput.replace(id, orderID: orderID, change, reason: reason)))),
            durability: .durable)
        switch await client.replace(id: orderID, change) {
        case .accepted(let new):
            if let q = change.quantity { pendingResize[orderID] = (id, q, reason) }
            try follow(spec, from: orderID, to: new.id)
            return CancelAnswer(accepted: true, message: "replace of \(id) accepted by Alpaca: order \(orderID) → \(new.id)", reports: [])
        case .refused(let status, let e):
            logger.warning("Alpaca refused the replace of \(id) (order \(orderID)): \(status) \(e); the order stays as it was")
            return refused("Alpaca says \(status) \(e); order \(orderID) stays as it was")
        case .unknown(let why):
            logger.error("replace of \(id) (order \(orderID)): outcome unknown (\(why)); reading the bracket")
            if let p = placed[spec.intent], let b = brackets[spec.intent], case .success(let o) = await client.order(id: p.entry) {
                try learnAndApply(o, b)
            }
            return CancelAnswer(accepted: false, message: "replace of \(id) not confirmed by Alpaca: \(why)", reports: [])
        }
    }

    /// AST's leg `id` as journaled.
    func legSpec(_ id: ClientOrderID) -> OrderSpec? {
        brackets.values.lazy.flatMap(\.legs).first { $0.clientOrderID == id }
    }

    /// The Alpaca order that is leg `id` now (after any replace): from the journaled placement.
    func currentOrderID(_ id: ClientOrderID) -> String? {
        guard let spec = legSpec(id), let p = placed[spec.intent] else { return nil }
        switch spec.leg {
        case .entry: return p.entry
        case .stopLoss: return p.stopLoss
        case .takeProfit: return p.takeProfit
        }
    }

    /// Leg `leg` is order `new` from now on (a replacement of `old`): learnt, and journaled (durably)
    /// as the leg's order when `old` was its current one, so that a restart follows it too.
    func follow(_ leg: OrderSpec, from old: String, to new: String) throws {
        legByOrderID[new] = leg
        guard var p = placed[leg.intent] else { return }
        let before = p
        switch leg.leg {
        case .entry: if p.entry == old { p.entry = new }
        case .stopLoss: if p.stopLoss == old { p.stopLoss = new }
        case .takeProfit: if p.takeProfit == old { p.takeProfit = new }
        }
        guard p != before else { return }
        try journal.append(
            JournalRecord(
                kind: .received, type: AlpacaJournal.placed, timestamp: clock.now(), correlationID: leg.intent.rawValue,
                body: Array(try JSONEncoder.sorted.encode(p))), durability: .durable)
        placed[leg.intent] = p
    }

    func accountState(executionsSince: Timestamp) async throws -> BrokerAccountState {
        var orders: [BrokerOrder] = []
        var ok = connected
        if connected, let client {
            ok = (try? await refreshAccount().get()) != nil
            for intent in placed.keys.sorted() where ok {
                guard let p = placed[intent], let b = brackets[intent],
                    !b.legs.allSatisfy({ reports.contains("final:\($0.clientOrderID)") })
                else { continue }
                guard case .success(let o) = await client.order(id: p.entry) else {
                    ok = false
                    break
                }
                for order in [o] + o.legs {
                    guard let spec = legByOrderID[order.id], !order.status.isTerminal, let status = order.status.brokerStatus else {
                        continue
                    }
                    var s = spec
                    s.quantity = order.quantity ?? spec.quantity
                    orders.append(
                        BrokerOrder(
                            spec: s, brokerOrderID: order.id, status: status, filledQuantity: order.filledQuantity,
                            workingQuantity: s.quantity, averageFillPrice: order.filledAveragePrice))
                }
            }
        }
        let cash = account?.cash ?? Money(units: 0)
        var state = BrokerAccountState(
            broker: name, asOf: clock.now(), connected: ok, account: AccountValues(cash: cash, equity: account?.equity ?? cash),
            positions: positions.compactMap(\.brokerPosition).sorted { $0.symbol < $1.symbol },
            openOrders: orders.sorted { $0.spec.clientOrderID < $1.spec.clientOrderID },
            executions: fills.filter { $0.at >= executionsSince }.sorted { $0.executionID < $1.executionID })
        state.reportsThrough = reports.through
        return state
    }

    func isConnected() -> Bool { connected }
}

/// Alpaca behind the one ``BrokerShell`` (`--instance alpaca`): the shell's bus side (approved
/// brackets only from the risk gate, signatures checked before journaling, cancels, paged account
/// queries, execution reports to the reconciler and connection changes to the risk gate and the
/// reconciler) over this adapter; what it refuses and ignores: ``RealBrokerAdapter``.
extension AlpacaAdapter: RealBrokerAdapter {
    /// Builds the adapter for `broker@alpaca` from the `alpaca` and `trading` configuration and the
    /// credentials (environment or `secrets_file`).
    static func make(context: WorkerContext, outlet: BrokerOutlet) throws -> any ShellAdapter {
        try AlpacaAdapter(
            name: context.identity.description, config: context.config.alpaca ?? .standard, trading: context.config.trading ?? .paper,
            secrets: SecretStore.fromEnvironment(secretsFile: context.config.secretsFile), journal: context.journal,
            clock: context.clock, logger: context.logger, deliver: outlet.deliver, connectionChanged: outlet.connectionChanged)
    }
}
