import ASTCore
import FoundationEssentials

extension EntryTypes {
    /// A checkpoint of a process's restored state (body: ``JournalCheckpoint``): a restore starts
    /// from the latest one that verifies and folds only the entries after the seq it covers.
    public static let checkpoint = "journal.checkpoint"
}

/// The body of a `journal.checkpoint` entry: the state a process's restore fold had after
/// folding every entry up to ``covers``, with the configuration it folded under.
///
/// Encoded with sorted keys (``encoded()``), and every state kept in one is built of arrays and
/// string-keyed dictionaries only, so the same state always gives the same bytes: replay
/// compares a checkpoint with its own fold byte for byte.
public struct JournalCheckpoint<State: Codable & Sendable>: Codable, Sendable {
    /// The format of the body; a checkpoint of another format is skipped (an older checkpoint or
    /// a full replay is used).
    public var format: Int
    /// The process whose fold made it.
    public var process: String
    /// The last entry whose effect `state` includes; the restore folds the entries after it.
    public var covers: Int64
    public var state: State

    public static var currentFormat: Int { 1 }

    public init(process: String, covers: Int64, state: State) {
        format = Self.currentFormat
        self.process = process
        self.covers = covers
        self.state = state
    }

    /// The canonical bytes: sorted keys, no pretty printing.
    public func encoded() throws -> [UInt8] {
        Array(try JournalCheckpointCoding.encoder.encode(self))
    }

    /// The checkpoint in `body`, or why it is not one this build can start from.
    public static func decode(_ body: [UInt8], process: String) -> Result<Self, CheckpointRejection> {
        let value: Self
        do {
            value = try JournalCheckpointCoding.decoder.decode(Self.self, from: Data(body))
        } catch {
            return .failure(.undecodable("\(error)".prefix(300).description))
        }
        guard value.format == currentFormat else { return .failure(.otherFormat(value.format)) }
        guard value.process == process else { return .failure(.otherProcess(value.process)) }
        return .success(value)
    }
}

/// The shared coders of checkpoints.
public enum JournalCheckpointCoding {
    public static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()
    public static let decoder = JSONDecoder()
}

/// Why a checkpoint was not used.
public enum CheckpointRejection: Error, Sendable, Equatable, CustomStringConvertible {
    /// Its stored hash does not match its contents, or it does not link to the entry before it.
    case chainBroken(String)
    case undecodable(String)
    case otherFormat(Int)
    case otherProcess(String)
    /// It claims to cover entries it cannot (after itself, or before the live file's anchor).
    case badCoverage(String)
    /// The configuration in force differs from the one it was made under.
    case otherConfiguration(String)

    public var description: String {
        switch self {
        case .chainBroken(let d): "its hash chain does not verify: \(d)"
        case .undecodable(let d): "its body does not decode: \(d)"
        case .otherFormat(let f): "format \(f) is not format 1, the one this build reads"
        case .otherProcess(let p): "it was made by \(p)"
        case .badCoverage(let d): "its coverage is impossible: \(d)"
        case .otherConfiguration(let d): "it was made under another configuration: \(d)"
        }
    }
}

/// One `journal.checkpoint` entry found in a journal, with the result of checking its place in
/// the hash chain (``Journal/checkpointCandidates(limit:)``).
public struct CheckpointCandidate: Sendable {
    public var entry: JournalEntry
    /// Nil when the entry's hash matches its contents and links to the entry before it.
    public var chainProblem: String?

    /// Why `entry` does not hold its place in the chain (its hash against its contents, its
    /// previous hash against `previousHash`, the stored hash of the entry before it), nil when
    /// it does. For readers that found the entry themselves (replay from a checkpoint).
    public static func chainProblem(_ entry: JournalEntry, previousHash: [UInt8]?) -> String? {
        chainProblem(entry, previousHash: previousHash, hasher: ChainHasher())
    }

    static func chainProblem(_ entry: JournalEntry, previousHash: [UInt8]?, hasher: ChainHasher) -> String? {
        if hasher.hash(prev: entry.prevHash, seq: entry.seq, record: entry.record) != entry.hash {
            return "entry \(entry.seq): stored hash does not match its contents"
        } else if previousHash == nil {
            return "entry \(entry.seq - 1) before it is missing"
        } else if previousHash != entry.prevHash {
            return "entry \(entry.seq): previous hash does not match entry \(entry.seq - 1)"
        }
        return nil
    }
}

