import ASTCore

/// The simulated exchange behind `ast-broker@paper`: a pure, deterministic value.
///
/// The shell hands it every input with the time it arrived (``handle(_:now:)``) and carries
/// out the outcome; restoring is replaying the journaled inputs. Report, execution and broker
/// order ids come from counters (`<name>-r<n>`, `<name>-x<n>`, `<name>-o<n>`), so a replay
/// reproduces every output. Each fill rule is pinned by a test in `ASTPaperBrokerTests`.
/// Beyond the per-order rules in `FillRules`:
///
/// - An order matches only bars that start strictly after it was accepted; a bracket child
///   only bars that start after the bar on which its entry first filled (never the same bar).
/// - On each bar the bracket children are matched first (against the position held at the bar's
///   start), then entries and standalone orders. One fill per order, and per OCA group, per bar.
/// - Bars that do not start after the last bar of their symbol are ignored (no double fills).
/// - The shell delivers a session's bar before its ``PaperInput/sessionClose(_:)``.
/// - Market-time order when a session's bar arrives after requests made during the session
///   (cancels held for the bar; an order accepted during a session fills at most at its close):
///   see `SessionOrdering.swift`.
/// - A reduce-only order (``OrderSpec/reduceOnly``) fills at most the position held on the side
///   it closes at that moment, and is cancelled with the reason once nothing is left to reduce.
/// - No buying-power check: that is the risk gate's job. Cash may go negative.
public struct PaperExchange: Sendable, Equatable, Codable {
    /// The broker process name (`broker@paper`): the prefix of every id and the reports' broker.
    public let name: String
    public let config: PaperBrokerConfig
    /// Cash: the starting cash, minus buys and plus sells at their notional, minus commissions.
    public private(set) var cash: Money
    /// Realised P&L over all symbols, gross of commissions.
    public private(set) var realizedPnL: Money
    /// Commissions charged so far.
    public private(set) var commissionsPaid: Money
    /// Every execution, in the order it happened.
    public private(set) var executions: [Fill]
    /// The end of the current disconnection, if any (see ``isConnected(at:)``).
    public private(set) var disconnectedUntil: Timestamp?

    /// Every order that reached the exchange, in the order it arrived.
    var orders: [PaperOrder]
    /// Sorted by symbol.
    var book: [PaperPosition]
    /// Sorted by symbol.
    var marks: [SymbolMark]
    var pendingRejections: [String]
    var pendingDroppedAcknowledgements: Int
    /// Cancels held until their session's bar is matched, in the order requested.
    var pendingCancels: [PendingCancel]
    var reportCounter: Int
    var executionCounter: Int
    var orderCounter: Int
    /// Position of each order in ``orders``; derived, not encoded.
    var index: [ClientOrderID: Int]

    /// The largest order quantity the exchange accepts, so that no notional overflows.
    public static let maxOrderQuantity = Quantity(100_000_000)
    /// The largest order price the exchange accepts (1,000,000.00).
    public static let maxOrderPrice = Price(units: 1_000_000 * 10_000)

    public init(name: String, config: PaperBrokerConfig = .standard) {
        self.name = name
        self.config = config
        cash = config.startingCash
        realizedPnL = .zero
        commissionsPaid = .zero
        executions = []
        disconnectedUntil = nil
        orders = []
        book = []
        marks = []
        pendingRejections = []
        pendingDroppedAcknowledgements = 0
        pendingCancels = []
        reportCounter = 0
        executionCounter = 0
        orderCounter = 0
        index = [:]
    }

    // MARK: Queries

    /// Whether the exchange is reachable at `now`.
    public func isConnected(at now: Timestamp) -> Bool {
        guard let until = disconnectedUntil else { return true }
        return now >= until
    }

    /// The order as the exchange knows it (any status), or nil if it never reached the exchange.
    public func order(_ id: ClientOrderID) -> BrokerOrder? {
        index[id].map { orders[$0].brokerOrder }
    }

    /// Open positions, sorted by symbol.
    public var positions: [BrokerPosition] {
        book.filter { !$0.quantity.isZero }.map {
            BrokerPosition(symbol: $0.symbol, quantity: $0.quantity, averagePrice: $0.averagePrice)
        }
    }

