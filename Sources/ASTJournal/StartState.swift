import ASTCore
import FoundationEssentials
import Glibc

/// What a process finds of its own journal file before it opens it.
public enum OwnJournalFinding: Sendable, Equatable {
    /// The file exists and holds something: restore from it.
    case present
    /// No file at the journal's path.
    case absent
    /// A file of zero bytes: whatever it held is gone.
    case empty
}

/// What a process finds of another journal in its journal directory, read-only.
public struct PeerJournalFinding: Sendable, Equatable {
    /// Whether the journal holds the trace of an earlier run.
    public enum Kind: Sendable, Equatable {
        /// Created by a process that is no longer running (or by a build that did not record
        /// its creator): the installation has run before.
        case earlierRun
        /// Created by a process that still runs: a peer started in this same run of the tree.
        case thisRun
        /// Zero bytes or no tables yet: a journal being created this instant (or one that holds
        /// nothing), no trace of any run.
        case empty
        /// The file could not be read or is not a journal (the journal directory holds only
        /// journals: a `.sqlite` file there that is none is a damaged one): it may hold an
        /// earlier run, so it counts as one.
        case unreadable(String)
    }

    public var path: String
    public var kind: Kind

    public init(path: String, kind: Kind) {
        self.path = path
        self.kind = kind
    }
}

/// How a process with durable state starts, decided from what it finds before opening its
/// journal. Missing state is never a first start: a journal that is gone while the journals of
/// earlier runs are still there means the state was lost (deleted, moved aside, a partial
/// restore), and the process starts fail-closed (ast-risk HALTED; the broker and the reconciler
/// with a quarantine the operator must acknowledge).
public enum JournalStart: Sendable, Equatable {
    /// The journal exists: restore from it.
    case restore
    /// No journal anywhere from an earlier run: a new installation.
    case firstStart
    /// The journal is missing or empty while other journals show the installation ran before.
    case missingState(detail: String)

    /// The journal entry type a process writes at a start with ``missingState(detail:)``.
    public static let stateMissingType = "journal.state_missing"

    /// Set by astd for each child: how often it has spawned that child in this run of the tree
    /// (1 at its first start). A child started again finds its own journal, unless it was lost.
    /// `ASTD_`, like astd's other variables: the configuration's `AST_*` layer would refuse it.
    public static let spawnCountVariable = "ASTD_SPAWN_COUNT"

    /// Pure: the start mode for the journal at `path` given what was found. A peer counts as
    /// evidence of an earlier run when it holds one or cannot be read (fail closed).
    public static func decide(
        journal path: String, own: OwnJournalFinding, peers: [PeerJournalFinding], restartedInThisRun: Bool = false
    ) -> JournalStart {
        guard own != .present else { return .restore }
        if restartedInThisRun {
            // astd started this child before in this run: it wrote its journal then.
            let what = own == .empty ? "is empty" : "does not exist"
            return .missingState(
                detail: "missing state: journal \(path) \(what) although this process ran earlier in this run of the tree; "
                    + "restore it from a backup, or follow runbooks/journal-verification-failed.md to resume knowingly")
        }
        let evidence = peers.filter {
            switch $0.kind {
            case .earlierRun, .unreadable: true
            case .thisRun, .empty: false
            }
        }.sorted { $0.path < $1.path }
        guard !evidence.isEmpty else { return .firstStart }
        let shown = evidence.prefix(3).map { finding -> String in
            let name = splitPath(finding.path).name
            if case .unreadable(let why) = finding.kind { return "\(name) (unreadable: \(why.prefix(120)))" }
            return name
        }
        let more = evidence.count > shown.count ? " and \(evidence.count - shown.count) more" : ""
        let what = own == .empty ? "is empty" : "does not exist"
        return .missingState(
            detail: "missing state: journal \(path) \(what) while journals of an earlier run exist "
                + "(\(shown.joined(separator: ", "))\(more)); restore it from a backup, or follow "
                + "runbooks/journal-verification-failed.md to resume knowingly")
    }

    /// Looks at the journal directory (I/O, read-only) and decides with ``decide(journal:own:peers:)``.
    public static func inspect(journal path: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> JournalStart {
        let spawns = environment[spawnCountVariable].flatMap { Int($0) } ?? 1
        return decide(journal: path, own: ownFinding(path), peers: peerFindings(besides: path), restartedInThisRun: spawns > 1)
    }

    static func ownFinding(_ path: String) -> OwnJournalFinding {
        guard let empty = isEmptyFile(path) else {
            // A file that exists but cannot be stat'ed is "present": opening it reports the error.
            return FileManager.default.fileExists(atPath: path) ? .present : .absent
        }
        return empty ? .empty : .present
    }

    /// Whether the file at `path` holds no bytes; nil when it cannot be stat'ed.
    static func isEmptyFile(_ path: String) -> Bool? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return info.st_size == 0
    }

