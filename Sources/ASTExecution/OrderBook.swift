import ASTCore

/// One order as the book tracks it.
public struct TrackedOrder: Sendable, Equatable, Codable {
    public var spec: OrderSpec
    public var state: OrderState
    /// Shares filled so far (the sum of the fills applied to this order).
    public var filledQuantity: Quantity
    /// Σ price x quantity of those fills, exact; ``averageFillPrice`` derives from it.
    public var filledNotional: Money
    public var brokerOrderID: String?
    public var createdAt: Timestamp
    /// When the state last changed (the grace period of a submit in flight counts from it).
    public var updatedAt: Timestamp

    public init(
        spec: OrderSpec, state: OrderState, filledQuantity: Quantity = .zero, filledNotional: Money = .zero,
        brokerOrderID: String? = nil, createdAt: Timestamp, updatedAt: Timestamp? = nil
    ) {
        self.spec = spec
        self.state = state
        self.filledQuantity = filledQuantity
        self.filledNotional = filledNotional
        self.brokerOrderID = brokerOrderID
        self.createdAt = createdAt
        self.updatedAt = updatedAt ?? createdAt
    }

    public var id: ClientOrderID { spec.clientOrderID }

    /// The volume-weighted price of the fills, to the nearest 1/10,000; nil before any fill.
    public var averageFillPrice: Price? {
        filledQuantity.isZero ? nil : Exact.averagePrice(cost: filledNotional, quantity: filledQuantity)
    }

    enum CodingKeys: String, CodingKey {
        case spec, state
        case filledQuantity = "filled_quantity"
        case filledNotional = "filled_notional"
        case brokerOrderID = "broker_order_id"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }
}

/// What changed in the book after an input: what the shell journals, forwards and alerts on.
public enum BookOutput: Sendable, Equatable, Codable {
    /// An order entered the book (`from` nil) or changed state.
    case orderChanged(ClientOrderID, from: OrderState?, to: OrderState)
    /// A fill was counted (once, whatever the replays).
    case fillApplied(Fill)
    /// A report or an execution already applied; nothing changed. The text says which.
    case duplicateIgnored(String)
    /// Something that should not happen, in operator words; the book went on safely.
    case anomaly(String)
    /// Cash or positions changed: a new ``PortfolioSnapshot`` is due to the risk gate.
    case portfolioChanged
    /// A fill (a fact at the broker) could not be booked: an amount of the book or the portfolio
    /// would leave 64 bits. Nothing of it was applied; the book no longer matches the broker, so
    /// the reconciler fails closed (HALTED, with this text as the reason).
    case bookOverflow(String)
}

/// The reconciler's orders: by client order id, with their state, fills and broker id, bracket
/// legs linked structurally (children by ``OrderSpec/parent``), and every report and every
/// execution applied at most once.
///
/// Rules:
/// - A report is dropped when its (broker, id) was applied before; a fill is dropped when its
///   execution id was, whichever report or repair carried it.
/// - A fill always reaches the portfolio once, even for an order the book does not know or
///   in a state where it is illegal: it is the broker saying shares moved, and the portfolio
///   must mirror the broker so that a position is never hidden from its protective checks.
///   Such fills come with an ``BookOutput/anomaly(_:)``. A fill that fails validation
///   (non-positive quantity or price, a notional that does not fit) is not applied at all.
/// - An illegal transition is an anomaly, never a crash; the state stays.
/// - A child's quantity to complete is its spec's, capped by the parent's filled quantity
///   once the parent is done (a bracket stop follows its entry's fills).
public struct OrderBook: Sendable, Equatable, Codable {
    public private(set) var orders: [ClientOrderID: TrackedOrder] = [:]
    /// Children by parent id, each list sorted: structural bracket links.
    private var childrenByParent: [ClientOrderID: [ClientOrderID]] = [:]
    private var appliedReports: Set<String> = []
    private var appliedExecutions: Set<ExecutionID> = []

    public init() {}

    /// The order `id`, if the book knows it.
    public func order(_ id: ClientOrderID) -> TrackedOrder? { orders[id] }

    /// The bracket children of `parent` (stop loss, take profit), sorted by id.
    public func children(of parent: ClientOrderID) -> [ClientOrderID] { childrenByParent[parent] ?? [] }

    /// Whether the execution has been counted.
    public func hasApplied(_ execution: ExecutionID) -> Bool { appliedExecutions.contains(execution) }

    /// Every order not yet terminal, sorted by id.
    public var openOrders: [TrackedOrder] {
        orders.values.filter { $0.state.isOpen }.sorted { $0.id < $1.id }
    }

