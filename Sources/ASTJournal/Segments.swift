import ASTCore
import FoundationEssentials
import Glibc

/// One archived segment of a journal: a journal file of its own holding the entries `first...last`
/// that a rotation moved out of the live file (``Journal/rotate(path:upTo:)``).
///
/// Segments live beside the live journal in `<name>.segments/` (so a directory listing of
/// `*.sqlite` still finds one file per process), named `<first>-<last>.sqlite` with 20-digit
/// numbers. Each segment's `meta` records the seq and hash it continues from (`anchor_seq`,
/// `anchor_hash`), and the live file records the seq and hash of the last archived entry: the
/// hash chain runs unbroken from entry 1 through every segment into the live file.
public struct JournalSegment: Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var first: Int64
    public var last: Int64

    public var description: String { "segment \(first)...\(last) (\(path))" }
}

/// Where a chain continues from: the last archived entry (seq 0 and the zero hash: none).
struct ChainAnchor: Equatable {
    var seq: Int64
    var hash: [UInt8]

    static let origin = ChainAnchor(seq: 0, hash: ChainHasher.zeroHash)

    static let seqKey = "anchor_seq"
    static let hashKey = "anchor_hash"

    /// The anchor a journal file records in its `meta` table (the origin when it records none).
    /// A recorded anchor that does not parse is damage, never the origin.
    static func read(in db: SQLiteDatabase, path: String) throws -> ChainAnchor {
        let seqText = try db.text("SELECT value FROM meta WHERE key = ?", [.text(seqKey)])
        let hashText = try db.text("SELECT value FROM meta WHERE key = ?", [.text(hashKey)])
        guard seqText != nil || hashText != nil else { return .origin }
        guard let seqText, let seq = Int64(seqText), seq > 0, let hashText, let hash = Hex.decode(hashText), hash.count == 32 else {
            throw JournalError.damaged(
                path: path,
                damage: JournalDamage(
                    kind: .brokenChain, firstBadSeq: 1,
                    detail: "the archive anchor in meta (\(seqKey)=\(seqText ?? "none"), \(hashKey)=\(hashText ?? "none")) is unreadable"))
        }
        return ChainAnchor(seq: seq, hash: hash)
    }

    func write(in db: SQLiteDatabase) throws {
        try db.execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?), (?, ?)",
            [.text(Self.seqKey), .text(String(seq)), .text(Self.hashKey), .text(Hex.encode(hash))])
    }
}

/// Finding a journal's archived segments.
public enum JournalSegments {
    /// The directory of `livePath`'s archived segments: `risk@main.sqlite` -> `risk@main.segments`.
    public static func directory(forLive livePath: String) -> String {
        let base = livePath.hasSuffix(".sqlite") ? String(livePath.dropLast(".sqlite".count)) : livePath
        return base + ".segments"
    }

    static func fileName(first: Int64, last: Int64) -> String {
        func padded(_ n: Int64) -> String {
            let digits = String(n)
            return String(repeating: "0", count: max(0, 20 - digits.count)) + digits
        }
        return "\(padded(first))-\(padded(last)).sqlite"
    }

    /// Every segment file of `livePath`, by first seq then last (file names only: their contents
    /// are checked by ``Journal/verify(path:)``).
    public static func all(forLive livePath: String) -> [JournalSegment] {
        let dir = directory(forLive: livePath)
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return [] }
        return names.compactMap { name -> JournalSegment? in
            guard name.hasSuffix(".sqlite") else { return nil }
            let parts = name.dropLast(".sqlite".count).split(separator: "-")
            guard parts.count == 2, let first = Int64(parts[0]), let last = Int64(parts[1]), first >= 1, last >= first else { return nil }
            return JournalSegment(path: "\(dir)/\(name)", first: first, last: last)
        }.sorted { ($0.first, $0.last) < ($1.first, $1.last) }
    }

    /// The segments that hold entries `1...anchor`, in order: from entry 1, each the one that
    /// starts right after the previous and reaches furthest without passing `anchor` (a segment
    /// passing it is the leftover of an interrupted rotation, whose entries are still live).
    /// `reached` is the last seq the chain covers; less than `anchor` means segments are missing.
    public static func chain(forLive livePath: String, anchor: Int64) -> (segments: [JournalSegment], reached: Int64) {
        let segments = all(forLive: livePath)
        var chain: [JournalSegment] = []
        var reached: Int64 = 0
        while reached < anchor {
            let next = segments.filter { $0.first == reached + 1 && $0.last <= anchor }.max { $0.last < $1.last }
            guard let next else { break }
            chain.append(next)
            reached = next.last
        }
        return (chain, reached)
    }

    static func missing(_ livePath: String, reached: Int64, anchor: Int64) -> JournalDamage {
        JournalDamage(
            kind: .gap, firstBadSeq: reached + 1,
            detail: "entries \(reached + 1)...\(anchor) were archived but no segment in \(directory(forLive: livePath)) holds them")
    }
}

