import ASTCore
import ASTExecution
import ASTJournal
import ASTPaperBroker
import ASTRisk
import Foundation

// Replay and checkpoints (M11): a full `astctl replay --verify` compares every checkpoint with
// the state re-executing the entries before it gives (risk and reconciler here, the paper broker
// in Verifier.swift); `astctl replay --verify --from-checkpoint` starts from one checkpoint (its
// chain checked, its state decoded) and re-executes up to the next one, which must come out
// byte for byte.

extension QuarantineCheckpoint {
    /// Without the journal path of the skipped entries: a bundle's copy of a journal lives elsewhere.
    var canonical: QuarantineCheckpoint {
        var c = self
        for i in c.found.indices { c.found[i].journal = "" }
        return c
    }
}

/// The divergence a recorded checkpoint makes with the replayed state, nil when the two encode to
/// the same bytes (after `canonical`) and it covers what replay has folded: every entry the fold
/// applied and none after the checkpoint itself (the replayers compare recorded outputs without
/// folding them, so the fold's own mark may stay behind the entry before the checkpoint).
func checkpointDivergence<S: Codable & Sendable>(
    _ entry: JournalEntry, process: String, foldedThrough: Int64, replayed: S, canonical: (S) -> S, summary: (S) -> String
) -> Divergence? {
    let type = entry.record.type
    guard let recorded = try? JournalCheckpointCoding.decoder.decode(JournalCheckpoint<S>.self, from: Data(entry.record.body)) else {
        return Divergence(process: process, seq: entry.seq, type: type, what: "the checkpoint does not decode")
    }
    guard recorded.covers >= foldedThrough, recorded.covers < entry.seq else {
        return Divergence(
            process: process, seq: entry.seq, type: type,
            what: "the checkpoint covers entry \(recorded.covers), replay has folded through entry \(foldedThrough)")
    }
    let a = try? JournalCheckpoint(process: "", covers: 0, state: canonical(recorded.state)).encoded()
    let b = try? JournalCheckpoint(process: "", covers: 0, state: canonical(replayed)).encoded()
    guard let a, let b, a == b else {
        return Divergence(
            process: process, seq: entry.seq, type: type,
            what: "the checkpoint differs from the state re-executing the entries before it gives",
            expected: summary(recorded.state), got: summary(replayed))
    }
    return nil
}

extension RiskReplayer {
    /// A checkpoint must be what re-executing every entry before it gives, byte for byte. One
    /// made under other risk limits than replay runs with is named as such (the journal was
    /// written under another configuration: replay it with that one).
    mutating func compareCheckpoint(_ entry: JournalEntry) {
        if let recorded = try? JournalCheckpointCoding.decoder.decode(JournalCheckpoint<RiskFoldState>.self, from: Data(entry.record.body)),
            recorded.state.limits != fold.limits
        {
            log.record(
                Divergence(
                    process: process, seq: entry.seq, type: entry.record.type,
                    what:
                        "the checkpoint was made under other risk limits than replay runs with (replay with the configuration in force then)",
                    expected: "\(recorded.state.limits)", got: "\(fold.limits)"))
            return
        }
        let d = checkpointDivergence(
            entry, process: process, foldedThrough: fold.foldedThrough, replayed: fold.checkpointState,
            canonical: { s in
                var s = s
                s.quarantine = s.quarantine.canonical
                return s
            },
            summary: { s in
                let gate = s.gate.map { "\($0.state.rawValue) since \($0.since), \($0.decided.count) decisions remembered" } ?? "no gate"
                return "\(gate), \(s.inputs) inputs"
            })
        if let d { log.record(d) } else { compared += 1 }
    }
}