    /// Entries not yet terminal: each may become a position (the risk gate's open-order count).
    public var openEntryOrderCount: Int {
        orders.values.reduce(0) { $0 + ($1.spec.leg == .entry && $1.state.isOpen ? 1 : 0) }
    }

    // MARK: Inputs

    /// Registers a bracket the risk gate approved, every leg in PendingSubmit. Legs already
    /// known are left as they are.
    public mutating func register(_ bracket: BracketOrder, at: Timestamp) -> [BookOutput] {
        var out: [BookOutput] = []
        for leg in bracket.legs where orders[leg.clientOrderID] == nil {
            insert(TrackedOrder(spec: leg, state: .pendingSubmit, createdAt: at))
            out.append(.orderChanged(leg.clientOrderID, from: nil, to: .pendingSubmit))
        }
        return out
    }

    /// Applies one report from a broker process; fills also go to `portfolio`.
    public mutating func apply(_ report: ExecutionReport, portfolio: inout Portfolio) -> [BookOutput] {
        let key = "\(report.broker)/\(report.id)"
        guard appliedReports.insert(key).inserted else { return [.duplicateIgnored("report \(key)")] }
        let at = report.at
        switch report.event {
        case .submitting(let spec):
            guard orders[spec.clientOrderID] != nil else {
                insert(TrackedOrder(spec: spec, state: .submitted, createdAt: at))
                return [.orderChanged(spec.clientOrderID, from: nil, to: .submitted)]
            }
            var out: [BookOutput] = []
            if orders[spec.clientOrderID]?.spec != spec {
                out.append(
                    .anomaly("\(spec.clientOrderID): submitted with a spec that differs from the approved one; keeping the approved one"))
            }
            return out + transition(spec.clientOrderID, .submitSent, at: at)
        case .acknowledged(let id, let brokerOrderID):
            if orders[id] != nil { orders[id]?.brokerOrderID = brokerOrderID }
            return transition(id, .acknowledged, at: at)
        case .accepted(let id): return transition(id, .accepted, at: at)
        case .unacknowledged(let id, _): return transition(id, .unacknowledged, at: at)
        case .cancelled(let id, _): return transition(id, .cancelled, at: at)
        case .rejected(let id, _): return transition(id, .rejected, at: at)
        case .expired(let id): return transition(id, .expired, at: at)
        case .fill(let fill): return apply(fill, portfolio: &portfolio, at: at)
        case .modified(let id, let quantity, _): return resize(id, to: quantity, at: at)
        case .commission(let execution, let id, let amount): return charge(amount, for: execution, of: id, portfolio: &portfolio)
        }
    }

    /// A commission the broker reported after the fill it belongs to: charged once (the report is
    /// deduplicated above) when the book has applied that execution; an anomaly otherwise.
    mutating func charge(_ amount: Money, for execution: ExecutionID, of id: ClientOrderID, portfolio: inout Portfolio) -> [BookOutput] {
        guard appliedExecutions.contains(execution) else {
            return [.anomaly("commission \(amount) of execution \(execution) (\(id)), an execution the book has not applied; not charged")]
        }
        guard amount.units > 0 else { return [] }
        if let overflow = portfolio.charge(commission: amount) {
            let text = "commission \(amount) of execution \(execution) (\(id)) not booked: \(overflow)"
            return [.anomaly(text), .bookOverflow(text)]
        }
        return [.portfolioChanged]
    }

    /// The broker resized order `id` to `quantity` shares in all (fills included). Taken for an
    /// open order the book knows: a reduction, or the growth of a bracket child that a reduction
    /// had cut, back towards what its entry has filled less what its siblings sold (never above:
    /// the paper exchange grows a cut child with its entry's later fills). Anything else is an anomaly and the order stays
    /// as it was. An order whose fills reach the new quantity is complete.
    mutating func resize(_ id: ClientOrderID, to quantity: Quantity, at: Timestamp) -> [BookOutput] {
        guard var order = orders[id] else {
            return [.anomaly("\(id): resized to \(quantity) by the broker, an order the book does not know")]
        }
        // Growth: at most what the entry bought less what the leg's siblings sold.
        let grows =
            quantity > order.spec.quantity
            && order.spec.parent.flatMap { orders[$0] }.map { parent in
                let sold = children(of: parent.spec.clientOrderID).filter { $0 != id }
                    .reduce(Int128(0)) { $0 + Int128(orders[$1]?.filledQuantity.shares ?? 0) }
                return Int128(quantity.shares) <= Int128(parent.filledQuantity.shares) - sold
            } == true
        guard order.state.isOpen, quantity > .zero, quantity < order.spec.quantity || grows else {
            return [.anomaly("\(id): resized by the broker from \(order.spec.quantity) to \(quantity) while \(order.state); ignored")]
        }
        order.spec.quantity = quantity
        order.updatedAt = at
        orders[id] = order
        guard order.filledQuantity >= quantityToComplete(order), !order.filledQuantity.isZero else { return [] }
        return transition(id, .completeFill, at: at)
    }

