import ASTCore

/// The rules for intent groups (see ``RiskGate/handle(_:now:)`` for their order).
extension RiskGate {
    /// One symbol's position as the rules count it: the snapshot's plus approvals since.
    struct Exposure {
        var quantity: Int128 = 0
        var mark: Int128 = 0
        var sector: String?
        var value: Int128 { Exact.abs(quantity) * mark }
    }

    /// A size limit's answer: at most `maxQuantity` shares of the order.
    struct Cap {
        var rule: ReasonCode
        var maxQuantity: Int128
        var detail: () -> String
    }

    mutating func decide(_ group: IntentGroup, now: Timestamp) -> IntentDecision {
        // Before anything else, also before a remembered approval: an expired intent is never approved.
        if let expiry = group.expiresAt, now >= expiry {
            return IntentDecision(
                intent: group.id, decision: .block(.intentExpired, detail: "intent \(group.id) expired at \(expiry) (its session's end)"),
                at: now)
        }
        // A broker in a planned disconnect, or back from one and not yet reconciled: nothing goes
        // out, not even a remembered approval; the intent is not remembered as blocked.
        if state != .halted, let broker = plannedOutageBrokers.first {
            let detail =
                brokersDisconnected[broker].map { "\(broker) is in a planned disconnect: \($0)" }
                ?? "\(broker) is back from a planned disconnect and not yet reconciled clean"
            return IntentDecision(intent: group.id, decision: .block(.brokerDisconnected, detail: detail), at: now)
        }
        if let earlier = decided[group.id] {
            if earlier.intent == group {
                // The same answer again, unless the state has become stricter since the
                // approval: then nothing is approved, not even a repeat.
                if let a = earlier.decision.decision.approval, RiskGate.strictness(state) > RiskGate.strictness(a.state) {
                    let code: ReasonCode = state == .halted ? .tradingHalted : .tradingStateReducing
                    return IntentDecision(
                        intent: group.id,
                        decision: .block(
                            code, detail: "\(a.id) was given while \(a.state); a re-sent intent is not approved again while \(state)"),
                        at: now)
                }
                return earlier.decision
            }
            return IntentDecision(
                intent: group.id,
                decision: .block(.invalidBracket, detail: "intent id \(group.id) was already used for a different intent group"),
                at: now)
        }
        let decision = IntentDecision(intent: group.id, decision: evaluate(group, now: now), at: now)
        if let a = decision.decision.approval {
            let reference = group.entry.limitPrice ?? quotes[group.symbol]!.price
            pending.append(
                PendingApproval(
                    approval: a.id, symbol: group.symbol, delta: Int128(group.side.signed(a.quantity).shares),
                    reference: Int128(reference.units),
                    sector: RiskGate.knownSector(group.sector), at: now))
            approvalTimes.append(now)
            // Forget approvals older than two rate windows, so the list (and the rate rule's
            // count) stays bounded; the spare window still counts them if the clock steps back.
            let forgetBefore = now.advanced(by: .seconds(-2 * limits.orderRateWindowSeconds))
            if let keep = approvalTimes.firstIndex(where: { $0 >= forgetBefore }), keep > 0 {
                approvalTimes.removeFirst(keep)
            }
        }
        decided[group.id] = Remembered(intent: group, decision: decision)
        decidedOrder.append(group.id)
        if decidedOrder.count > RiskGate.rememberedDecisions {
            decided[decidedOrder.removeFirst()] = nil
        }
        return decision
    }

