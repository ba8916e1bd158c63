import FoundationEssentials
import GRDBSQLite
import Glibc

/// The outcome of ``Journal/verify(path:)``.
public struct JournalVerification: Sendable, Equatable, CustomStringConvertible {
    public var path: String
    /// How many entries verified, from entry 1 up to the first damage.
    public var entries: Int
    /// The seq of the last entry that verified (0 if none did).
    public var lastSeq: Int64
    /// What is wrong, or nil if the journal is clean.
    public var damage: JournalDamage?

    public var isClean: Bool { damage == nil }

    public init(path: String, entries: Int, lastSeq: Int64, damage: JournalDamage?) {
        self.path = path
        self.entries = entries
        self.lastSeq = lastSeq
        self.damage = damage
    }

    public var description: String {
        guard let damage else { return "journal \(path): clean, \(entries) entries, last seq \(lastSeq)" }
        return "journal \(path): DAMAGED, \(damage); \(entries) entries verified before it"
    }
}

/// The first thing found wrong in a journal.
public struct JournalDamage: Sendable, Equatable, CustomStringConvertible {
    /// What kind of damage, named for what happened to the file.
    public enum Kind: String, Sendable {
        /// An entry's stored hash does not match its contents, or a column holds the wrong type.
        case editedEntry
        /// An entry's previous-hash does not match the entry before it (reordered or replaced
        /// rows), or the head does not match the last entry.
        case brokenChain
        /// A sequence number is missing.
        case gap
        /// Entries are missing at the end: the head records a later entry than the last one.
        case truncatedTail
        /// SQLite could not read the file (byte-level damage, I/O error, missing file).
        case unreadable
        /// The file is not an AST journal (another database, or not SQLite at all).
        case notAJournal
    }

    public var kind: Kind
    /// The first entry that cannot be trusted; 1 when the whole file is affected.
    public var firstBadSeq: Int64
    /// What was found, for an operator: `entry 17: stored hash does not match its contents (edited?)`.
    public var detail: String

    public init(kind: Kind, firstBadSeq: Int64, detail: String) {
        self.kind = kind
        self.firstBadSeq = firstBadSeq
        self.detail = detail
    }

    public var description: String { "\(kind.rawValue) at entry \(firstBadSeq): \(detail)" }

    static func edited(_ seq: Int64) -> JournalDamage {
        JournalDamage(kind: .editedEntry, firstBadSeq: seq, detail: "entry \(seq): stored hash does not match its contents (edited?)")
    }

    static func missingStart(first: Int64) -> JournalDamage {
        JournalDamage(kind: .gap, firstBadSeq: min(first, 1), detail: "the first entry is \(first), not 1")
    }
}