extension ReconcilerReplayer {
    /// A checkpoint must be what re-executing every entry before it gives, byte for byte.
    mutating func compareCheckpoint(_ entry: JournalEntry) {
        let d = checkpointDivergence(
            entry, process: process, foldedThrough: fold.foldedThrough, replayed: fold.checkpointState,
            canonical: { s in
                var s = s
                s.quarantine = s.quarantine.canonical
                return s
            },
            summary: { s in
                "cash \(s.core.portfolio.cash), \(s.core.portfolio.positions.count) positions, \(s.core.book.orders.count) orders, \(s.inputs) inputs"
            })
        if let d { log.record(d) } else { compared += 1 }
    }
}

/// The re-execution of one journal from one checkpoint up to the next
/// (``ReplayVerifier/verifyFromCheckpoint(path:config:checkpoint:)``).
public struct CheckpointSpanReport: Sendable, Codable {
    public var process: String
    public var path: String
    /// The checkpoint started from (nil when none could be chosen) and the entry it covers.
    public var from: Int64?
    public var covers: Int64?
    /// The next checkpoint, compared with the re-executed state; nil: none, re-executed to the end.
    public var to: Int64?
    /// Every checkpoint of the journal, oldest first.
    public var checkpoints: [Int64]
    public var entries: Int
    public var inputs: Int
    public var outputsCompared: Int
    /// Why the start checkpoint could not be used (its chain, its body, its coverage).
    public var problem: String?
    public var divergences: [Divergence]
    public var divergenceCount: Int
    public var notes: [String]

    public var identical: Bool { problem == nil && divergenceCount == 0 }

    /// For an operator.
    public func text() -> String {
        var lines: [String] = []
        let span =
            from.map { f in
                "from checkpoint \(f) (covers entry \(covers ?? 0)) "
                    + (to.map { "to checkpoint \($0)" } ?? "to the end (no later checkpoint)")
            } ?? "no checkpoint"
        lines.append("\(process): \(span): \(entries) entries, \(inputs) inputs re-executed, \(outputsCompared) outputs identical")
        if let problem { lines.append("  CHECKPOINT UNUSABLE: \(problem)") }
        for (i, d) in divergences.prefix(VerificationReport.printedPerProcess).enumerated() {
            lines.append("  [\(i + 1)/\(divergenceCount)] DIVERGED at \(d)")
        }
        for note in notes { lines.append("  note: \(note)") }
        lines.append(identical ? "  IDENTICAL" : "  NOT IDENTICAL")
        return lines.joined(separator: "\n")
    }
}