    /// The earliest moment a held cancel applies without its bar (see `SessionOrdering.swift`):
    /// the shell sends a ``PaperInput/tick`` then.
    public var nextCancelDeadline: Timestamp? { pendingCancels.map(\.deadline).min() }

    /// The client order ids whose cancel waits for their session's bar, in the order requested.
    public var heldCancels: [ClientOrderID] { pendingCancels.map(\.id) }

    /// Open orders (held, working, partially filled), sorted by client order id.
    public var openOrders: [BrokerOrder] {
        orders.filter { $0.status.isOpen }.sorted { $0.id < $1.id }.map(\.brokerOrder)
    }

    /// Cash plus every position at the last close of its symbol (its average price if no bar
    /// was seen yet).
    public var equity: Money {
        var total = Int128(cash.units)
        for p in book where !p.quantity.isZero {
            let mark = self.mark(of: p.symbol)?.close ?? p.averagePrice
            total += Int128(p.quantity.shares) * Int128(mark.units)
        }
        return Money(units: Int64(clamping: total))
    }

    /// What reconciliation and `astctl` read: the account, positions by symbol, open orders by
    /// client order id, and the executions at or after `executionsSince` in the order they
    /// happened (also those whose reports were lost while disconnected).
    public func accountState(executionsSince: Timestamp, now: Timestamp) -> BrokerAccountState {
        BrokerAccountState(
            broker: name, asOf: now, connected: isConnected(at: now),
            account: AccountValues(cash: cash, equity: equity), positions: positions,
            openOrders: openOrders, executions: executions.filter { $0.at >= executionsSince })
    }

    // MARK: Inputs

    /// Where the reports of one input go, and what else it produced.
    struct Context {
        var now: Timestamp
        /// False while disconnected or for a silent broker cancel: exchange reports are lost.
        var delivering: Bool
        var outcome = PaperOutcome()
    }

    /// Applies one input at time `now` and returns what the broker process hears of it.
    ///
    /// Any input at or after the end of a disconnection first restores the connection
    /// (``PaperOutcome/connection`` is then `.restored`).
    public mutating func handle(_ input: PaperInput, now: Timestamp) -> PaperOutcome {
        var ctx = Context(now: now, delivering: true)
        if let refusal = input.validate() {
            ctx.outcome.notices.append(.inputRefused(refusal))
            return ctx.outcome
        }
        if let until = disconnectedUntil, now >= until {
            disconnectedUntil = nil
            ctx.outcome.connection = .restored
        }
        ctx.delivering = disconnectedUntil == nil
        // Held cancels whose bar never came take effect at the next session's open (fail closed).
        applyPendingCancels(where: { $0.deadline <= now }, &ctx)
        switch input {
        case .submit(let bracket):
            submit(bracket, &ctx)
        case .bar(let bar):
            // A held cancel of an earlier session whose bar was skipped applies before this bar,
            // one of this bar's session right after it.
            applyPendingCancels(where: { $0.symbol == bar.symbol && $0.sessionOpen < bar.start }, &ctx)
            match(bar, &ctx)
            applyPendingCancels(where: { $0.symbol == bar.symbol && $0.sessionOpen <= bar.start }, &ctx)
        case .sessionClose(let close):
            applyPendingCancels(where: { $0.sessionClose <= close }, &ctx)
            closeSession(at: close, &ctx)
        case .cancel(let id, let reason):
            if let until = disconnectedUntil {
                ctx.outcome.notices.append(.cancelRefused(id, .brokerUnreachable(until: until)))
            } else {
                requestCancel(id, reason: reason, deferrable: true, &ctx)
            }
        case .modify(let id, let quantity, let reason):
            requestModify(id, quantity: quantity, reason: reason, &ctx)
        case .inject(let injection):
            inject(injection, &ctx)
        case .tick:
            break
        }
        return ctx.outcome
    }

    /// A report from the exchange: lost in transit when not delivering.
    mutating func exchangeReport(_ event: ExecutionEvent, _ ctx: inout Context) {
        guard ctx.delivering else { return }
        localReport(event, &ctx)
    }