    func evaluate(_ g: IntentGroup, now: Timestamp) -> RiskDecision {
        guard state != .halted else {
            return .block(.tradingHalted, detail: "HALTED since \(since): \(cause.text)")
        }
        if let problem = bracketProblem(g, reference: g.entry.limitPrice) {
            return .block(.invalidBracket, detail: problem)
        }
        guard let book else {
            return .block(.noPortfolio, detail: "no portfolio snapshot received yet: when in doubt, do nothing")
        }
        guard let quote = quotes[g.symbol] else {
            return .block(.noMarketData, detail: "no market mark received for \(g.symbol)")
        }
        let maxAge = Duration.seconds(limits.maxMarkAgeSeconds)
        if now.duration(since: quote.at) > maxAge {
            return .block(
                .staleMarketData,
                detail:
                    "last mark for \(g.symbol) is from \(quote.at), \(RiskGate.seconds(now.duration(since: quote.at))) old (max \(limits.maxMarkAgeSeconds) s)"
            )
        }
        let mark = Int128(quote.price.units)
        if let limit = g.entry.limitPrice {
            let distance = Exact.abs(Int128(limit.units) - mark)
            if Exact.over(distance, limits.priceBandPct, of: mark) {
                return .block(
                    .priceOutOfBand,
                    detail:
                        "limit \(limit) is \(Exact.percent(distance, of: mark)) from the last mark \(quote.price) of \(g.symbol) (max \(limits.priceBandPct)%)"
                )
            }
        }
        let reference = g.entry.limitPrice ?? quote.price
        if g.entry.limitPrice == nil, let problem = bracketProblem(g, reference: reference) {
            return .block(.invalidBracket, detail: problem)
        }
        let quantity = Int128(g.quantity.shares)
        let price = Int128(reference.units)
        guard Int64(exactly: quantity * price) != nil else {
            return .block(.invalidBracket, detail: "notional of \(g.quantity) x \(reference) does not fit in 64 bits")
        }

        let exposures = self.exposures(book)
        let position = exposures[g.symbol]?.quantity ?? 0
        let result = position + Int128(g.side.sign) * quantity
        let reduces = position != 0 && Exact.abs(result) < Exact.abs(position) && (result == 0 || (result > 0) == (position > 0))
        // A reduce-only intent (its id says so, and the broker makes its order reduce-only from
        // that id): in any state it must reduce, and it closes without children of its own.
        if OrderSpec.isReduceOnlyIntent(g.id) {
            if g.stopLoss != nil || g.takeProfit != nil {
                return .block(.invalidBracket, detail: "a reduce-only intent (\(g.id)) carries no stop loss or take profit")
            }
            if !reduces {
                return .block(
                    .reduceOnlyWouldIncreasePosition,
                    detail:
                        "\(g.id) is reduce-only: a \(g.side) of \(g.quantity) \(g.symbol) would not reduce \(RiskGate.describe(position))")
            }
        }
        if state == .safeReducing && !reduces {
            if position == 0 {
                return .block(
                    .tradingStateReducing,
                    detail:
                        "SAFE_REDUCING since \(since) (\(cause.text)): only orders that reduce an existing position; \(g.symbol) has none")
            }
            let what =
                (result > 0) != (position > 0) && result != 0
                ? "flip \(RiskGate.describe(position)) to \(RiskGate.describe(result))"
                : "increase \(RiskGate.describe(position)) to \(RiskGate.describe(result))"
            return .block(
                .reduceOnlyWouldIncreasePosition,
                detail: "SAFE_REDUCING since \(since): a \(g.side) of \(g.quantity) \(g.symbol) would \(what)")
        }
        if !reduces, limits.requireProtectiveStop, g.stopLoss == nil {
            return .block(.missingProtectiveStop, detail: "an entry in \(g.symbol) must carry a protective stop")
        }
        let windowStart = now.advanced(by: .seconds(-limits.orderRateWindowSeconds))
        let recent = approvalTimes.reduce(0) { $0 + ($1 > windowStart ? 1 : 0) }
        if recent >= limits.maxOrdersPerWindow {
            return .block(
                .rateLimitExceeded,
                detail: "\(recent) orders approved in the last \(limits.orderRateWindowSeconds) s (max \(limits.maxOrdersPerWindow))")
        }
        if reduces {
            return .approve(approval(g, quantity: g.quantity, now: now))
        }
        if position == 0 {
            let open = exposures.values.reduce(0) { $0 + ($1.quantity != 0 ? 1 : 0) } + book.openOrders
            if open >= limits.maxOpenPositions {
                return .block(
                    .maxOpenPositions,
                    detail: "\(open) positions and working entries (max \(limits.maxOpenPositions)); \(g.symbol) would open another")
            }
        }
        // Reference data: the sector rule cannot be computed while a sector involved is unknown
        // (never computed with "(unknown)"). Only where it can bind: at or above the leverage
        // limit it never binds before leverage does.
        if limits.maxSectorConcentrationPct < limits.maxGrossLeveragePct {
            let sector = book.holdings[g.symbol]?.sector ?? exposures[g.symbol]?.sector ?? RiskGate.knownSector(g.sector)
            let unknown = exposures.filter { $0.value.quantity != 0 && $0.value.sector == nil }.map(\.key).sorted()
            if sector == nil || !unknown.isEmpty {
                let which = sector == nil ? [g.symbol] + unknown.filter { $0 != g.symbol } : unknown
                return .block(
                    .referenceDataMissing,
                    detail:
                        "no sector for \(which.prefix(5).map(\.rawValue).joined(separator: ", "))\(which.count > 5 ? " ..." : ""): the sector concentration rule cannot be checked"
                )
            }
        }
        let caps = entryCaps(g, book: book, exposures: exposures, position: position, price: price)
        var binding = caps[0]
        for cap in caps.dropFirst() where cap.maxQuantity < binding.maxQuantity { binding = cap }
        if binding.maxQuantity >= quantity {
            return .approve(approval(g, quantity: g.quantity, now: now))
        }
        if binding.maxQuantity >= 1 {
            let smaller = Quantity(Int64(binding.maxQuantity))
            return .downgrade(
                approval(g, quantity: smaller, now: now), rule: binding.rule,
                detail: "\(binding.detail()); downgraded from \(g.quantity) to \(smaller) shares")
        }
        return .block(binding.rule, detail: "\(binding.detail()); not even one share fits")
    }