    /// Applies the broker's answer about an order: its status, or nil when it does not know
    /// the order. Meant for ``OrderState/unknown`` orders; illegal elsewhere (an anomaly).
    public mutating func resolve(_ id: ClientOrderID, brokerStatus: BrokerOrderStatus?, at: Timestamp) -> [BookOutput] {
        transition(id, .resolved(brokerStatus), at: at)
    }

    /// Applies a fill once: the order's filled quantity and state, then the portfolio.
    public mutating func apply(_ fill: Fill, portfolio: inout Portfolio, at: Timestamp) -> [BookOutput] {
        guard !appliedExecutions.contains(fill.executionID) else {
            return [.duplicateIgnored("execution \(fill.executionID) of \(fill.clientOrderID)")]
        }
        if let problem = Self.invalidity(of: fill) {
            return [.anomaly("execution \(fill.executionID) of \(fill.clientOrderID) not applied: \(problem)")]
        }
        // Checked before anything changes: a fill that cannot be booked whole is not booked at all.
        var filled: (quantity: Quantity, notional: Money)?
        if let order = orders[fill.clientOrderID] {
            guard let quantity = try? order.filledQuantity.adding(fill.quantity),
                let notional = try? order.filledNotional.adding(Exact.value(fill.quantity, at: fill.price))
            else {
                return Self.overflow(fill, PortfolioOverflow("\(order.id) filled quantity or notional"))
            }
            filled = (quantity, notional)
        }
        if let overflow = portfolio.apply(fill) { return Self.overflow(fill, overflow) }
        appliedExecutions.insert(fill.executionID)
        var out: [BookOutput] = []
        if var order = orders[fill.clientOrderID], let filled {
            if order.spec.symbol != fill.symbol || order.spec.side != fill.side {
                out.append(
                    .anomaly(
                        "\(order.id): execution \(fill.executionID) is a \(fill.side) of \(fill.symbol), the order a \(order.spec.side) of \(order.spec.symbol); the portfolio follows the execution"
                    ))
            }
            order.filledQuantity = filled.quantity
            order.filledNotional = filled.notional
            orders[order.id] = order
            let target = quantityToComplete(order)
            let event: OrderEvent = order.filledQuantity >= target ? .completeFill : .partialFill
            if order.filledQuantity > order.spec.quantity {
                out.append(.anomaly("\(order.id): filled \(order.filledQuantity) shares of an order for \(order.spec.quantity)"))
            }
            if order.state == .cancelled || order.state == .expired {
                out.append(.anomaly("\(order.id): fill after \(order.state) (\(fill.quantity) at \(fill.price)); counted"))
            }
            out += transition(order.id, event, at: at)
        } else {
            out.append(
                .anomaly(
                    "execution \(fill.executionID): a \(fill.side) of \(fill.quantity) \(fill.symbol) at \(fill.price) for \(fill.clientOrderID), an order the book does not know; counted in the portfolio"
                ))
        }
        out.append(.fillApplied(fill))
        out.append(.portfolioChanged)
        return out
    }

    /// The outputs of a fill that could not be booked (``BookOutput/bookOverflow(_:)``).
    static func overflow(_ fill: Fill, _ overflow: PortfolioOverflow) -> [BookOutput] {
        let text =
            "execution \(fill.executionID) of \(fill.clientOrderID) (\(fill.side) \(fill.quantity) \(fill.symbol) at \(fill.price)) "
            + "not booked: \(overflow)"
        return [.anomaly(text), .bookOverflow(text)]
    }

    /// Why a fill cannot be booked, or nil.
    static func invalidity(of fill: Fill) -> String? {
        if fill.quantity.shares <= 0 { return "quantity \(fill.quantity) is not positive" }
        if fill.price.units <= 0 { return "price \(fill.price) is not positive" }
        if (try? fill.price.notional(fill.quantity)) == nil { return "\(fill.quantity) x \(fill.price) does not fit" }
        return nil
    }

    // MARK: Repairs

    /// Applies the repairs of a reconciliation that concern the system's own state (fills,
    /// order marks, adoptions), in the order given; ``Repair/cancelAtBroker(_:reason:)`` is
    /// the shell's to send and is skipped here. ``Reconciliation/reconcile(book:portfolio:broker:now:tolerance:)``
    /// compares the positions after exactly this call on copies.
    public mutating func apply(repairs: [Repair], portfolio: inout Portfolio, at: Timestamp) -> [BookOutput] {
        var out: [BookOutput] = []
        for repair in repairs {
            switch repair {
            case .applyFill(let fill): out += apply(fill, portfolio: &portfolio, at: at)
            case .markOrder(let id, let state, let reason): out += mark(id, state, reason: reason, at: at)
            case .adopt(let brokerOrder): out += adopt(brokerOrder, at: at)
            case .cancelAtBroker: break
            }
        }
        return out
    }

