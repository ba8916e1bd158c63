import ASTJournal
import Foundation
import Logging

/// Benchmark 3: journal commits against plain SQLite doing the same work, in the same
/// directory, on fresh files for every repetition.
///
/// - durable: `Journal.append(_, durability: .durable)` one entry at a time (each a transaction
///   with `synchronous=FULL`, so one fsync of the WAL each) against raw SQLite in WAL mode with
///   `synchronous=FULL` inserting one row per transaction.
/// - batched: `Journal.append(_, durability: .batched)` for every row and one `flush()` at the
///   end (the journal commits every `batchLimit` = 1024 entries, `synchronous=NORMAL`) against
///   raw SQLite inserting the same rows in one transaction per 1024 rows, `synchronous=NORMAL`.
///
/// The sides run in alternating chunks (10 durable commits, or 1024 batched rows, one side
/// then the other, taking turns at going first), each timing only its own chunks: fsync latency
/// on a shared virtual disk drifts by an order of magnitude within seconds, and a paired run
/// exposes both sides to the same disk. The durable run has a third side, raw SQLite that also
/// updates the journal's one-row `head` table in every transaction, to show what that row costs.
struct JournalBenchmarks: Sendable {
    var repetitions: Int
    var durableCommits: Int
    var batchedRows: Int
    var scratch: ScratchDirectory
    var logger: Logger

    static let durableChunk = 10
    static let rawBatch = 1024

    struct Summary {
        var durable: LatencySummary
        var rawDurable: LatencySummary
        /// Raw SQLite that also updates the journal's head row in every transaction.
        var rawDurableWithHead: LatencySummary
        var headRatio: Double
        /// Median over the repetitions of journal / raw, each repetition's pair measured together.
        var durableRatio: Double
        var batched: Double
        var rawBatched: Double
        var batchedRatio: Double
    }

    func run(progress: (String) -> Void) throws -> Summary {
        let ids = Fixtures.messageIDs(max(durableCommits, batchedRows))
        // Warm-up: a short untimed run of each.
        _ = try durablePair(ids: ids, count: min(durableCommits, 100), repetition: 0)
        _ = try batchedPair(ids: ids, count: min(batchedRows, 20_000), repetition: 0)

        var durable: [LatencySample] = [], rawDurable: [LatencySample] = [], withHead: [LatencySample] = []
        for rep in 1...repetitions {
            let (j, r, h) = try durablePair(ids: ids, count: durableCommits, repetition: rep)
            durable.append(j)
            rawDurable.append(r)
            withHead.append(h)
            progress(
                "journal durable \(rep)/\(repetitions): journal \(Format.rate(j.perSecond))/s, raw \(Format.rate(r.perSecond))/s, "
                    + "raw with head row \(Format.rate(h.perSecond))/s")
        }
        var batched: [Double] = [], rawBatched: [Double] = []
        for rep in 1...repetitions {
            let (j, r) = try batchedPair(ids: ids, count: batchedRows, repetition: rep)
            batched.append(j)
            rawBatched.append(r)
            progress("journal batched \(rep)/\(repetitions): journal \(Format.rate(j))/s, raw \(Format.rate(r))/s")
        }
        return Summary(
            durable: LatencySummary(durable), rawDurable: LatencySummary(rawDurable),
            rawDurableWithHead: LatencySummary(withHead),
            headRatio: Stats.median(zip(withHead, rawDurable).map { $0.perSecond / $1.perSecond }),
            durableRatio: Stats.median(zip(durable, rawDurable).map { $0.perSecond / $1.perSecond }),
            batched: Stats.median(batched), rawBatched: Stats.median(rawBatched),
            batchedRatio: Stats.median(zip(batched, rawBatched).map { $0 / $1 }))
    }