    /// The size limits for an entry of `g` at `price` (units), each as the largest quantity it
    /// allows (never negative), in the order the rules are documented.
    func entryCaps(_ g: IntentGroup, book: Book, exposures: [Symbol: Exposure], position: Int128, price: Int128) -> [Cap] {
        let quantity = Int128(g.quantity.shares)
        let equity = book.equity
        // Shares of the current position on the order's side: positive when adding, negative
        // when the order first closes the position.
        let sameSide = Int128(g.side.sign) * position
        func shares(_ room: Int128, per unit: Int128) -> Int128 { room <= 0 ? 0 : room / unit }
        func resulting(_ maxAbsolute: Int128) -> Int128 { max(0, maxAbsolute - sameSide) }
        let after = Exact.abs(position + Int128(g.side.sign) * quantity) * price

        let notionalAllowance = Exact.allowance(equity, limits.maxOrderNotionalPct)
        let notional = Cap(rule: .notionalExceedsMaxPerOrder, maxQuantity: shares(notionalAllowance, per: price)) {
            "notional \(Exact.money(quantity * price)) (\(g.quantity) x \(Exact.price(price))) is over \(self.limits.maxOrderNotionalPct)% of equity \(Exact.money(equity)) = \(Exact.money(notionalAllowance))"
        }

        let symbolAllowance = Exact.allowance(equity, limits.maxSymbolConcentrationPct)
        let concentration = Cap(rule: .maxConcentration, maxQuantity: resulting(shares(symbolAllowance, per: price))) {
            "\(g.symbol) would be \(Exact.money(after)), over \(self.limits.maxSymbolConcentrationPct)% of equity \(Exact.money(equity)) = \(Exact.money(symbolAllowance))"
        }

        let sector = book.holdings[g.symbol]?.sector ?? exposures[g.symbol]?.sector ?? RiskGate.knownSector(g.sector) ?? ""
        let sectorOthers = exposures.reduce(Int128(0)) { sum, entry in
            entry.key != g.symbol && (entry.value.sector ?? "") == sector ? sum + entry.value.value : sum
        }
        let sectorAllowance = Exact.allowance(equity, limits.maxSectorConcentrationPct)
        let sectorCap = Cap(
            rule: .maxSectorConcentration, maxQuantity: resulting(shares(sectorAllowance - sectorOthers, per: price))
        ) {
            "sector \(RiskGate.sectorName(sector)) would be \(Exact.money(sectorOthers + after)), over \(self.limits.maxSectorConcentrationPct)% of equity \(Exact.money(equity)) = \(Exact.money(sectorAllowance))"
        }

        let grossOthers = exposures.reduce(Int128(0)) { $1.key != g.symbol ? $0 + $1.value.value : $0 }
        let grossAllowance = Exact.allowance(equity, limits.maxGrossLeveragePct)
        let leverage = Cap(rule: .maxLeverage, maxQuantity: resulting(shares(grossAllowance - grossOthers, per: price))) {
            "gross exposure would be \(Exact.money(grossOthers + after)), over \(self.limits.maxGrossLeveragePct)% of equity \(Exact.money(equity)) = \(Exact.money(grossAllowance))"
        }

        // Loss budgets: what the entry loses if its stop is hit must fit in what is left of the
        // day's loss limit and of the drawdown limit. Without a stop the whole notional is at risk.
        let risk = g.stopLoss.map { Exact.abs(price - Int128($0.units)) } ?? price
        let lossToday = max(0, book.startOfDay - book.equity)
        let dailyBudget = Exact.allowance(book.startOfDay, limits.dailyLossLimitPct) - lossToday
        let daily = Cap(rule: .dailyLossLimit, maxQuantity: shares(dailyBudget, per: risk)) {
            "risk to the stop \(Exact.money(quantity * risk)) (\(g.quantity) x \(Exact.price(risk))) plus today's loss \(Exact.money(lossToday)) is over \(self.limits.dailyLossLimitPct)% of start-of-day equity \(Exact.money(book.startOfDay))"
        }
        let drawdownNow = max(0, book.peak - book.equity)
        let drawdownBudget = Exact.allowance(book.peak, limits.maxDrawdownPct) - drawdownNow
        let drawdown = Cap(rule: .maxDrawdown, maxQuantity: shares(drawdownBudget, per: risk)) {
            "risk to the stop \(Exact.money(quantity * risk)) (\(g.quantity) x \(Exact.price(risk))) plus the drawdown \(Exact.money(drawdownNow)) is over \(self.limits.maxDrawdownPct)% of peak equity \(Exact.money(book.peak))"
        }
        return [notional, concentration, sectorCap, leverage, daily, drawdown]
    }