    /// A report the broker process makes itself (it always reaches the reconciler).
    mutating func localReport(_ event: ExecutionEvent, _ ctx: inout Context) {
        reportCounter += 1
        ctx.outcome.reports.append(ExecutionReport(id: "\(name)-r\(reportCounter)", broker: name, event: event, at: ctx.now))
    }

    // MARK: Submit

    /// Submit rules: every leg not yet known is first reported `submitting` (the broker process
    /// sends it; from then on the order exists for the reconciler). While disconnected nothing
    /// is recorded and every leg is `unacknowledged`.
    /// A bracket with a known client order id is a duplicate: nothing is created, the known
    /// legs get no report (their state is unchanged; the notice names them) and any unknown leg
    /// of it is rejected. Otherwise the bracket reaches the exchange and is recorded, accepted
    /// (`acknowledged` then `accepted` per leg; children held) or rejected (every leg, recorded
    /// as rejected, so the same submit again is a duplicate).
    mutating func submit(_ bracket: BracketOrder, _ ctx: inout Context) {
        let legs = bracket.legs
        if let until = disconnectedUntil {
            // The broker process tells the reconciler what it is sending before it tries.
            for leg in legs { localReport(.submitting(leg), &ctx) }
            for leg in legs {
                localReport(.unacknowledged(leg.clientOrderID, detail: "not sent: the broker is unreachable until \(until)"), &ctx)
            }
            return
        }
        var known: [ClientOrderID] = []
        for leg in legs where index[leg.clientOrderID] != nil && !known.contains(leg.clientOrderID) {
            known.append(leg.clientOrderID)
        }
        if !known.isEmpty {
            ctx.outcome.notices.append(.duplicateSubmitIgnored(known))
            let names = known.map(\.rawValue).joined(separator: ", ")
            for leg in legs where index[leg.clientOrderID] == nil {
                localReport(
                    .rejected(
                        leg.clientOrderID,
                        reason: "the bracket reuses client order id \(names) of an order the broker already has; nothing was submitted"),
                    &ctx)
            }
            return
        }
        // The broker process tells the reconciler what it is sending before it sends it.
        for leg in legs { localReport(.submitting(leg), &ctx) }
        let ids = legs.map(\.clientOrderID)
        if let repeated = ids.first(where: { id in ids.filter { $0 == id }.count > 1 }) {
            for leg in legs {
                localReport(
                    .rejected(
                        leg.clientOrderID,
                        reason: "the bracket uses client order id \(repeated) for more than one leg; nothing was submitted"), &ctx)
            }
            return
        }

        // The bracket reaches the exchange.
        let answerLost = pendingDroppedAcknowledgements > 0
        if answerLost { pendingDroppedAcknowledgements -= 1 }
        var reasons: [String?]
        if !pendingRejections.isEmpty {
            let reason = pendingRejections.removeFirst()
            reasons = legs.map { _ in reason }
        } else {
            reasons = BracketValidation.problems(of: bracket)
            if let first = zip(legs, reasons).first(where: { $0.1 != nil }) {
                reasons = reasons.map { $0 ?? "the bracket was rejected because of \(first.0.clientOrderID): \(first.1!)" }
            }
        }
        for (leg, reason) in zip(legs, reasons) {
            orderCounter += 1
            let brokerOrderID = "\(name)-o\(orderCounter)"
            let isChild = leg.clientOrderID != bracket.entry.clientOrderID
            let status: BrokerOrderStatus = reason != nil ? .rejected : (isChild ? .held : .working)
            let order = PaperOrder(
                spec: leg, brokerOrderID: brokerOrderID, status: status, filledQuantity: .zero,
                workingQuantity: status == .working ? leg.quantity : .zero, filledNotional: .zero,
                acceptedAt: ctx.now, eligibleAfter: ctx.now, triggered: false, lastFillSequence: 0,
                reason: reason)
            index[leg.clientOrderID] = orders.count
            orders.append(order)
            if answerLost {
                localReport(
                    .unacknowledged(
                        leg.clientOrderID,
                        detail: "no answer from the broker: the acknowledgement was lost; the order may exist at the broker"), &ctx)
            } else if let reason {
                exchangeReport(.rejected(leg.clientOrderID, reason: reason), &ctx)
            } else {
                exchangeReport(.acknowledged(leg.clientOrderID, brokerOrderID: brokerOrderID), &ctx)
                exchangeReport(.accepted(leg.clientOrderID), &ctx)
            }
        }
    }