/// Which checkpoint a restore starts from (pure).
public enum CheckpointChoice {
    /// The newest candidate that verifies and decodes (`decode` also checks its coverage and the
    /// configuration); the rejected newer ones with why. Nil chosen: fold the whole journal.
    /// `candidates` are newest first.
    public static func choose<T>(
        _ candidates: [CheckpointCandidate], decode: (JournalEntry) -> Result<T, CheckpointRejection>
    ) -> (chosen: (seq: Int64, value: T)?, rejected: [(seq: Int64, why: CheckpointRejection)]) {
        var rejected: [(seq: Int64, why: CheckpointRejection)] = []
        for candidate in candidates {
            if let problem = candidate.chainProblem {
                rejected.append((candidate.entry.seq, .chainBroken(problem)))
                continue
            }
            switch decode(candidate.entry) {
            case .success(let value): return ((candidate.entry.seq, value), rejected)
            case .failure(let why): rejected.append((candidate.entry.seq, why))
            }
        }
        return (nil, rejected)
    }
}

extension Journal {
    /// The newest `limit` checkpoint entries of the journal (live file, then archived segments),
    /// newest first, each with its chain checked: its hash against its contents and its previous
    /// hash against the entry before it. Reading stops at the newest ones, so a journal that
    /// checkpoints every N entries is searched over about N entries, whatever its length.
    public func checkpointCandidates(limit: Int = 4) throws -> [CheckpointCandidate] {
        var found: [CheckpointCandidate] = []
        var below = Int64.max
        let hasher = ChainHasher()
        while found.count < limit {
            guard let entry = try lastEntry(type: EntryTypes.checkpoint, below: below) else { break }
            below = entry.seq
            let problem = CheckpointCandidate.chainProblem(entry, previousHash: try hashOfEntry(entry.seq - 1), hasher: hasher)
            found.append(CheckpointCandidate(entry: entry, chainProblem: problem))
        }
        return found
    }

    /// The hash of entry `seq` (the anchor's hash when it was archived last), nil when absent.
    func hashOfEntry(_ seq: Int64) throws -> [UInt8]? {
        guard seq >= 1 else { return ChainHasher.zeroHash }
        if let entry = try entries(seq: seq...seq).first { return entry.hash }
        let anchor = try currentAnchor()
        if anchor.seq == seq { return anchor.hash }
        guard seq < anchor.seq else { return nil }
        var hash: [UInt8]?
        try JournalReader.scanSegments(livePath: path, anchor: anchor.seq, fromSeq: seq, types: nil) { entry in
            hash = entry.seq == seq ? entry.hash : nil
            return false
        }
        return hash
    }

    /// The last committed entry of `type` with a seq below `below`: the live file first, then the
    /// archived segments newest first, stopping at the first that holds one (a journal rotated
    /// many times is not read from entry 1 to find a recent checkpoint).
    func lastEntry(type: String, below: Int64) throws -> JournalEntry? {
        if below == .max { return try lastEntry(type: type) }
        if let live = try lastLiveEntry(type: type, below: below) { return live }
        let anchor = try currentAnchor()
        guard anchor.seq > 0 else { return nil }
        return try JournalReader.lastEntryInSegments(livePath: path, anchor: anchor.seq, type: type, below: below)
    }
}

extension Journal {
    /// Where a start-up scan that only needs what the cores' checkpoints do not hold begins:
    /// the seq of the `keeping`-th newest checkpoint whose chain verifies (every entry before it
    /// is in the state that checkpoint and the newer ones carry), 1 without that many. Keeping
    /// more than the newest one leaves a whole checkpoint interval of history to the scan (a
    /// message re-sent soon after a checkpoint was written is still recognised). One backward
    /// search of about `keeping` intervals, whatever the journal's length.
    public func checkpointHorizon(keeping: Int = 2) throws -> Int64 {
        let candidates = try checkpointCandidates(limit: max(1, keeping))
        guard candidates.count == max(1, keeping), candidates.allSatisfy({ $0.chainProblem == nil }), let oldest = candidates.last else {
            return 1
        }
        return oldest.entry.seq
    }
}

extension Journal {
    /// The newest entry of `type` written for `peer` in the live file whose chain verifies (its
    /// hash against its contents, its link to the entry before it), nil when there is none or the
    /// newest does not verify. For start-up marks that let a scan begin late (the bus outbox's):
    /// a caller that gets nil reads from entry 1, as before there were marks. Reading stops at
    /// the newest such entry (SQLite walks back from the end).
    public func lastIntactEntry(type: String, peer: String) throws -> JournalEntry? {
        guard
            let entry = try read(
                "reading the last \(type) entry for \(peer)", "WHERE type = ? AND peer = ? ORDER BY seq DESC LIMIT 1",
                [.text(type), .text(peer)]
            ).first
        else { return nil }
        let problem = CheckpointCandidate.chainProblem(entry, previousHash: try hashOfEntry(entry.seq - 1), hasher: ChainHasher())
        return problem == nil ? entry : nil
    }
}
