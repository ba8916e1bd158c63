import ASTCore

/// The invariants a drill checks after every round.
public enum DrillInvariant: String, Sendable, Codable, CaseIterable {
    /// Every permanent process is ready again within the recovery timeout.
    case treeRecovers = "tree_recovers"
    /// A broker's death is followed by Safe Mode HALTED within the budget.
    case brokerDeathHalts = "broker_death_halts"
    /// No client order id is accepted by the paper broker twice.
    case noDuplicateOrder = "no_duplicate_order"
    /// Every fill the broker journaled reached the reconciler.
    case everyFillReconciled = "every_fill_reconciled"
    /// Every journal's hash chain verifies.
    case journalsVerify = "journals_verify"
    /// The journals the checks read (the broker's reports, the reconciler's fills) can be read
    /// and every entry they need decodes: an unreadable journal is a failure, never "no duplicates".
    case journalsReadable = "journals_readable"
    /// The book reconciles with the broker's own account.
    case positionsReconcile = "positions_reconcile"
}

/// One broken invariant, in words an operator can act on.
public struct DrillViolation: Sendable, Equatable, Codable, CustomStringConvertible {
    public var round: Int
    public var invariant: DrillInvariant
    public var detail: String

    public init(round: Int, invariant: DrillInvariant, detail: String) {
        self.round = round
        self.invariant = invariant
        self.detail = detail
    }

    public var description: String { "round \(round): \(invariant.rawValue): \(detail)" }
}

/// The outcome of `astctl reconcile` as a drill sees it.
public enum ReconcileCheck: Sendable, Equatable, Codable {
    case clean
    /// A position or order difference that halts trading.
    case mismatch(String)
    /// The reconciliation did not complete (broker unreachable, timeout).
    case incomplete(String)
}

/// What the drill saw after one round, the input of ``InvariantChecker``.
public struct RoundObservation: Sendable, Equatable {
    public var round: PlannedRound
    /// Every permanent process was ready again within the recovery timeout.
    public var recovered: Bool
    /// What was not ready, when ``recovered`` is false.
    public var recoveryDetail: String
    /// The round killed (or hung) a broker process.
    public var brokerDied: Bool
    /// From the broker's death to Safe Mode HALTED; nil when HALTED was never seen.
    public var haltedLatencyMs: Int?
    public var haltBudgetMs: Int
    /// Every execution report the broker journaled as sent, so far (duplicates by id are fine).
    public var brokerReports: [ExecutionReport]
    /// The execution ids of every fill the reconciler journaled as an input, so far.
    public var reconciledExecutionIDs: Set<ExecutionID>
    /// Each journal with its damage, nil when it verifies.
    public var journals: [String: String?]
    public var reconcile: ReconcileCheck
    /// Why a journal the checks needed could not be read (or an entry of it decoded); empty when
    /// all were read. Any entry fails the round: the other checks saw incomplete data.
    public var journalReadErrors: [String]

    public init(
        round: PlannedRound, recovered: Bool, recoveryDetail: String = "", brokerDied: Bool, haltedLatencyMs: Int?,
        haltBudgetMs: Int, brokerReports: [ExecutionReport], reconciledExecutionIDs: Set<ExecutionID>,
        journals: [String: String?], reconcile: ReconcileCheck, journalReadErrors: [String] = []
    ) {
        self.round = round
        self.recovered = recovered
        self.recoveryDetail = recoveryDetail
        self.brokerDied = brokerDied
        self.haltedLatencyMs = haltedLatencyMs
        self.haltBudgetMs = haltBudgetMs
        self.brokerReports = brokerReports
        self.reconciledExecutionIDs = reconciledExecutionIDs
        self.journals = journals
        self.reconcile = reconcile
        self.journalReadErrors = journalReadErrors
    }
}

/// Checks a drill's invariants over each round's observation. A lasting fault (a duplicate
/// order, a lost fill) is reported once, in the round it was first seen.
public struct InvariantChecker: Sendable {
    var reportedDuplicates: Set<ClientOrderID> = []
    var reportedMissingFills: Set<ExecutionID> = []

    public init() {}

    /// Client order ids the broker accepted more than once (distinct reports), with the count.
    public static func duplicateAcceptances(in reports: [ExecutionReport]) -> [(ClientOrderID, Int)] {
        var accepted: [ClientOrderID: Set<String>] = [:]
        for r in reports {
            if case .accepted(let id) = r.event { accepted[id, default: []].insert(r.id) }
        }
        return accepted.filter { $0.value.count > 1 }.map { ($0.key, $0.value.count) }.sorted { $0.0 < $1.0 }
    }

    /// Fills the broker reported that the reconciler has not journaled, in report order.
    public static func unreconciledFills(_ reports: [ExecutionReport], reconciled: Set<ExecutionID>) -> [Fill] {
        var seen = Set<ExecutionID>()
        return reports.compactMap { r -> Fill? in
            guard case .fill(let f) = r.event, !reconciled.contains(f.executionID), seen.insert(f.executionID).inserted else { return nil }
            return f
        }
    }

    /// The violations of one round.
    public mutating func check(_ o: RoundObservation) -> [DrillViolation] {
        let n = o.round.index
        var out: [DrillViolation] = []
        if !o.recovered {
            out.append(
                DrillViolation(
                    round: n, invariant: .treeRecovers,
                    detail: "the tree did not recover after \(o.round.signal) of \(o.round.process): \(o.recoveryDetail)"))
        }
        if o.brokerDied {
            if let latency = o.haltedLatencyMs {
                if latency > o.haltBudgetMs {
                    out.append(
                        DrillViolation(
                            round: n, invariant: .brokerDeathHalts,
                            detail: "HALTED \(latency) ms after \(o.round.process) died (budget \(o.haltBudgetMs) ms)"))
                }
            } else {
                out.append(
                    DrillViolation(
                        round: n, invariant: .brokerDeathHalts,
                        detail: "\(o.round.process) died (\(o.round.signal)) and Safe Mode never showed HALTED"))
            }
        }
        for (id, count) in Self.duplicateAcceptances(in: o.brokerReports) where !reportedDuplicates.contains(id) {
            reportedDuplicates.insert(id)
            out.append(
                DrillViolation(
                    round: n, invariant: .noDuplicateOrder,
                    detail: "client order id \(id) was accepted by the paper broker \(count) times"))
        }
        let missing = Self.unreconciledFills(o.brokerReports, reconciled: o.reconciledExecutionIDs)
            .filter { !reportedMissingFills.contains($0.executionID) }
        for f in missing {
            reportedMissingFills.insert(f.executionID)
            out.append(
                DrillViolation(
                    round: n, invariant: .everyFillReconciled,
                    detail: "fill \(f.executionID) (\(f.clientOrderID) \(f.side) \(f.quantity) \(f.symbol)) never reached the reconciler"))
        }
        for problem in o.journalReadErrors {
            out.append(
                DrillViolation(
                    round: n, invariant: .journalsReadable,
                    detail: "\(problem): the duplicate-order and fill checks did not see the whole journal"))
        }
        for (name, damage) in o.journals.sorted(by: { $0.key < $1.key }) {
            if let damage { out.append(DrillViolation(round: n, invariant: .journalsVerify, detail: "\(name): \(damage)")) }
        }
        switch o.reconcile {
        case .clean: break
        case .mismatch(let d): out.append(DrillViolation(round: n, invariant: .positionsReconcile, detail: "mismatch: \(d)"))
        case .incomplete(let d):
            out.append(DrillViolation(round: n, invariant: .positionsReconcile, detail: "reconciliation did not complete: \(d)"))
        }
        return out
    }
}