    /// The shape of a bracket: a positive quantity and prices, the stop on the losing side of
    /// `reference` (the limit price, or the mark for a market entry) and the take profit on the
    /// winning side. `nil` when it is well formed.
    func bracketProblem(_ g: IntentGroup, reference: Price?) -> String? {
        guard g.quantity.shares > 0 else { return "quantity must be positive (got \(g.quantity))" }
        if let stop = g.entry.stopPrice {
            return "an entry cannot be a stop order (stop \(stop)): only an operator's protective stop is one"
        }
        if OperatorOrder.isOperatorIntent(g.id) {
            return "intent ids starting with \(OperatorOrder.intentPrefix) are reserved for operator orders (got \(g.id))"
        }
        if let limit = g.entry.limitPrice, !limit.isPositive { return "limit price must be positive (got \(limit))" }
        if let stop = g.stopLoss, !stop.isPositive { return "stop loss must be positive (got \(stop))" }
        if let target = g.takeProfit, !target.isPositive { return "take profit must be positive (got \(target))" }
        let buy = g.side == .buy
        if let stop = g.stopLoss, let target = g.takeProfit, buy ? stop >= target : stop <= target {
            return "stop loss \(stop) must be \(buy ? "below" : "above") take profit \(target) for a \(g.side)"
        }
        guard let reference else { return nil }
        let entry = g.entry.limitPrice == nil ? "the last mark \(reference)" : "the entry \(reference)"
        if let stop = g.stopLoss, buy ? stop >= reference : stop <= reference {
            return "stop loss \(stop) must be \(buy ? "below" : "above") \(entry) for a \(g.side)"
        }
        if let target = g.takeProfit, buy ? target <= reference : target >= reference {
            return "take profit \(target) must be \(buy ? "above" : "below") \(entry) for a \(g.side)"
        }
        return nil
    }

    /// Every symbol with a position or an approval since the snapshot.
    func exposures(_ book: Book) -> [Symbol: Exposure] {
        var out: [Symbol: Exposure] = [:]
        for (symbol, h) in book.holdings {
            out[symbol] = Exposure(quantity: h.quantity, mark: h.mark, sector: h.sector)
        }
        for p in pending {
            var e = out[p.symbol] ?? Exposure(mark: quotes[p.symbol].map { Int128($0.price.units) } ?? p.reference, sector: p.sector)
            e.quantity += p.delta
            out[p.symbol] = e
        }
        return out
    }

    func approval(_ g: IntentGroup, quantity: Quantity, now: Timestamp) -> Approval {
        Approval(
            id: ApprovalID(for: g.id), intent: g.id, symbol: g.symbol, side: g.side, quantity: quantity,
            requestedQuantity: g.quantity, entry: g.entry, stopLoss: g.stopLoss, takeProfit: g.takeProfit, state: state, at: now)
    }

    /// ACTIVE < SAFE_REDUCING < HALTED.
    static func strictness(_ state: TradingState) -> Int {
        switch state {
        case .active: 0
        case .safeReducing: 1
        case .halted: 2
        }
    }

    static func describe(_ position: Int128) -> String {
        position > 0 ? "long \(position)" : position < 0 ? "short \(-position)" : "flat"
    }

    static func seconds(_ d: Duration) -> String {
        let ms = d.totalNanoseconds / 1_000_000
        let fraction = String(ms % 1000)
        return ms % 1000 == 0 ? "\(ms / 1000) s" : "\(ms / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction) s"
    }
}
