import ASTCore
import ASTJournal
import ASTTestKit
import ASTWire
import Foundation
import Logging
import Testing

@testable import ASTReplay

/// Strategy, market data and notifier are not re-executed, but a crash between an input and its
/// output is recognised from the journal's shape (``RestartNoteReplayer``): noted once, only when
/// the restarted process produces the interrupted input's output, never a divergence.
@Suite struct RestartNoteTests {
    func write(_ path: String, process: String, _ records: [JournalRecord]) throws {
        let journal = try Journal(path: path, process: process, logger: Logger(label: "test"))
        defer { try? journal.close() }
        for r in records { try journal.append(r, durability: .batched) }
    }

    func started(_ t: Timestamp) -> JournalRecord {
        JournalRecord(kind: .state, type: EntryTypes.processStarted, timestamp: t, body: [])
    }

    func marketData(_ type: String, _ t: Timestamp) throws -> JournalRecord {
        let p = EntryTypes.MarketData.Progress(time: t, session: "2025-07-01", index: 1, of: 1, what: "bars")
        return JournalRecord(
            kind: type == EntryTypes.MarketData.beat ? .decision : .state, type: type, timestamp: t, body: Array(try sorted.encode(p)))
    }

    @Test func aMarketDataBeatPlayedAgainAfterARestartIsOneNote() throws {
        let dir = try TemporaryDirectory(prefix: "replay-restart-note")
        defer { dir.remove() }
        let (beat, progress) = (EntryTypes.MarketData.beat, EntryTypes.MarketData.progress)
        try write(
            dir("marketdata@main.sqlite"), process: "marketdata@main",
            [
                started(t0), try marketData(beat, at(1)), try marketData(progress, at(1)), try marketData(beat, at(2)),
                started(at(3)), try marketData(beat, at(2)), try marketData(progress, at(2)), try marketData(beat, at(4)),
                started(at(5)), try marketData(beat, at(6)), try marketData(progress, at(6)),
            ])
        let r = ReplayVerifier.replay(path: dir("marketdata@main.sqlite"), config: ReplaySettings())
        // The beat at 2 was played again after the first restart; the one at 4 never was (the
        // next run went on at 6): no output of it came late, so no note.
        #expect(r.notes.count == 1 && r.notes[0].contains("a crash between input and output"), "\(r.notes)")
        #expect(r.notes.first?.contains("entry 4 (marketdata.beat)") == true, "\(r.notes)")
        #expect(r.divergenceCount == 0 && !r.reexecuted && r.inputs == 5)
    }

    @Test func aStrategyScheduleDoneOnlyAfterTheRestartIsANote() throws {
        let dir = try TemporaryDirectory(prefix: "replay-restart-note")
        defer { dir.remove() }
        let sender = ProcessIdentity(role: .marketdata)
        func time(_ t: Timestamp, _ id: String) -> JournalRecord {
            message(.received, .marketTime(MarketTime(now: t)), from: sender, id: id, correlation: nil, at: t, peer: "marketdata@main")
        }
        struct Schedule: Encodable { var task: String, time: Timestamp, fired: Bool, detail: String }
        func schedule(_ t: Timestamp) throws -> JournalRecord {
            JournalRecord(
                kind: .decision, type: EntryTypes.Strategy.schedule, timestamp: t,
                body: Array(try sorted.encode(Schedule(task: "full_scan", time: t, fired: true, detail: ""))))
        }
        try write(
            dir("strategy@main.sqlite"), process: "strategy@main",
            [started(t0), time(at(1), "m1"), try schedule(at(1)), time(at(2), "m2"), started(at(3)), try schedule(at(2))])
        let r = ReplayVerifier.replay(path: dir("strategy@main.sqlite"), config: ReplaySettings())
        #expect(r.notes.count == 1 && r.notes[0].contains("entry 4 (market.time)"), "\(r.notes)")
        #expect(r.divergenceCount == 0)
    }
}
