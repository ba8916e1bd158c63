import ASTCore

extension PaperExchange {
    /// The longest injected disconnection (one week): long enough for any drill, short enough
    /// that its end is always a representable time.
    public static let maxDisconnectSeconds = 7 * 86_400
    /// The longest OCA group name a bracket leg may carry.
    public static let maxOCAGroupBytes = 200
}

extension PaperInput {
    /// Refuses an input the exchange must never see or journal: a time outside
    /// 1970 ... 2200, a disconnection that is not 1 s ... one week, a text or an id beyond its
    /// size, a bar with a price that is not positive or above ``PaperExchange/maxOrderPrice``.
    ///
    /// A bracket whose orders the exchange would reject (a zero quantity, a missing limit
    /// price ...) is not refused here: the exchange rejects it with reports, as a broker would.
    /// The broker shell calls this before the bus journals the message; the restore calls it on
    /// every journaled input, so an input an older version let through is quarantined.
    public func validate() -> InputRefusal? {
        switch self {
        case .submit(let bracket):
            for leg in bracket.legs {
                if let oca = leg.ocaGroup,
                    let r = InputCheck.text(
                        oca, "OCA group of \(leg.clientOrderID)",
                        max: PaperExchange.maxOCAGroupBytes)
                {
                    return r
                }
            }
            return nil
        case .bar(let bar):
            // A bar every check passes needs none of the refusal's texts (every bar of a
            // backtest comes here); any other is refused as InputCheck words it.
            let max = PaperExchange.maxOrderPrice
            let inRange = { (p: Price) in p > .zero && p <= max }
            if bar.start >= .earliestAccepted, bar.start <= .latestAccepted, inRange(bar.open), inRange(bar.high), inRange(bar.low),
                inRange(bar.close), bar.volume >= 0
            {
                return nil
            }
            return InputCheck.bar(bar, maxPrice: max)
        case .sessionClose(let at):
            return InputCheck.time(at, "session close")
        case .cancel(_, let reason):
            return InputCheck.text(reason, "cancel reason")
        case .modify(_, let quantity, let reason):
            return InputCheck.integer(quantity.shares, "modified quantity", in: 1...PaperExchange.maxOrderQuantity.shares)
                ?? InputCheck.text(reason, "modify reason")
        case .inject(let injection):
            switch injection {
            case .disconnect(let seconds):
                return InputCheck.integer(seconds, "disconnect seconds", in: 1...PaperExchange.maxDisconnectSeconds)
            case .rejectNext(let reason):
                return InputCheck.text(reason, "reject reason")
            case .dropNextAcknowledgement, .brokerCancel, .brokerCancelSilently:
                return nil
            }
        case .tick:
            return nil
        }
    }
}
