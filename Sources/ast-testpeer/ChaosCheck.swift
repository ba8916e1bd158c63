// `ast-testpeer chaos-check DIR`: scripts/chaos-systemd's order and fill checks over a COPY of a
// tree's journal directory (never the live files): no order twice, no fill lost. Prints what it
// saw and exits 1 when a check fails or a journal the checks need cannot be read.
import ASTCore
import ASTDrill
import ASTExecution
import ASTJournal
import ASTWire
import ArgumentParser
import Foundation

/// The broker's and the reconciler's journals as the chaos checks read them.
struct ChaosJournals {
    /// Every `order.submit` the broker journaled as received, in journal order (re-sends included).
    var submits: [Approval] = []
    /// Every execution report the broker journaled as sent (re-sent reports included).
    var reports: [ExecutionReport] = []
    /// The execution ids of every fill the reconciler journaled as an input.
    var reconciled: Set<ExecutionID> = []

    /// Reads `broker.sqlite` and `reconciler@main.sqlite` in `directory`; an entry of a needed type
    /// that does not decode is an error, never skipped.
    static func read(directory: String, broker: String) throws -> ChaosJournals {
        var out = ChaosJournals()
        let brokerPath = "\(directory)/\(broker).sqlite"
        try Journal.readEntries(path: brokerPath, types: [MessageType.orderSubmit.rawValue, MessageType.executionReport.rawValue]) { e in
            switch e.record.kind {
            case .received where e.record.type == MessageType.orderSubmit.rawValue:
                guard case .orderSubmit(let a) = try EnvelopeCodec.decode(e.record.body).message else {
                    throw ValidationError("\(brokerPath) seq \(e.seq): an order.submit entry holds another message")
                }
                out.submits.append(a)
            case .sent where e.record.type == MessageType.executionReport.rawValue:
                guard case .executionReport(let r) = try EnvelopeCodec.decode(e.record.body).message else {
                    throw ValidationError("\(brokerPath) seq \(e.seq): an execution.report entry holds another message")
                }
                out.reports.append(r)
            default:
                break
            }
        }
        let decoder = JSONDecoder()
        try Journal.readEntries(path: "\(directory)/reconciler@main.sqlite", types: [EntryTypes.Reconciler.input]) { e in
            guard e.record.kind == .received else { return }
            let input = try decoder.decode(ReconcilerInput.self, from: Data(e.record.body))
            if case .report(let r) = input, case .fill(let f) = r.event { out.reconciled.insert(f.executionID) }
        }
        return out
    }
}

/// What the checks found: counts for the summary and the violations (empty when all hold).
struct ChaosCheckResult {
    var submits = 0
    var approvals = 0
    var resentSubmits = 0
    var acceptedOrders = 0
    var fills = 0
    var fillReports = 0
    var reconciledFills = 0
    var violations: [String] = []

    /// No order twice: every re-sent `order.submit` under one approval id is the same approval
    /// (a legitimate re-send after a crash, which the broker dedupes), no client order id is
    /// accepted by two distinct reports, and no order is filled for more than it asked. No fill
    /// lost: every fill the broker reported reached the reconciler, and one execution id never
    /// stands for two different fills.
    static func check(_ j: ChaosJournals) -> ChaosCheckResult {
        var r = ChaosCheckResult()
        r.submits = j.submits.count
        var byID: [ApprovalID: [Approval]] = [:]
        var order: [ApprovalID] = []
        for a in j.submits {
            if byID[a.id] == nil { order.append(a.id) }
            byID[a.id, default: []].append(a)
        }
        r.approvals = order.count
        r.resentSubmits = r.submits - r.approvals
        var legQuantity: [ClientOrderID: Quantity] = [:]
        for id in order {
            let copies = byID[id] ?? []
            if let first = copies.first {
                if copies.contains(where: { $0 != first }) {
                    r.violations.append("two different orders under approval id \(id) (\(copies.count) submits)")
                }
                for leg in BracketBuilder.bracket(for: first).legs { legQuantity[leg.clientOrderID] = leg.quantity }
            }
        }
        for (id, count) in InvariantChecker.duplicateAcceptances(in: j.reports) {
            r.violations.append("client order id \(id) accepted by \(count) distinct reports: an order placed twice")
        }
        var accepted = Set<ClientOrderID>()
        var fills: [ExecutionID: Fill] = [:]
        var filled: [ClientOrderID: Int64] = [:]
        for report in j.reports {
            switch report.event {
            case .accepted(let id):
                accepted.insert(id)
            case .fill(let f):
                r.fillReports += 1
                if let known = fills[f.executionID] {
                    if known != f { r.violations.append("execution id \(f.executionID) reported for two different fills") }
                    continue
                }
                fills[f.executionID] = f
                let (sum, overflow) = filled[f.clientOrderID, default: 0].addingReportingOverflow(f.quantity.shares)
                filled[f.clientOrderID] = overflow ? Int64.max : sum
            default:
                break
            }
        }
        r.acceptedOrders = accepted.count
        r.fills = fills.count
        for (id, total) in filled.sorted(by: { $0.key < $1.key }) {
            guard let asked = legQuantity[id] else {
                r.violations.append("fills of \(id) (\(total) shares) for an order no order.submit asked for")
                continue
            }
            if total > asked.shares { r.violations.append("\(id) filled \(total) shares of the \(asked.shares) asked: filled twice") }
        }
        let lost = InvariantChecker.unreconciledFills(j.reports, reconciled: j.reconciled)
        r.reconciledFills = fills.keys.filter { j.reconciled.contains($0) }.count
        for f in lost {
            r.violations.append(
                "fill \(f.executionID) (\(f.clientOrderID) \(f.side) \(f.quantity) \(f.symbol)) never reached the reconciler")
        }
        return r
    }

    var summary: String {
        """
        broker: \(submits) order.submit received for \(approvals) approval(s) (\(resentSubmits) re-sent copies), \
        \(acceptedOrders) order(s) accepted, \(fills) fill(s) (\(fillReports) fill reports, re-sends included); \
        reconciler: \(reconciledFills) of those fills; violations: \(violations.count)
        """
    }
}

struct ChaosCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chaos-check",
        abstract: "No order twice, no fill lost, over a copy of a tree's journal directory (scripts/chaos-systemd).")
    @Argument(help: "A copy of the journal directory (never the live one).") var directory: String
    @Option(help: "The broker process whose journal holds the orders.") var broker: String = "broker@paper"
    @Flag(help: "Exit 1 when no fill happened (the checks then saw nothing to check).") var requireFills = false

    func run() throws {
        let journals: ChaosJournals
        do {
            journals = try ChaosJournals.read(directory: directory, broker: broker)
        } catch {
            print("chaos-check: cannot read the journals in \(directory): \(error)")
            throw ExitCode(1)
        }
        let result = ChaosCheckResult.check(journals)
        print(result.summary)
        for v in result.violations { print("VIOLATION: \(v)") }
        if !result.violations.isEmpty { throw ExitCode(1) }
        if requireFills, result.fills == 0 {
            print("chaos-check: no fill happened: the no-order-twice and no-fill-lost checks saw nothing")
            throw ExitCode(1)
        }
    }
}