    // MARK: Fault injection (tests only)

    /// FAULT INJECTION, for the chaos drill's tests only: submits `bracket` as if none of its
    /// client order ids were known, so the exchange holds a second order under the same id.
    /// This is the bug the duplicate check exists to prevent; ast-broker calls it only when
    /// `AST_FAULT_BROKER_RESUBMITS_AFTER_RESTART=1` (refused in LIVE mode).
    public mutating func faultResubmitIgnoringKnownIDs(_ bracket: BracketOrder, now: Timestamp) -> PaperOutcome {
        for leg in bracket.legs { index[leg.clientOrderID] = nil }
        return handle(.submit(bracket), now: now)
    }

    // MARK: Bars

    mutating func match(_ bar: Bar, _ ctx: inout Context) {
        let at = markPosition(bar.symbol)
        if at < marks.count, marks[at].symbol == bar.symbol {
            guard bar.start > marks[at].lastBarStart else {
                ctx.outcome.notices.append(.staleBarIgnored(bar.symbol, start: bar.start))
                return
            }
            marks[at].lastBarStart = bar.start
            marks[at].close = bar.close
        } else {
            marks.insert(SymbolMark(symbol: bar.symbol, lastBarStart: bar.start, close: bar.close), at: at)
        }
        // Most bars have no order of their symbol: nothing below would match (and the session
        // lookup is the costly part of a bar with no order).
        guard orders.contains(where: { $0.spec.symbol == bar.symbol }) else { return }
        let cap = FillRules.volumeCap(volume: bar.volume, share: config.maxVolumeSharePercent)
        let end = bar.resolution == .day ? Self.session(ofBarStarting: bar.start)?.close : nil
        for childrenPass in [true, false] {
            var groups: [[Int]] = []
            var groupOfKey: [String: Int] = [:]  // lookup only; groups keep arrival order
            for i in orders.indices where isMatchable(orders[i], bar: bar, end: end) && (orders[i].spec.parent != nil) == childrenPass {
                let key = ocaKey(orders[i].spec)
                if let g = groupOfKey[key] {
                    groups[g].append(i)
                } else {
                    groupOfKey[key] = groups.count
                    groups.append([i])
                }
            }
            for group in groups {
                matchGroup(group, bar: bar, end: end, cap: cap, &ctx)
            }
        }
    }