    /// Forces `id` into `state` on the reconciler's word (the broker's account is the truth).
    /// A terminal order is left alone.
    public mutating func mark(_ id: ClientOrderID, _ state: OrderState, reason: String, at: Timestamp) -> [BookOutput] {
        guard let order = orders[id] else { return [.anomaly("\(id): cannot mark \(state) (\(reason)): not in the book")] }
        guard order.state.isOpen, order.state != state else { return [] }
        orders[id]?.state = state
        orders[id]?.updatedAt = at
        var out: [BookOutput] = [.orderChanged(id, from: order.state, to: state)]
        if state.isTerminal { out += recheckChildren(of: id, at: at) }
        return out
    }

    /// Takes an order the broker has open into the book as the broker describes it.
    public mutating func adopt(_ brokerOrder: BrokerOrder, at: Timestamp) -> [BookOutput] {
        let id = brokerOrder.spec.clientOrderID
        let previous = orders[id]
        let state = OrderState(brokerOrder.status)
        let notional = brokerOrder.averageFillPrice.map { Exact.value(brokerOrder.filledQuantity, at: $0) } ?? .zero
        insert(
            TrackedOrder(
                spec: brokerOrder.spec, state: state, filledQuantity: brokerOrder.filledQuantity, filledNotional: notional,
                brokerOrderID: brokerOrder.brokerOrderID, createdAt: previous?.createdAt ?? at, updatedAt: at))
        return previous?.state == state ? [] : [.orderChanged(id, from: previous?.state, to: state)]
    }

    // MARK: Internals

    private mutating func insert(_ order: TrackedOrder) {
        if let old = orders[order.id], let oldParent = old.spec.parent, oldParent != order.spec.parent {
            childrenByParent[oldParent]?.removeAll { $0 == order.id }
        }
        orders[order.id] = order
        if let parent = order.spec.parent, !(childrenByParent[parent]?.contains(order.id) ?? false) {
            var list = childrenByParent[parent] ?? []
            list.append(order.id)
            list.sort()
            childrenByParent[parent] = list
        }
    }

    private func quantityToComplete(_ order: TrackedOrder) -> Quantity {
        guard let parentID = order.spec.parent, let parent = orders[parentID], parent.state.isTerminal else {
            return order.spec.quantity
        }
        return min(order.spec.quantity, parent.filledQuantity)
    }

    /// Completes a partially filled child whose fills reach its parent's final filled quantity.
    private mutating func recheckChildren(of parent: ClientOrderID, at: Timestamp) -> [BookOutput] {
        var out: [BookOutput] = []
        for child in children(of: parent) {
            guard let c = orders[child], c.state == .partiallyFilled, c.filledQuantity >= quantityToComplete(c) else { continue }
            out += transition(child, .completeFill, at: at)
        }
        return out
    }

    private mutating func transition(_ id: ClientOrderID, _ event: OrderEvent, at: Timestamp) -> [BookOutput] {
        guard let order = orders[id] else { return [.anomaly("\(id): \(event) for an order the book does not know; ignored")] }
        guard let next = OrderStateMachine.next(order.state, event) else {
            return [.anomaly("\(id): \(event) is not legal in state \(order.state); ignored")]
        }
        guard next != order.state else { return [] }
        orders[id]?.state = next
        orders[id]?.updatedAt = at
        // A parent that is done caps its children: one of them may be complete now.
        return [.orderChanged(id, from: order.state, to: next)] + (next.isTerminal ? recheckChildren(of: id, at: at) : [])
    }

    // Codable with every collection as a sorted array: the bytes never depend on hashing.
    enum CodingKeys: String, CodingKey {
        case orders
        case appliedReports = "applied_reports"
        case appliedExecutions = "applied_executions"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        for order in try c.decode([TrackedOrder].self, forKey: .orders) { insert(order) }
        appliedReports = Set(try c.decode([String].self, forKey: .appliedReports))
        appliedExecutions = Set(try c.decode([ExecutionID].self, forKey: .appliedExecutions))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(orders.values.sorted { $0.id < $1.id }, forKey: .orders)
        try c.encode(appliedReports.sorted(), forKey: .appliedReports)
        try c.encode(appliedExecutions.sorted(), forKey: .appliedExecutions)
    }
}
