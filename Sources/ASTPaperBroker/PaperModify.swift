import ASTCore

extension PaperExchange {
    /// A modify of `id` to `quantity` shares in all, or a notice saying why it changed nothing.
    ///
    /// Only a reduction is taken: the new quantity must be below the order's and above what it
    /// has filled (an order is dropped with a cancel, never modified to nothing). The order
    /// keeps its place, price and OCA group; it works at most its new remainder. While
    /// disconnected nothing changes (the request cannot reach the exchange).
    mutating func requestModify(_ id: ClientOrderID, quantity: Quantity, reason: String, _ ctx: inout Context) {
        if let until = disconnectedUntil {
            ctx.outcome.notices.append(.modifyRefused(id, CancelRefusal.brokerUnreachable(until: until).description))
            return
        }
        guard let i = index[id] else {
            ctx.outcome.notices.append(.modifyRefused(id, CancelRefusal.unknownOrder.description))
            return
        }
        guard orders[i].status.isOpen else {
            ctx.outcome.notices.append(.modifyRefused(id, CancelRefusal.alreadyFinal(orders[i].status).description))
            return
        }
        guard quantity < orders[i].spec.quantity, quantity > orders[i].filledQuantity else {
            ctx.outcome.notices.append(
                .modifyRefused(
                    id,
                    "only a reduction above the filled quantity is taken: \(quantity) for an order of \(orders[i].spec.quantity) "
                        + "with \(orders[i].filledQuantity) filled"))
            return
        }
        if orders[i].spec.parent != nil && orders[i].cutFrom == nil { orders[i].cutFrom = orders[i].spec.quantity }
        orders[i].spec.quantity = quantity
        orders[i].workingQuantity = min(orders[i].workingQuantity, quantity - orders[i].filledQuantity)
        exchangeReport(.modified(id, quantity: quantity, reason: reason), &ctx)
    }

    /// After entry `i` filled `quantity` more shares: each of its open children that a modify cut
    /// (while the entry was only partly filled) grows back by those shares, up to its quantity
    /// before the cut and never above what the entry has filled, and says so with a `modified`
    /// report. The shares the cut removed stay removed (they were sold by another exit); the new
    /// shares the entry bought are protected like the first ones. ``settleChildren`` then sets
    /// what each works.
    mutating func growCutChildren(ofEntry i: Int, by quantity: Quantity, _ ctx: inout Context) {
        let entryID = orders[i].id
        let bought = orders[i].filledQuantity
        let children = orders.indices.filter { orders[$0].spec.parent == entryID }
        for c in children where orders[c].status.isOpen {
            guard let before = orders[c].cutFrom, orders[c].spec.quantity < before else { continue }
            // Never above what the entry bought less what the siblings sold (as the reconciler checks).
            let sold = children.filter { $0 != c }.reduce(Quantity.zero) { $0 + orders[$1].filledQuantity }
            let grown = min(before, bought - sold, orders[c].spec.quantity + quantity)
            guard grown > orders[c].spec.quantity else { continue }
            orders[c].spec.quantity = grown
            exchangeReport(
                .modified(
                    orders[c].id, quantity: grown,
                    reason: "grown back with \(quantity) more shares of entry \(entryID) (\(bought) bought in all)"),
                &ctx)
        }
    }
}