    /// Where `symbol`'s mark is in `marks` (sorted by symbol), or where it would be inserted:
    /// the first mark whose symbol is not below it. O(log marks) per bar instead of a scan.
    func markPosition(_ symbol: Symbol) -> Int {
        var lo = 0, hi = marks.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if marks[mid].symbol < symbol { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// The last bar seen of `symbol`, if any.
    func mark(of symbol: Symbol) -> SymbolMark? {
        let i = markPosition(symbol)
        return i < marks.count && marks[i].symbol == symbol ? marks[i] : nil
    }

    /// `end`: the close of the bar's session (nil: not a session's bar), for orders accepted
    /// during it (see `SessionOrdering.swift`).
    func isMatchable(_ o: PaperOrder, bar: Bar, end: Timestamp?) -> Bool {
        o.spec.symbol == bar.symbol && (o.status == .working || o.status == .partiallyFilled)
            && o.workingQuantity > .zero && (o.eligibleAfter < bar.start || Self.acceptedDuring(o, start: bar.start, end: end))
    }

    /// Children of one entry share a group; standalone orders share one by ``OrderSpec/ocaGroup``;
    /// any other order is a group of its own.
    func ocaKey(_ spec: OrderSpec) -> String {
        if let parent = spec.parent { return "parent:\(parent.rawValue)" }
        if let oca = spec.ocaGroup { return "oca:\(oca)" }
        return "order:\(spec.clientOrderID.rawValue)"
    }

    /// At most one member of a group fills on a bar; when several could, ``BothTouchedRule`` picks.
    mutating func matchGroup(_ group: [Int], bar: Bar, end: Timestamp?, cap: Quantity, _ ctx: inout Context) {
        var candidates: [(index: Int, price: Price)] = []
        for i in group where isMatchable(orders[i], bar: bar, end: end) {
            // Accepted during the bar's session: only its close is known to have traded since.
            let seen = Self.acceptedDuring(orders[i], start: bar.start, end: end) ? Self.closeBar(bar) : bar
            let e = FillRules.evaluate(
                orders[i].spec, triggered: orders[i].triggered, bar: seen, slippageBps: config.slippageBps,
                slippageTicks: config.slippageTicks)
            if let price = e.price {
                candidates.append((i, price))
            } else if e.triggers {
                orders[i].triggered = true  // a stop-limit that gapped through its limit rests as a limit
            }
        }
        // A reduce-only order with nothing left to reduce (an exit earlier on this bar took the
        // position) is cancelled instead of opening the other side.
        candidates.removeAll { c in
            guard orders[c.index].spec.reduceOnly, reducible(orders[c.index].spec).isZero else { return false }
            cancel(c.index, reason: reduceOnlyReason(orders[c.index].spec), &ctx)
            return true
        }
        guard let winner = choose(candidates, bar: bar) else { return }
        if orders[winner.index].spec.type == .stop || orders[winner.index].spec.type == .stopLimit {
            orders[winner.index].triggered = true
        }
        var quantity = min(orders[winner.index].workingQuantity, cap)
        if orders[winner.index].spec.reduceOnly { quantity = min(quantity, reducible(orders[winner.index].spec)) }
        guard quantity > .zero else { return }
        fill(winner.index, quantity: quantity, price: winner.price, bar: bar, &ctx)
        // Cut to what was held: the rest of a reduce-only order has nothing left to reduce.
        if orders[winner.index].spec.reduceOnly, orders[winner.index].status.isOpen, reducible(orders[winner.index].spec).isZero {
            cancel(winner.index, reason: reduceOnlyReason(orders[winner.index].spec), &ctx)
        }
    }

    /// The shares a reduce-only `spec` may still fill: the position held on the side it closes
    /// (a sell reduces a long, a buy a short), zero when flat or on its own side.
    func reducible(_ spec: OrderSpec) -> Quantity {
        let held = book.first { $0.symbol == spec.symbol }?.quantity ?? .zero
        switch spec.side {
        case .sell: return held > .zero ? held : .zero
        case .buy: return held < .zero ? Quantity(-held.shares) : .zero
        }
    }

    func reduceOnlyReason(_ spec: OrderSpec) -> String {
        "reduce-only: \(spec.symbol) holds nothing left for a \(spec.side) to reduce (an earlier exit took the position)"
    }

    /// The member of a group that fills when several could (see ``BothTouchedRule``); ties go to
    /// the worse fill, then to the order that arrived first.
    func choose(_ candidates: [(index: Int, price: Price)], bar: Bar) -> (index: Int, price: Price)? {
        guard candidates.count > 1 else { return candidates.first }
        /// Higher is worse for the trader.
        func badness(_ c: (index: Int, price: Price)) -> Int64 {
            orders[c.index].spec.side == .buy ? c.price.units : -c.price.units
        }
        func worstOf(_ pool: [(index: Int, price: Price)]) -> (index: Int, price: Price) {
            let worst = pool.map(badness).max()!
            return pool.first { badness($0) == worst }!
        }
        switch config.bothTouched {
        case .worstCase:
            return worstOf(candidates)
        case .bestCase:
            let best = candidates.map(badness).min()!
            return candidates.first { badness($0) == best }!
        case .openProximity:
            func distance(_ c: (index: Int, price: Price)) -> Int128 {
                (Int128(referencePrice(orders[c.index], bar: bar).units) - Int128(bar.open.units)).magnitude.asInt128
            }
            let nearest = candidates.map(distance).min()!
            return worstOf(candidates.filter { distance($0) == nearest })
        }
    }

    /// The price that decides "nearer the open": the stop price of an untriggered stop, the
    /// limit price of a limit, the open for anything that is already a market order.
    func referencePrice(_ o: PaperOrder, bar: Bar) -> Price {
        switch o.spec.type {
        case .market: bar.open
        case .limit: o.spec.limitPrice ?? bar.open
        case .stop: o.triggered ? bar.open : (o.spec.stopPrice ?? bar.open)
        case .stopLimit: o.triggered ? (o.spec.limitPrice ?? bar.open) : (o.spec.stopPrice ?? bar.open)
        }
    }

    /// Executes `quantity` shares of order `i` at `price`: cash, position, order, report, and
    /// the consequences for its bracket children or OCA siblings. A notional that does not fit
    /// 64 bits is not filled (the order keeps working): do nothing when in doubt.
    mutating func fill(_ i: Int, quantity: Quantity, price: Price, bar: Bar, _ ctx: inout Context) {
        let spec = orders[i].spec
        guard let notional = try? price.notional(quantity),
            let newFilledNotional = try? orders[i].filledNotional.adding(notional)
        else { return }
        let commission = FillRules.commission(quantity: quantity, notional: notional, config: config)
        let cost = try? (spec.side == .buy ? notional.adding(commission) : notional.subtracting(commission))
        guard let cost, let newCash = try? (spec.side == .buy ? cash.subtracting(cost) : cash.adding(cost)),
            let newCommissions = try? commissionsPaid.adding(commission),
            let newFilledQuantity = try? orders[i].filledQuantity.adding(quantity)
        else {
            ctx.outcome.notices.append(.fillSkipped(spec.clientOrderID, detail: "cash or commissions would overflow"))
            return
        }
        let delta = spec.side.signed(quantity)
        let current =
            book.first { $0.symbol == spec.symbol }
            ?? PaperPosition(symbol: spec.symbol, quantity: .zero, costBasis: .zero, realized: .zero)
        guard let booked = current.applying(delta: delta, price: price),
            let newRealized = try? realizedPnL.adding(booked.realized)
        else {
            ctx.outcome.notices.append(.fillSkipped(spec.clientOrderID, detail: "the position or the realised P&L would overflow"))
            return
        }
        executionCounter += 1
        let fill = Fill(
            executionID: ExecutionID("\(name)-x\(executionCounter)"), clientOrderID: spec.clientOrderID,
            symbol: spec.symbol, side: spec.side, quantity: quantity, price: price, commission: commission,
            at: ctx.now)
        cash = newCash
        commissionsPaid = newCommissions
        store(booked.position)
        realizedPnL = newRealized
        orders[i].filledQuantity = newFilledQuantity
        orders[i].filledNotional = newFilledNotional
        orders[i].lastFillSequence = executionCounter
        executions.append(fill)
        exchangeReport(.fill(fill), &ctx)

        if let parent = spec.parent {
            settleChildren(of: parent, activation: bar.start, &ctx)
            return
        }
        let done = orders[i].filledQuantity >= spec.quantity
        orders[i].status = done ? .filled : .partiallyFilled
        orders[i].workingQuantity = done ? .zero : spec.quantity - orders[i].filledQuantity
        growCutChildren(ofEntry: i, by: quantity, &ctx)
        settleChildren(of: spec.clientOrderID, activation: bar.start, &ctx)
        if done, let oca = spec.ocaGroup {
            for j in orders.indices
            where j != i && orders[j].status.isOpen && orders[j].spec.parent == nil
                && orders[j].spec.ocaGroup == oca
            {
                cancel(j, reason: "OCA: \(spec.clientOrderID) filled", &ctx)
            }
        }
    }

    /// Puts `position` in the book, sorted by symbol (a flat one stays: it keeps its realised P&L).
    mutating func store(_ position: PaperPosition) {
        if let p = book.firstIndex(where: { $0.symbol == position.symbol }) {
            book[p] = position
        } else {
            book.insert(position, at: book.firstIndex { $0.symbol > position.symbol } ?? book.count)
        }
    }

    /// Brings the children of entry `parentID` in line with it: held until it fills, then
    /// working the entry's filled quantity less what the children already covered (a partial
    /// fill of one child reduces its sibling); cancelled if the entry ended without a fill. A
    /// child that covered its whole quantity, or everything a finished entry bought, is filled
    /// and its siblings are cancelled (OCA).
    mutating func settleChildren(of parentID: ClientOrderID, activation: Timestamp, _ ctx: inout Context) {
        guard let p = index[parentID] else { return }
        let parent = orders[p]
        let children = orders.indices.filter { orders[$0].spec.parent == parentID }
        guard !children.isEmpty else { return }
        let parentFinal = !parent.status.isOpen
        if parent.filledQuantity.isZero {
            if parentFinal {
                for c in children where orders[c].status.isOpen {
                    cancel(c, reason: "entry \(parentID) ended \(parent.status.rawValue) without a fill", &ctx)
                }
            }
            return
        }
        let covered = children.reduce(Quantity.zero) { $0 + orders[$1].filledQuantity }
        let uncovered = parent.filledQuantity - covered
        for c in children where orders[c].status.isOpen {
            if orders[c].status == .held {
                orders[c].status = .working
                orders[c].eligibleAfter = max(orders[c].acceptedAt, activation)
            }
            let own = orders[c].spec.quantity - orders[c].filledQuantity
            orders[c].workingQuantity = max(.zero, min(own, uncovered))
        }
        let completed = children.filter { c in
            orders[c].status.isOpen && orders[c].filledQuantity > .zero
                && (orders[c].filledQuantity >= orders[c].spec.quantity || (parentFinal && uncovered <= .zero))
        }
        if let winner = completed.max(by: { orders[$0].lastFillSequence < orders[$1].lastFillSequence }) {
            orders[winner].status = .filled
            orders[winner].workingQuantity = .zero
            for c in children where c != winner && orders[c].status.isOpen {
                cancel(c, reason: "OCA: \(orders[winner].id) filled", &ctx)
            }
        } else {
            for c in children where orders[c].status.isOpen {
                orders[c].status = orders[c].filledQuantity > .zero ? .partiallyFilled : .working
            }
        }
    }

    // MARK: Cancel and expiry

    /// Cancels open order `i`; an entry's children follow (see ``settleChildren(of:activation:_:)``).
    mutating func cancel(_ i: Int, reason: String, _ ctx: inout Context) {
        orders[i].status = .cancelled
        orders[i].workingQuantity = .zero
        orders[i].reason = reason
        exchangeReport(.cancelled(orders[i].id, reason: reason), &ctx)
        if orders[i].spec.parent == nil {
            settleChildren(of: orders[i].id, activation: ctx.now, &ctx)
        }
    }

    /// A cancel of `id` at the exchange, or a notice saying why it changed nothing.
    /// `deferrable`: a system cancel, held for its session's bar when `SessionOrdering.swift` says
    /// so (a broker's own cancel is never held: it happens now).
    mutating func requestCancel(_ id: ClientOrderID, reason: String, deferrable: Bool = false, _ ctx: inout Context) {
        guard let i = index[id] else {
            ctx.outcome.notices.append(.cancelRefused(id, .unknownOrder))
            return
        }
        guard orders[i].status.isOpen else {
            ctx.outcome.notices.append(.cancelRefused(id, .alreadyFinal(orders[i].status)))
            return
        }
        if let held = pendingCancels.first(where: { $0.id == id }) {
            ctx.outcome.notices.append(.cancelDeferred(id, session: held.sessionOpen, deadline: held.deadline))
            return
        }
        if deferrable, let held = deferral(of: i, reason: reason, now: ctx.now) {
            pendingCancels.append(held)
            ctx.outcome.notices.append(.cancelDeferred(id, session: held.sessionOpen, deadline: held.deadline))
            return
        }
        cancel(i, reason: reason, &ctx)
    }

    /// DAY orders accepted at or before `close` expire; an entry that expires unfilled takes
    /// its children with it, a partially filled one leaves them working its filled quantity.
    mutating func closeSession(at close: Timestamp, _ ctx: inout Context) {
        for i in orders.indices
        where orders[i].status.isOpen && orders[i].spec.timeInForce == .day
            && orders[i].acceptedAt <= close
        {
            orders[i].status = .expired
            orders[i].workingQuantity = .zero
            exchangeReport(.expired(orders[i].id), &ctx)
            if orders[i].spec.parent == nil {
                settleChildren(of: orders[i].id, activation: ctx.now, &ctx)
            }
        }
    }

    // MARK: Injections

    mutating func inject(_ injection: PaperInjection, _ ctx: inout Context) {
        switch injection {
        case .rejectNext(let reason):
            pendingRejections.append(reason)
        case .dropNextAcknowledgement:
            pendingDroppedAcknowledgements += 1
        case .disconnect(let seconds):
            guard seconds > 0, let until = ctx.now.advancedReportingOverflow(by: .seconds(seconds)) else {
                ctx.outcome.notices.append(.inputRefused(InputRefusal(.outOfRange, "disconnect of \(seconds) s from \(ctx.now)")))
                return
            }
            if disconnectedUntil.map({ until > $0 }) ?? true {
                disconnectedUntil = until
                ctx.outcome.connection = .lost(until: until)
            }
        case .brokerCancel(let id):
            requestCancel(id, reason: "cancelled by the broker", &ctx)
        case .brokerCancelSilently(let id):
            ctx.delivering = false
            requestCancel(id, reason: "cancelled by the broker", &ctx)
        }
    }

    // MARK: Codable

    enum CodingKeys: String, CodingKey {
        case name, config, cash, executions, orders, book, marks
        case realizedPnL = "realized_pnl"
        case commissionsPaid = "commissions_paid"
        case disconnectedUntil = "disconnected_until"
        case pendingRejections = "pending_rejections"
        case pendingDroppedAcknowledgements = "pending_dropped_acknowledgements"
        case pendingCancels = "pending_cancels"
        case reportCounter = "report_counter"
        case executionCounter = "execution_counter"
        case orderCounter = "order_counter"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        config = try c.decode(PaperBrokerConfig.self, forKey: .config)
        cash = try c.decode(Money.self, forKey: .cash)
        realizedPnL = try c.decode(Money.self, forKey: .realizedPnL)
        commissionsPaid = try c.decode(Money.self, forKey: .commissionsPaid)
        executions = try c.decode([Fill].self, forKey: .executions)
        disconnectedUntil = try c.decodeIfPresent(Timestamp.self, forKey: .disconnectedUntil)
        orders = try c.decode([PaperOrder].self, forKey: .orders)
        book = try c.decode([PaperPosition].self, forKey: .book)
        // Kept sorted by symbol (binary search); a stable sort leaves a checkpoint's order as it was written.
        marks = try c.decode([SymbolMark].self, forKey: .marks).sorted { $0.symbol < $1.symbol }
        pendingRejections = try c.decode([String].self, forKey: .pendingRejections)
        pendingDroppedAcknowledgements = try c.decode(Int.self, forKey: .pendingDroppedAcknowledgements)
        // Absent in a checkpoint written before held cancels existed: none were held.
        pendingCancels = try c.decodeIfPresent([PendingCancel].self, forKey: .pendingCancels) ?? []
        reportCounter = try c.decode(Int.self, forKey: .reportCounter)
        executionCounter = try c.decode(Int.self, forKey: .executionCounter)
        orderCounter = try c.decode(Int.self, forKey: .orderCounter)
        index = [:]
        for (i, o) in orders.enumerated() {
            guard index[o.id] == nil else {
                throw DecodingError.dataCorruptedError(
                    forKey: .orders, in: c,
                    debugDescription: "client order id \(o.id) appears twice in the snapshot")
            }
            index[o.id] = i
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(config, forKey: .config)
        try c.encode(cash, forKey: .cash)
        try c.encode(realizedPnL, forKey: .realizedPnL)
        try c.encode(commissionsPaid, forKey: .commissionsPaid)
        try c.encode(executions, forKey: .executions)
        try c.encodeIfPresent(disconnectedUntil, forKey: .disconnectedUntil)
        try c.encode(orders, forKey: .orders)
        try c.encode(book, forKey: .book)
        try c.encode(marks, forKey: .marks)
        try c.encode(pendingRejections, forKey: .pendingRejections)
        try c.encode(pendingDroppedAcknowledgements, forKey: .pendingDroppedAcknowledgements)
        if !pendingCancels.isEmpty { try c.encode(pendingCancels, forKey: .pendingCancels) }
        try c.encode(reportCounter, forKey: .reportCounter)
        try c.encode(executionCounter, forKey: .executionCounter)
        try c.encode(orderCounter, forKey: .orderCounter)
    }
}