extension Journal {
    /// Recomputes the whole chain from entry 1 and reports the first damage, if any.
    ///
    /// Opens the file read-only and never modifies it (SQLite may create the `-wal` and `-shm`
    /// files beside it to read a WAL database). Safe while the owning process is running.
    public static func verify(path: String) -> JournalVerification {
        func fileDamage(_ kind: JournalDamage.Kind, _ detail: String) -> JournalVerification {
            JournalVerification(path: path, entries: 0, lastSeq: 0, damage: JournalDamage(kind: kind, firstBadSeq: 1, detail: detail))
        }
        func fileDamage(_ error: any Error) -> JournalVerification {
            switch journalError(error, path: path, operation: "verifying") {
            case .notAJournal(_, let detail): return fileDamage(.notAJournal, detail)
            case .damaged(_, let damage): return JournalVerification(path: path, entries: 0, lastSeq: 0, damage: damage)
            case .storage(_, _, let cause): return fileDamage(.unreadable, cause)
            case let other: return fileDamage(.unreadable, "\(other)")
            }
        }

        guard FileManager.default.fileExists(atPath: path) else { return fileDamage(.unreadable, "no such file") }
        do {
            let reader = try JournalReader(path: path, label: "journal-verify")
            return try reader.read { db in
                let anchor = try ChainAnchor.read(in: db, path: path)
                var start = ChainAnchor.origin
                var archived = 0
                if anchor.seq > 0 {
                    // The archived segments first, each continuing the previous, up to the anchor.
                    let (segments, reached) = JournalSegments.chain(forLive: path, anchor: anchor.seq)
                    for segment in segments {
                        let result = try verifySegment(segment, from: start, process: reader.process)
                        archived += result.verification.entries
                        if let damage = result.verification.damage {
                            var shown = damage
                            shown.detail = "archived \(segment): \(damage.detail)"
                            return JournalVerification(path: path, entries: archived, lastSeq: result.verification.lastSeq, damage: shown)
                        }
                        start = result.end
                    }
                    guard reached == anchor.seq else {
                        let damage = JournalSegments.missing(path, reached: reached, anchor: anchor.seq)
                        return JournalVerification(path: path, entries: archived, lastSeq: start.seq, damage: damage)
                    }
                    guard start.hash == anchor.hash else {
                        let damage = JournalDamage(
                            kind: .brokenChain, firstBadSeq: anchor.seq,
                            detail: "the live file's anchor hash does not match archived entry \(anchor.seq)")
                        return JournalVerification(path: path, entries: archived, lastSeq: start.seq, damage: damage)
                    }
                }
                var verifier = Verifier(path: path, start: start)
                var result = try verifier.run(db)
                result.entries += archived
                if result.lastSeq == 0 { result.lastSeq = start.seq }
                return result
            }
        } catch {
            return fileDamage(error)
        }
    }

    /// Verifies one archived segment: its own anchor must be `start`, its chain intact.
    static func verifySegment(_ segment: JournalSegment, from start: ChainAnchor, process: String) throws
        -> (verification: JournalVerification, end: ChainAnchor)
    {
        let reader = try JournalReader(path: segment.path, label: "journal-verify-segment")
        return try reader.read { db in
            let own = try ChainAnchor.read(in: db, path: segment.path)
            guard own == start, reader.process == process else {
                let detail =
                    reader.process != process
                    ? "belongs to \(reader.process), not \(process)"
                    : "continues from entry \(own.seq), not from entry \(start.seq) where the previous segment ends"
                return (
                    JournalVerification(
                        path: segment.path, entries: 0, lastSeq: start.seq,
                        damage: JournalDamage(kind: .brokenChain, firstBadSeq: start.seq + 1, detail: detail)), start
                )
            }
            var verifier = Verifier(path: segment.path, start: start)
            let result = try verifier.run(db)
            if result.isClean, result.lastSeq != segment.last {
                let damage = JournalDamage(
                    kind: .truncatedTail, firstBadSeq: result.lastSeq + 1,
                    detail: "the segment ends at entry \(result.lastSeq), its name says \(segment.last)")
                return (JournalVerification(path: segment.path, entries: result.entries, lastSeq: result.lastSeq, damage: damage), start)
            }
            return (result, verifier.end)
        }
    }
}

/// Walks the chain of one journal, row by row, in one read transaction.
struct Verifier {
    let path: String
    private let hasher = ChainHasher()
    private let start: ChainAnchor
    private var entries = 0
    private var lastSeq: Int64
    private var lastHash: [UInt8]

    /// Verifies a file whose first entry continues from `start` (the origin: entry 1).
    init(path: String, start: ChainAnchor = .origin) {
        self.path = path
        self.start = start
        lastSeq = start.seq
        lastHash = start.hash
    }

    /// Where the chain verified so far ends.
    var end: ChainAnchor { ChainAnchor(seq: lastSeq, hash: lastHash) }