extension Journal {
    /// Archives the committed entries after the file's current anchor up to `upTo` (default: the
    /// last committed entry) into a new segment file, then removes them from the live file and
    /// records the new anchor there. Returns the segment, nil when there is nothing to archive.
    ///
    /// Safe while the owning process runs (its own connection keeps appending; readers read the
    /// segments and the live file as one journal). Crash-safe: the segment is complete and
    /// renamed into place before the live file changes, in one transaction; a segment left by an
    /// interrupted rotation is ignored by readers and removed by the next rotation.
    @discardableResult
    public static func rotate(path: String, upTo: Int64? = nil) throws -> JournalSegment? {
        guard FileManager.default.fileExists(atPath: path) else {
            throw JournalError.storage(path: path, operation: "rotating", cause: "no such file")
        }
        do {
            let db = try SQLiteDatabase(path: path, mode: .readWriteCreate, busyTimeoutMilliseconds: busyTimeout)
            defer { try? db.close() }
            let plan: (anchor: ChainAnchor, process: String, last: Int64)? = try db.read { db in
                if let problem = try Schema.shapeProblem(in: db) { throw JournalError.notAJournal(path: path, detail: problem) }
                let anchor = try ChainAnchor.read(in: db, path: path)
                let process = try db.text("SELECT value FROM meta WHERE key = 'process'") ?? "(unknown)"
                guard let maxSeq = try db.integer("SELECT max(seq) FROM entries") else { return nil }
                let last = min(upTo ?? maxSeq, maxSeq)
                return last > anchor.seq ? (anchor, process, last) : nil
            }
            guard let plan else { return nil }
            let dir = JournalSegments.directory(forLive: path)
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            // Leftovers of an interrupted rotation: their entries are still in the live file.
            for leftover in JournalSegments.all(forLive: path) where leftover.last > plan.anchor.seq {
                try? FileManager.default.removeItem(atPath: leftover.path)
            }
            let segment = JournalSegment(
                path: "\(dir)/\(JournalSegments.fileName(first: plan.anchor.seq + 1, last: plan.last))", first: plan.anchor.seq + 1,
                last: plan.last)
            let temporary = "\(dir)/.rotating-\(getpid()).sqlite"
            try? FileManager.default.removeItem(atPath: temporary)
            let now = Timestamp(nanoseconds: Int64(Date().timeIntervalSince1970 * 1e9))
            do {
                try db.execute("ATTACH DATABASE ? AS seg", [.text(temporary)])
                // Statements that name seg must not outlive it: DETACH fails while one is prepared.
                defer { try? db.execute("DETACH DATABASE seg") }
                try db.execute("PRAGMA seg.synchronous = FULL")
                try db.transaction(.immediate) {
                    // The schema of a journal, in the attached file.
                    let create = Schema.create.replacing("CREATE TABLE ", with: "CREATE TABLE seg.")
                        .replacing("CREATE INDEX ", with: "CREATE INDEX seg.")
                    try db.executeScript(create)
                    try db.execute(
                        "INSERT INTO seg.entries SELECT * FROM main.entries WHERE seq BETWEEN ? AND ? ORDER BY seq",
                        [.integer(segment.first), .integer(segment.last)])
                    guard let hash = try Self.storedHash(in: db, "SELECT hash FROM main.entries WHERE seq = ?", segment.last) else {
                        throw JournalError.storage(path: path, operation: "rotating", cause: "entry \(segment.last) vanished")
                    }
                    try db.execute("INSERT INTO seg.head(id, seq, hash) VALUES (1, ?, ?)", [.integer(segment.last), .blob(hash)])
                    for (key, value) in [
                        ("format", Schema.formatVersion), ("process", plan.process), ("created_at", now.description),
                        ("created_by", JournalCreator.current), (ChainAnchor.seqKey, String(plan.anchor.seq)),
                        (ChainAnchor.hashKey, Hex.encode(plan.anchor.hash)),
                    ] where plan.anchor.seq > 0 || !key.hasPrefix("anchor") {
                        try db.execute("INSERT INTO seg.meta(key, value) VALUES (?, ?)", [.text(key), .text(value)])
                    }
                }
            }
            try syncFile(temporary)
            guard rename(temporary, segment.path) == 0 else {
                throw JournalError.storage(path: path, operation: "rotating", cause: "rename to \(segment.path): errno \(errno)")
            }
            try syncFile(dir)
            try db.execute("PRAGMA synchronous = FULL")
            try db.transaction(.immediate) {
                guard let hash = try Self.storedHash(in: db, "SELECT hash FROM entries WHERE seq = ?", segment.last) else {
                    throw JournalError.storage(path: path, operation: "rotating", cause: "entry \(segment.last) vanished")
                }
                try db.execute("DELETE FROM entries WHERE seq <= ?", [.integer(segment.last)])
                try ChainAnchor(seq: segment.last, hash: hash).write(in: db)
            }
            return segment
        } catch {
            throw journalError(error, path: path, operation: "rotating")
        }
    }

    /// The bytes of the hash column `sql` selects for `seq` (a blob, or text as its UTF-8, as read
    /// before M11), nil when there is no such row or the column is NULL.
    private static func storedHash(in db: SQLiteDatabase, _ sql: String, _ seq: Int64) throws -> [UInt8]? {
        var hash: [UInt8]?
        try db.query(sql, [.integer(seq)]) { row in
            hash = row.bytes(0)
            return false
        }
        return hash
    }

    /// fsync of a file or directory.
    static func syncFile(_ path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw JournalError.storage(path: path, operation: "syncing", cause: "open: errno \(errno)") }
        defer { Glibc.close(fd) }
        guard fsync(fd) == 0 else { throw JournalError.storage(path: path, operation: "syncing", cause: "fsync: errno \(errno)") }
    }
}