extension ReplayVerifier {
    /// Re-executes the journal at `path` from the checkpoint at entry `checkpoint` (nil: the
    /// newest one that has a later one, else the newest) up to the next checkpoint, which must
    /// be what the re-execution gives, byte for byte; the outputs recorded in between are
    /// compared as a full replay compares them. The start checkpoint's place in the hash chain is
    /// checked first: an edited one is reported, never started from. Processes without
    /// checkpoints (or unknown to replay) are reported as such.
    public static func verifyFromCheckpoint(path: String, config: ReplaySettings, checkpoint: Int64?) -> CheckpointSpanReport {
        var report = CheckpointSpanReport(
            process: "?", path: path, checkpoints: [], entries: 0, inputs: 0, outputsCompared: 0, divergences: [], divergenceCount: 0,
            notes: [])
        do {
            let reader = try JournalReader(path: path)
            report.process = reader.process
            try reader.scan(fromSeq: 1, types: [EntryTypes.checkpoint]) { entry in
                report.checkpoints.append(entry.seq)
                return true
            }
            let chosen: Int64
            if let checkpoint {
                guard report.checkpoints.contains(checkpoint) else {
                    report.problem =
                        "entry \(checkpoint) is not a checkpoint of \(reader.process) (its checkpoints: \(shown(report.checkpoints)))"
                    return report
                }
                chosen = checkpoint
            } else {
                guard let last = report.checkpoints.last else {
                    report.problem = "\(reader.process) has no checkpoint"
                    return report
                }
                chosen = report.checkpoints.count > 1 ? report.checkpoints[report.checkpoints.count - 2] : last
            }
            report.from = chosen
            // The checkpoint and the entry before it: its chain link.
            var start: JournalEntry?
            var previousHash: [UInt8]? = chosen == 1 ? [UInt8](repeating: 0, count: 32) : nil
            try reader.scan(fromSeq: max(1, chosen - 1), types: nil) { entry in
                if entry.seq == chosen - 1 { previousHash = entry.hash }
                if entry.seq == chosen { start = entry }
                return entry.seq < chosen
            }
            guard let start else {
                report.problem = "entry \(chosen) could not be read"
                return report
            }
            if let problem = CheckpointCandidate.chainProblem(start, previousHash: previousHash) {
                report.problem = "the checkpoint's hash chain does not verify: \(problem) (edited or damaged)"
                return report
            }
            var replayer: any Replayer
            let covers: Int64
            switch reader.process.split(separator: "@").first.map(String.init) ?? reader.process {
            case "risk":
                let saved = try decodeCheckpoint(RiskFoldState.self, start, process: reader.process)
                var r = RiskReplayer(process: reader.process, journal: path, limits: saved.state.limits)
                r.fold = try RiskJournalFold(process: reader.process, journal: path, restoring: saved.state, covers: saved.covers)
                if saved.state.limits != config.riskLimits {
                    report.notes.append("re-executed under the risk limits the checkpoint records, not the configuration's")
                }
                (replayer, covers) = (r, saved.covers)
            case "reconciler":
                let saved = try decodeCheckpoint(ReconcilerFoldState.self, start, process: reader.process)
                var r = ReconcilerReplayer(process: reader.process, journal: path)
                r.fold = ReconcilerJournalFold(process: reader.process, journal: path, restoring: saved.state, covers: saved.covers)
                (replayer, covers) = (r, saved.covers)
            case "broker":
                let saved = try decodeCheckpoint(PaperFoldState.self, start, process: reader.process)
                var r = PaperReplayer(process: reader.process, journal: path, config: saved.state.exchange.config)
                r.fold = PaperJournalFold(name: reader.process, journal: path, restoring: saved.state)
                // Reports produced before the checkpoint and not yet seen sent may be sent after it.
                for unsent in saved.state.unsent { r.unsent[unsent.id] = (unsent, saved.covers) }
                (replayer, covers) = (r, saved.covers)
            default:
                report.problem = "replay does not re-execute \(reader.process)"
                return report
            }
            report.covers = covers
            let inputsBefore = replayer.inputs
            try reader.scan(fromSeq: covers + 1, types: nil) { entry in
                guard entry.seq != chosen else { return true }
                report.entries += 1
                replayer.feed(entry)
                if entry.record.type == EntryTypes.checkpoint {
                    report.to = entry.seq
                    return false
                }
                return true
            }
            replayer.finish()
            report.inputs = replayer.inputs - inputsBefore
            report.outputsCompared = replayer.compared
            report.notes += replayer.notes
            report.divergences = replayer.log.kept
            report.divergenceCount = replayer.log.count
        } catch {
            report.problem = report.problem ?? "\(error)"
        }
        return report
    }

    /// The checkpoint in `entry` as `S`, its coverage possible.
    static func decodeCheckpoint<S: Codable & Sendable>(_: S.Type, _ entry: JournalEntry, process: String) throws -> JournalCheckpoint<S> {
        switch JournalCheckpoint<S>.decode(entry.record.body, process: process).flatMap({ CheckpointStart.checkCoverage($0, of: entry) }) {
        case .success(let saved): return saved
        case .failure(let why): throw ReplayError("checkpoint at entry \(entry.seq): \(why)")
        }
    }

    static func shown(_ seqs: [Int64]) -> String {
        seqs.isEmpty ? "none" : seqs.prefix(20).map(String.init).joined(separator: ", ") + (seqs.count > 20 ? " ..." : "")
    }
}
