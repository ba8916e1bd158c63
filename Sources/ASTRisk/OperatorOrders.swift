import ASTCore

/// The operator stops placed for one symbol's position.
struct OperatorStops: Sendable, Equatable {
    /// The sign of the position they protect (+1 long, -1 short).
    var positionSign: Int
    var shares: Int128
}

extension RiskGate {
    /// Decides an operator order. Allowed in every state, HALTED included, but only for a held
    /// position and never beyond it: the order is on the closing side, for at most the shares
    /// held (the snapshot's plus approvals since), and a protective stop for at most the shares
    /// not yet covered by operator stops. Refusals: `NO_PORTFOLIO`, `OPERATOR_NO_POSITION`,
    /// `OPERATOR_QUANTITY_EXCEEDS_POSITION`, `OPERATOR_STOP_PRICE_UNKNOWN`,
    /// `OPERATOR_ORDER_INVALID` (no reason, a quantity that is not positive, a stop on the wrong
    /// side of the last mark), `INVALID_BRACKET` (an id that cannot be derived). Every order,
    /// approved or refused, is alerted.
    public func decideOperatorOrder(_ order: OperatorOrder, now: Timestamp) -> RiskDecision {
        func block(_ code: ReasonCode, _ detail: String) -> RiskDecision { .block(code, detail: detail) }
        guard let id = order.intentID(at: now) else {
            return block(.invalidBracket, "no intent id can be derived for \(order.kind) \(order.symbol)")
        }
        guard !order.reason.allSatisfy(\.isWhitespace) else {
            return block(.operatorOrderInvalid, "an operator order needs a reason (--reason)")
        }
        guard let book else {
            return block(.noPortfolio, "no portfolio snapshot received yet: the gate does not know the position")
        }
        let position = exposures(book)[order.symbol]?.quantity ?? 0
        guard position != 0 else {
            return block(.operatorNoPosition, "\(order.symbol) is flat in the book: nothing to \(order.kind)")
        }
        let held = Exact.abs(position)
        let sign = position > 0 ? 1 : -1
        var room = held
        if order.kind == .protect, let placed = operatorStops[order.symbol], placed.positionSign == sign {
            room = max(0, held - placed.shares)
        }
        let quantity = order.quantity.map { Int128($0.shares) } ?? room
        guard order.quantity == nil || quantity > 0 else {
            return block(.operatorOrderInvalid, "quantity must be positive (got \(quantity))")
        }
        guard quantity > 0, quantity <= room else {
            let what =
                order.kind == .protect && room < held
                ? "\(RiskGate.describe(position)) \(order.symbol), \(held - room) already covered by operator stops"
                : "\(RiskGate.describe(position)) \(order.symbol)"
            return block(.operatorQuantityExceedsPosition, "\(order.kind) of \(quantity) shares exceeds the position (\(what))")
        }
        let side: Side = position > 0 ? .sell : .buy
        let entry: EntryOrder
        switch order.kind {
        case .flatten:
            entry = .market
        case .protect:
            guard let stop = order.stopPrice ?? bracketStop(for: order.symbol, opening: side.opposite) else {
                return block(
                    .operatorStopPriceUnknown,
                    "no bracket with a stop was approved for \(order.symbol) since the gate's journal began: give --stop PRICE")
            }
            guard stop.isPositive else { return block(.operatorOrderInvalid, "the stop price must be positive (got \(stop))") }
            if let mark = quotes[order.symbol]?.price, side == .sell ? stop >= mark : stop <= mark {
                return block(
                    .operatorOrderInvalid,
                    "a protective stop for \(RiskGate.describe(position)) must be \(side == .sell ? "below" : "above") the last mark \(mark) (got \(stop))"
                )
            }
            entry = .stop(stop)
        }
        let shares = Quantity(Int64(quantity))
        return .approve(
            Approval(
                id: ApprovalID(for: id), intent: id, symbol: order.symbol, side: side, quantity: shares, requestedQuantity: shares,
                entry: entry, stopLoss: nil, takeProfit: nil, state: state, at: now))
    }

    /// The stop of the last approved bracket that opened a position in `symbol` on `opening`.
    func bracketStop(for symbol: Symbol, opening: Side) -> Price? {
        for id in decidedOrder.reversed() {
            guard let remembered = decided[id], let a = remembered.decision.decision.approval else { continue }
            if a.symbol == symbol, a.side == opening, let stop = a.stopLoss { return stop }
        }
        return nil
    }

    /// Handles an operator order: the decision (an approval goes to the broker like any other),
    /// and an alert that says who asked what and what the gate did.
    mutating func operatorOrder(_ order: OperatorOrder, now: Timestamp) -> [RiskOutput] {
        let decision = decideOperatorOrder(order, now: now)
        let id = order.intentID(at: now) ?? IntentID("op-invalid")
        if let a = decision.approval {
            if order.kind == .flatten {
                pending.append(
                    PendingApproval(
                        approval: a.id, symbol: a.symbol, delta: Int128(a.side.signed(a.quantity).shares),
                        reference: quotes[a.symbol].map { Int128($0.price.units) } ?? book?.holdings[a.symbol]?.mark ?? 0,
                        sector: book?.holdings[a.symbol]?.sector, at: now))
            } else {
                let sign = a.side == .sell ? 1 : -1
                var placed = operatorStops[a.symbol] ?? OperatorStops(positionSign: sign, shares: 0)
                if placed.positionSign != sign { placed = OperatorStops(positionSign: sign, shares: 0) }
                placed.shares += Int128(a.quantity.shares)
                operatorStops[a.symbol] = placed
            }
        }
        let what =
            switch decision {
            case .approve(let a), .downgrade(let a, _, _):
                "\(a.side) \(a.quantity) \(a.symbol) \(a.entry)\(order.kind == .protect ? " GTC" : "") approved as \(a.id)"
            case .block(let code, let detail): "REFUSED \(code): \(detail)"
            }
        let alert = Alert(
            priority: decision.approval == nil ? .p1 : .p0, key: "risk:operator:\(id.rawValue)",
            title: "AST operator \(order.kind) \(order.symbol) (\(state.rawValue))",
            text: "operator uid \(order.operatorUID): \(order.kind) \(order.symbol): \(what); reason: \(order.reason)", at: now)
        return [.decision(IntentDecision(intent: id, decision: decision, at: now)), .alert(alert)]
    }

    /// Drops the operator stops of positions a new snapshot shows gone or reversed.
    mutating func forgetOperatorStops() {
        guard !operatorStops.isEmpty else { return }
        for symbol in operatorStops.keys.sorted() {
            let q = book?.holdings[symbol]?.quantity ?? 0
            if q == 0 || (q > 0 ? 1 : -1) != operatorStops[symbol]!.positionSign { operatorStops[symbol] = nil }
        }
    }
}