    /// `count` durable commits on each side, every one timed. The third side is raw SQLite that
    /// also moves the journal's head row in every transaction.
    func durablePair(ids: [String], count: Int, repetition: Int) throws -> (
        journal: LatencySample, raw: LatencySample, rawWithHead: LatencySample
    ) {
        let journalPath = scratch("journal-durable-\(repetition).sqlite")
        let (rawPath, headPath) = (scratch("raw-durable-\(repetition).sqlite"), scratch("raw-head-durable-\(repetition).sqlite"))
        defer { remove(journalPath, rawPath, headPath) }
        let journal = try Journal(path: journalPath, process: "risk@bench", logger: logger)
        defer { try? journal.close() }
        let (raw, row) = try rawSetUp(rawPath, synchronous: .full)
        let (rawWithHead, _) = try rawSetUp(headPath, synchronous: .full, withHead: true)
        var times: [[UInt64]] = Array(repeating: [], count: 3)
        for i in times.indices { times[i].reserveCapacity(count) }

        func chunk(_ side: Int, _ range: Range<Int>) throws {
            for i in range {
                let t0 = Monotonic.now()
                switch side {
                case 0:
                    try journal.append(Fixtures.record(id: ids[i], at: i), durability: .durable)
                case 1:
                    try raw.beginTransaction()
                    try raw.insert(row(i, ids[i]))
                    try raw.commitTransaction()
                default:
                    let r = row(i, ids[i])
                    try rawWithHead.beginTransaction()
                    try rawWithHead.insert(r)
                    try rawWithHead.commitTransaction(last: r)
                }
                times[side].append(Monotonic.now() - t0)
            }
        }
        for (n, start) in stride(from: 0, to: count, by: Self.durableChunk).enumerated() {
            let range = start..<min(start + Self.durableChunk, count)
            // Rotate which side goes first.
            for k in 0..<3 { try chunk((n + k) % 3, range) }
        }
        let samples = times.map { LatencySample(nanoseconds: $0, elapsed: $0.reduce(0, +)) }
        return (samples[0], samples[1], samples[2])
    }

    /// Entries per second on each side for `count` batched rows; the journal's time includes its
    /// final `flush()`.
    func batchedPair(ids: [String], count: Int, repetition: Int) throws -> (journal: Double, raw: Double) {
        let (journalPath, rawPath) = (scratch("journal-batched-\(repetition).sqlite"), scratch("raw-batched-\(repetition).sqlite"))
        defer { remove(journalPath, rawPath) }
        let journal = try Journal(path: journalPath, process: "risk@bench", logger: logger)
        defer { try? journal.close() }
        let (raw, row) = try rawSetUp(rawPath, synchronous: .normal)
        var journalTime: UInt64 = 0, rawTime: UInt64 = 0

        // The journal commits by itself when 1024 entries are pending: chunks line up with its commits.
        func journalChunk(_ range: Range<Int>) throws {
            let t0 = Monotonic.now()
            for i in range { try journal.append(Fixtures.record(id: ids[i], at: i), durability: .batched) }
            if range.upperBound == count { try journal.flush() }
            journalTime += Monotonic.now() - t0
        }
        func rawChunk(_ range: Range<Int>) throws {
            let t0 = Monotonic.now()
            try raw.beginTransaction()
            for i in range { try raw.insert(row(i, ids[i])) }
            try raw.commitTransaction()
            rawTime += Monotonic.now() - t0
        }
        for (n, start) in stride(from: 0, to: count, by: Self.rawBatch).enumerated() {
            let range = start..<min(start + Self.rawBatch, count)
            if n % 2 == 0 {
                try journalChunk(range)
                try rawChunk(range)
            } else {
                try rawChunk(range)
                try journalChunk(range)
            }
        }
        return (Double(count) / (Double(journalTime) / 1e9), Double(count) / (Double(rawTime) / 1e9))
    }

    /// A raw database and a function making row `i` with the journal's values (two fixed
    /// 32-byte hashes stand in for the chain).
    func rawSetUp(_ path: String, synchronous: RawSQLite.Synchronous, withHead: Bool = false) throws -> (
        RawSQLite, (Int, String) -> RawSQLite.Row
    ) {
        let db = try RawSQLite(path: path, synchronous: synchronous, withHead: withHead)
        let prev = [UInt8](repeating: 0xA5, count: 32), hash = [UInt8](repeating: 0x5A, count: 32)
        let body = Fixtures.probeBytes
        let base = Fixtures.timestamp.nanoseconds
        return (
            db,
            { i, id in
                RawSQLite.Row(
                    seq: Int64(i + 1), ts: base + Int64(i), messageID: id, correlationID: Fixtures.correlationID,
                    peer: Fixtures.peer, body: body, prevHash: prev, hash: hash)
            }
        )
    }

    func remove(_ paths: String...) {
        for path in paths {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
    }
}
