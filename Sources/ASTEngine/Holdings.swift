import ASTCalendar
import ASTCore
import ASTMessages
import ASTStrategy

/// What the engine's strategy remembers of each held position's entry, from its own intents and
/// the fills (as the tree's strategy would from the reconciler's reports): the entry's session,
/// the shares it bought and its protective stop — the exit rules' ``Holding``s. A position
/// opened by a fill of an entry leg starts a holding; further fills of that entry add to its
/// initial quantity; a flat position ends it.
struct HoldingsLedger {
    struct Entry {
        var intent: IntentID
        var date: LocalDate
        var session: Int
        var initialQuantity: Int64
        var initialStop: Price?
    }

    var entries: [Symbol: Entry] = [:]
    /// The stop of every intent sent, by id.
    var stops: [IntentID: Price] = [:]
    /// The session being played (its index in the run, and its date).
    var session = -1
    var date: LocalDate?

    mutating func begin(_ s: Session) {
        session += 1
        date = s.date
    }

    mutating func note(_ intent: IntentGroup) {
        if let stop = intent.stopLoss { stops[intent.id] = stop }
    }

    /// After `fill`, with `held` the signed shares the exchange now holds of its symbol.
    mutating func apply(_ fill: Fill, held: Int64) {
        guard held > 0 else {
            entries[fill.symbol] = nil
            return
        }
        let id = fill.clientOrderID.rawValue
        guard fill.side == .buy, let date, id.hasSuffix(".E"), let intent = IntentID(validating: String(id.dropLast(2)))
        else { return }
        if var e = entries[fill.symbol] {
            if e.intent == intent { e.initialQuantity += fill.quantity.shares }
            entries[fill.symbol] = e
        } else {
            entries[fill.symbol] = Entry(
                intent: intent, date: date, session: session, initialQuantity: fill.quantity.shares, initialStop: stops[intent])
        }
    }

    /// The holdings as the scan of the current session sees them.
    var holdings: [Symbol: Holding] {
        entries.mapValues {
            Holding(
                entryDate: $0.date, sessionsHeld: session - $0.session, initialQuantity: Quantity($0.initialQuantity),
                initialStop: $0.initialStop)
        }
    }
}
