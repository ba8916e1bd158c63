import ASTCore
import ASTExecution
import ASTJournal
import ASTReplay
import ASTReport
import ASTRisk
import ASTTestKit
import Foundation
import Logging
import Testing

/// The peak resident set of this process, from /proc (`VmHWM`, kB), and a reset of that peak
/// (writing 5 to `clear_refs`), so that one step's peak can be read on its own.
enum PeakRSS {
    static func kilobytes(_ field: String = "VmHWM") -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        }
        return nil
    }

    static func reset() -> Bool {
        (try? Data("5".utf8).write(to: URL(fileURLWithPath: "/proc/self/clear_refs"))) != nil
    }

    /// How far the peak rose above the resident set at the start while `body` ran, in MB.
    static func growth(_ body: () throws -> Void) rethrows -> Double? {
        guard reset(), let before = kilobytes("VmRSS") else {
            try body()
            return nil
        }
        try body()
        guard let peak = kilobytes() else { return nil }
        return Double(max(0, peak - before)) / 1024
    }
}

/// A reconciler journal of 200,000 entries, read by the run report and by replay verify: both
/// stream it (one entry at a time), so their peak memory does not grow with its length.
@Suite(.serialized) struct BoundedMemoryTests {
    static let entries = 200_000

    func write(_ dir: TemporaryDirectory) throws -> String {
        try FileManager.default.createDirectory(atPath: dir("journal"), withIntermediateDirectories: true)
        let path = dir("journal/reconciler@main.sqlite")
        let journal = try Journal(path: path, process: "reconciler@main", logger: Logger(label: "test"))
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let start = Timestamp(nanoseconds: 1_751_356_800_000_000_000)
        let initial = JournalRecord(
            kind: .received, type: EntryTypes.Reconciler.input, timestamp: start,
            body: Array(try encoder.encode(ReconcilerInput.initial(cash: Money("100000.00")!))))
        try journal.append(initial, durability: .batched)
        var batch: [JournalRecord] = []
        for i in 1..<Self.entries {
            let t = start.advanced(by: .seconds(Int64(i)))
            let mark = ReconcilerInput.mark(MarketMark(symbol: "AAPL", price: Price(units: 1_000_000 + Int64(i % 1_000)), at: t))
            batch.append(
                JournalRecord(kind: .received, type: EntryTypes.Reconciler.input, timestamp: t, body: Array(try encoder.encode(mark))))
            if batch.count == 5_000 {
                try journal.append(batch, durability: .batched)
                batch.removeAll(keepingCapacity: true)
            }
        }
        if !batch.isEmpty { try journal.append(batch, durability: .batched) }
        try journal.close()
        return path
    }

    @Test func reportAndReplayOfA200kEntryJournalStayWithinABoundedPeak() throws {
        let dir = try TemporaryDirectory(prefix: "ast-bigjournal")
        defer { dir.remove() }
        let path = try write(dir)

        var report: RunReport?
        let clock = ContinuousClock()
        var reportTime = Duration.zero, replayTime = Duration.zero
        let reportMB = try PeakRSS.growth {
            reportTime = try clock.measure { report = try RunReportBuilder.build(stateDirectory: dir.path) }
        }
        var replay: ProcessReplay?
        let replayMB = PeakRSS.growth {
            replayTime = clock.measure { replay = ReplayVerifier.replay(path: path, config: ReplaySettings()) }
        }
        // For comparison only: what loading every entry into an array (the former reading) costs.
        var count = 0
        let arrayMB = try PeakRSS.growth { count = try Journal.readEntries(path: path).count }
        print(
            "bounded-memory: \(Self.entries) entries; report peak +\(reportMB.map { String(format: "%.1f", $0) } ?? "?") MB in \(reportTime),"
                + " replay verify peak +\(replayMB.map { String(format: "%.1f", $0) } ?? "?") MB in \(replayTime),"
                + " all entries in an array +\(arrayMB.map { String(format: "%.1f", $0) } ?? "?") MB")

        #expect(count == Self.entries)
        #expect(replay?.inputs == Self.entries && replay?.divergenceCount == 0, "\(replay.map { "\($0.notes)" } ?? "")")
        #expect(report?.totals.equityEnd == Money("100000.00")!, "\(report?.problems ?? [])")
        if let reportMB, let replayMB {
            #expect(reportMB < 64, "the report's peak grew by \(reportMB) MB over a \(Self.entries)-entry journal")
            #expect(replayMB < 64, "replay's peak grew by \(replayMB) MB over a \(Self.entries)-entry journal")
        }
    }
}