    mutating func run(_ db: SQLiteDatabase) throws -> JournalVerification {
        var damage: JournalDamage?
        do {
            let statement = try db.cached(Schema.select + "ORDER BY seq")
            defer { statement.reset() }
            try statement.bind([])
            let s = statement.handle!
            let computed = UnsafeMutablePointer<UInt8>.allocate(capacity: 32)
            defer { computed.deallocate() }
            while try statement.step() {
                if let seq = quickCheck(s, computed: computed) {
                    entries += 1
                    lastSeq = seq
                    continue
                }
                // Built, and checked again, only when the quick check did not pass it: this names the damage.
                let row = try StoredRow(s)
                damage = check(row)
                guard damage == nil else { break }
                entries += 1
                lastSeq = row.seq
                lastHash = row.hash
            }
            if damage == nil {
                damage = try Self.headDamage(in: db, lastSeq: lastSeq, lastHash: lastHash)
            }
        } catch let malformed as StoredRow.Malformed {
            damage = malformed.damage
        } catch let error as SQLiteError {
            damage = JournalDamage(
                kind: .unreadable, firstBadSeq: lastSeq + 1, detail: "reading after entry \(lastSeq): \(Journal.cause(error))")
        }
        return JournalVerification(path: path, entries: entries, lastSeq: entries == 0 ? 0 : lastSeq, damage: damage)
    }

    /// The seq of the row `s` when it is an intact link of the chain, read from SQLite's own
    /// buffers with nothing copied (the stored hash is copied into `lastHash`'s storage); nil
    /// for any row that is not plainly one: a column of another type, text that is not ASCII
    /// (which ``StoredRow`` reads with UTF-8 repair), an unknown kind, a gap, a broken link or
    /// a wrong hash. Such a row is built and checked by ``check(_:)``, which gives the same
    /// verdict for every row passed here and names what is wrong with the others.
    private mutating func quickCheck(_ s: StatementHandle, computed: UnsafeMutablePointer<UInt8>) -> Int64? {
        for (index, type) in EntryTypeFilter.columnTypes.enumerated() {
            let found = sqlite3_column_type(s, CInt(index))
            guard found == type || (found == SQLITE_NULL && (4...6).contains(index)) else { return nil }
        }
        let seq = sqlite3_column_int64(s, 0)
        guard seq == lastSeq + 1, lastHash.count == 32, EntryTypeFilter.contains(EntryTypeFilter.kinds, s, column: 2) else {
            return nil
        }
        func column(_ index: CInt, text: Bool) -> UnsafeRawBufferPointer {
            let base: UnsafeRawPointer? = text ? UnsafeRawPointer(sqlite3_column_text(s, index)) : sqlite3_column_blob(s, index)
            let count = Int(sqlite3_column_bytes(s, index))
            guard let base, count > 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
            return UnsafeRawBufferPointer(start: base, count: count)
        }
        let prev = column(8, text: false)
        let stored = column(9, text: false)
        guard prev.count == 32, stored.count == 32 else { return nil }
        let linked = lastHash.withUnsafeBytes { memcmp($0.baseAddress!, prev.baseAddress!, 32) == 0 }
        guard linked else { return nil }
        hasher.begin(prev: prev, seq: seq, ts: sqlite3_column_int64(s, 1))
        for index: CInt in 2...6 {
            if sqlite3_column_type(s, index) == SQLITE_NULL {
                hasher.add(field: nil)
                continue
            }
            let text = column(index, text: true)
            guard text.allSatisfy({ $0 < 0x80 }) else { return nil }
            hasher.add(field: text)
        }
        hasher.finish(body: column(7, text: false), into: computed)
        guard memcmp(computed, stored.baseAddress!, 32) == 0 else { return nil }
        lastHash.withUnsafeMutableBytes { $0.copyMemory(from: stored) }
        return seq
    }

