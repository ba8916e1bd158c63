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
        orders[i].spec.quantity = quantity
        orders[i].workingQuantity = min(orders[i].workingQuantity, quantity - orders[i].filledQuantity)
        exchangeReport(.modified(id, quantity: quantity, reason: reason), &ctx)
    }
}