    /// `dir/sub/name` -> (`dir/sub`, `name`), as NSString's `deletingLastPathComponent` and
    /// `lastPathComponent` split it (trailing slashes dropped; no slash: an empty directory).
    static func splitPath(_ path: String) -> (directory: String, name: String) {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return ("", String(trimmed)) }
        if trimmed == "/" { return ("/", "/") }
        let name = String(trimmed[trimmed.index(after: slash)...])
        var directory = trimmed[..<slash]
        while directory.count > 1, directory.hasSuffix("/") { directory = directory.dropLast() }
        return (directory.isEmpty ? "/" : String(directory), name)
    }

    static func peerFindings(besides path: String) -> [PeerJournalFinding] {
        let (directory, own) = splitPath(path)
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        // astctl's journals (role control) record operator commands, not the tree's state: an
        // `astctl status` before the very first start must not make that start a missing state.
        let counted = names.filter { name in
            guard name.hasSuffix(".sqlite"), name != own else { return false }
            return ProcessIdentity(parsing: String(name.dropLast(".sqlite".count)))?.role != .control
        }
        return counted.sorted().map { name in
            let peer = "\(directory)/\(name)"
            return PeerJournalFinding(path: peer, kind: peerKind(peer))
        }
    }

    /// Reads a peer's creator. Peers start at the same time as this process: a journal being
    /// created is briefly empty, schema-less or locked, so a failure is retried for up to two
    /// seconds before it counts (as ``PeerJournalFinding/Kind/unreadable(_:)``, or as empty).
    static func peerKind(_ path: String) -> PeerJournalFinding.Kind {
        var last = PeerJournalFinding.Kind.unreadable("not read")
        for attempt in 0..<40 {
            if attempt > 0 { usleep(50_000) }
            if isEmptyFile(path) == true {
                last = .empty
                continue
            }
            do {
                let reader = try JournalReader(path: path)
                guard let creator = try reader.meta("created_by") else { return .earlierRun }
                return JournalCreator.isRunning(creator) ? .thisRun : .earlierRun
            } catch JournalError.notAJournal(_, let detail) where detail.hasSuffix("tables found: none") {
                last = .empty
            } catch {
                last = .unreadable("\(error)")
            }
        }
        return last
    }
}

/// Who created a journal, as `boot-id/pid/start-time` (start time in clock ticks since boot, from
/// `/proc/<pid>/stat`): enough to tell, later, whether that very process still runs.
public enum JournalCreator {
    /// This process.
    public static let current: String = "\(bootID ?? "?")/\(getpid())/\(startTime(of: getpid()) ?? "?")"

    /// Whether the process that wrote `creator` still runs (same boot, same pid, same start time).
    public static func isRunning(_ creator: String) -> Bool {
        isRunning(creator, epoch: bootID)
    }

    /// ``isRunning(_:)`` against `epoch` (this process's ``epoch(bootID:environment:)``). A
    /// creator of this very invocation of the service is of this run: under units/ast.service
    /// (PrivateUsers=, ProtectProc=invisible) a process sees no other process in /proc, so the
    /// pid cannot be checked; a child astd started again in the same run is told so
    /// (``JournalStart/spawnCountVariable``) and needs no peer to tell it its state is gone.
    static func isRunning(_ creator: String, epoch: String?) -> Bool {
        let parts = creator.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, let boot = epoch, parts[0] == boot else { return false }
        if boot.hasPrefix("invocation-") { return true }
        guard let pid = Int32(parts[1]), pid > 0,
            let started = startTime(of: pid)
        else { return false }
        return started == parts[2]
    }

    static let bootID: String? = epoch(
        bootID: try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8),
        environment: ProcessInfo.processInfo.environment)

    /// What a creator's first field names: the kernel's boot id, or, where /proc/sys cannot be
    /// read (units/ast.service has ProcSubset=pid, which hides it), the service manager's
    /// invocation id of the unit, which every process of the tree inherits from astd and which
    /// changes at every start of the unit. Without either, nil: no creator is ever "running", so
    /// every peer journal is a trace of an earlier run (fail closed). (Before, the missing boot id
    /// made every peer journal of the same run count as an earlier run under systemd, and a fresh
    /// install started HALTED for missing state.)
    static func epoch(bootID: String?, environment: [String: String]) -> String? {
        let boot = bootID.map { String($0.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed()) }
        if let boot, !boot.isEmpty { return boot }
        if let invocation = environment["INVOCATION_ID"], !invocation.isEmpty, !invocation.contains("/") {
            return "invocation-\(invocation)"
        }
        return nil
    }

    /// Field 22 of `/proc/<pid>/stat`, after the command name (which may hold spaces and parentheses).
    static func startTime(of pid: Int32) -> String? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 19 ? String(fields[19]) : nil
    }
}