    private func check(_ row: StoredRow) -> JournalDamage? {
        let expected = lastSeq + 1
        if row.seq != expected {
            if expected == 1 { return .missingStart(first: row.seq) }
            if expected == start.seq + 1 {
                return JournalDamage(
                    kind: .gap, firstBadSeq: expected,
                    detail: "the first entry is \(row.seq), not \(expected) (the entry after archived entry \(start.seq))")
            }
            return JournalDamage(
                kind: .gap, firstBadSeq: expected, detail: "entry \(expected) is missing (\(lastSeq) is followed by \(row.seq))")
        }
        if row.prevHash != lastHash {
            return JournalDamage(
                kind: .brokenChain, firstBadSeq: row.seq,
                detail: "entry \(row.seq): previous hash does not match entry \(lastSeq) (reordered or replaced?)")
        }
        if row.computedHash(with: hasher) != row.hash {
            return .edited(row.seq)
        }
        if EntryKind(rawValue: row.kind) == nil {
            return JournalDamage(
                kind: .editedEntry, firstBadSeq: row.seq, detail: "entry \(row.seq): kind \"\(row.kind)\" is not a known entry kind")
        }
        return nil
    }

    /// Compares the head, written in the same transaction as every commit, with the last entry.
    static func headDamage(in db: SQLiteDatabase, lastSeq: Int64, lastHash: [UInt8]) throws -> JournalDamage? {
        // As read before M11 (GRDB's conversions): seq an integer (or a real holding one), hash a
        // blob or text; anything else is an unreadable head.
        var head: (seq: Int64?, hash: [UInt8]?)?
        try db.query("SELECT seq, hash FROM head WHERE id = 1") { row in
            let seq: Int64? =
                switch sqlite3_column_type(row.handle, 0) {
                case SQLITE_INTEGER: row.int64(0)
                case SQLITE_FLOAT: Int64(exactly: sqlite3_column_double(row.handle, 0))
                default: nil
                }
            head = (seq, row.bytes(1))
            return false
        }
        guard let head, let headSeq = head.seq, let headHash = head.hash else {
            return JournalDamage(
                kind: .brokenChain, firstBadSeq: lastSeq + 1,
                detail: "the head record is missing or unreadable, so lost entries after \(lastSeq) cannot be ruled out")
        }
        if headSeq > lastSeq {
            let found = lastSeq == 0 ? "no entries" : "last entry \(lastSeq)"
            return JournalDamage(
                kind: .truncatedTail, firstBadSeq: lastSeq + 1, detail: "\(found) does not match head \(headSeq) (truncated tail)")
        }
        if headSeq < lastSeq {
            return JournalDamage(
                kind: .brokenChain, firstBadSeq: headSeq + 1,
                detail: "entries \(headSeq + 1)...\(lastSeq) lie beyond head \(headSeq) (written outside the journal?)")
        }
        if headHash != lastHash {
            return JournalDamage(
                kind: .brokenChain, firstBadSeq: max(lastSeq, 1), detail: "head hash does not match the hash of entry \(lastSeq)")
        }
        return nil
    }
}

extension Journal {
    /// Every committed entry of the journal at `path`, in seq order (see the streaming form).
    public static func readEntries(path: String) throws -> [JournalEntry] {
        var entries: [JournalEntry] = []
        try readEntries(path: path) { entries.append($0) }
        return entries
    }

    /// Streams the committed entries of a journal from `fromSeq` on, in seq order, only those of
    /// `types` when given. Opens the file read-only, like ``verify(path:)``, so it is safe on
    /// another (running) process's journal and never creates one: for reports, replay and
    /// `astctl drill`. Throws ``JournalError`` for a missing, unreadable or foreign file.
    public static func readEntries(
        path: String, fromSeq: Int64 = 1, types: [String]? = nil,
        _ body: (JournalEntry) throws -> Void
    ) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw JournalError.storage(path: path, operation: "reading", cause: "no such file")
        }
        try JournalReader(path: path, label: "journal-read").scan(fromSeq: fromSeq, types: types) { entry in
            try body(entry)
            return true
        }
    }
}
