import ASTCore
import ASTJournal
import ASTMessages
import FoundationEssentials
import Glibc
import Logging

/// How full the disk under the state directory is, as one measurement.
public struct DiskUsage: Sendable, Equatable {
    /// Bytes an unprivileged process may still write on the state directory's file system.
    public var freeBytes: Int64
    /// Bytes the journals take (`<state_dir>/journal/`, with their WAL files).
    public var journalBytes: Int64

    public init(freeBytes: Int64, journalBytes: Int64) {
        self.freeBytes = freeBytes
        self.journalBytes = journalBytes
    }

    /// Measures `stateDir`: one `statvfs` and one listing of the journal directory, cheap enough
    /// for once a minute. Nil when the state directory cannot be examined.
    public static func measure(stateDir: String) -> DiskUsage? {
        var fs = statvfs()
        guard statvfs(stateDir, &fs) == 0 else { return nil }
        let (free, overflow) = Int64(clamping: fs.f_bavail).multipliedReportingOverflow(by: Int64(clamping: fs.f_frsize))
        let directory = "\(stateDir)/journal"
        var journals: Int64 = 0
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
            var st = stat()
            if stat("\(directory)/\(name)", &st) == 0, (st.st_mode & S_IFMT) == S_IFREG {
                journals = journals.addingReportingOverflow(Int64(st.st_size)).partialValue
            }
        }
        return DiskUsage(freeBytes: overflow ? .max : free, journalBytes: journals)
    }
}

/// The disk budget of a process's journals and logs, as a pure state machine: fed a measurement
/// and the time, it says when to raise a P1 (on entering the over-budget state, and again once a
/// day while it lasts) and when the disk is back within budget.
public struct DiskBudgetMonitor: Sendable {
    /// What one observation calls for.
    public enum Outcome: Sendable, Equatable {
        case none
        /// Over budget: raise this P1 (also logged and journaled).
        case alert(Alert)
        /// Back within budget after an alert.
        case recovered(String)
    }

    public let minFreeBytes: Int64
    /// Zero: no limit on the journals' size.
    public let maxJournalBytes: Int64
    /// The state directory, named in the alert.
    public let stateDir: String
    private var lastAlert: Timestamp?

    public init(minFreeBytes: Int64, maxJournalBytes: Int64, stateDir: String) {
        self.minFreeBytes = minFreeBytes
        self.maxJournalBytes = maxJournalBytes
        self.stateDir = stateDir
    }

    /// Whether the last observation was over budget.
    public var isOverBudget: Bool { lastAlert != nil }

    /// What is over budget in `usage`, in words; empty when within budget.
    public func problems(_ usage: DiskUsage) -> [String] {
        var found: [String] = []
        if usage.freeBytes < minFreeBytes {
            found.append(
                "only \(Self.mb(usage.freeBytes)) MB free under \(stateDir) (journal.disk_min_free_mb is \(Self.mb(minFreeBytes)))")
        }
        if maxJournalBytes > 0, usage.journalBytes > maxJournalBytes {
            found.append("the journals take \(Self.mb(usage.journalBytes)) MB (journal.disk_max_journal_mb is \(Self.mb(maxJournalBytes)))")
        }
        return found
    }

    public mutating func observe(_ usage: DiskUsage, now: Timestamp) -> Outcome {
        let found = problems(usage)
        guard !found.isEmpty else {
            guard lastAlert != nil else { return .none }
            lastAlert = nil
            return .recovered(
                "disk back within budget under \(stateDir): \(Self.mb(usage.freeBytes)) MB free, "
                    + "journals \(Self.mb(usage.journalBytes)) MB")
        }
        if let last = lastAlert, now.duration(since: last) < .seconds(86_400) { return .none }
        lastAlert = now
        // One key per state directory and UTC day: every process of the tree sees the same disk,
        // and the notifier sends an alert key once.
        let day = now.nanoseconds / 86_400_000_000_000
        return .alert(
            Alert(
                priority: .p1, key: "disk-budget:\(stateDir):\(day)", title: "AST disk budget exceeded",
                text: found.joined(separator: "; ") + ". Free space or move old journals before the disk fills: "
                    + "a full disk stops every journal, and with it trading.", at: now))
    }

    static func mb(_ bytes: Int64) -> Int64 { bytes / 1_048_576 }
}

/// Checks the disk budget every `journal.disk_check_interval_ms` (a minute or more): logs and
/// journals each crossing, and hands the P1 to `send` (astd sends it to the notifier; a worker
/// only logs and journals it, so that the tree raises one alert per crossing and day).
public struct DiskBudgetWatch: Sendable {
    let config: TreeConfig
    let journal: Journal
    let clock: any WallClock
    let logger: Logger

    /// The journal entry type of a disk budget crossing.
    public static let entryType = "disk.budget"

    public init(config: TreeConfig, journal: Journal, clock: any WallClock, logger: Logger) {
        self.config = config
        self.journal = journal
        self.clock = clock
        self.logger = logger
    }

    /// Runs until the task is cancelled.
    public func run(send: @escaping @Sendable (Alert) async -> Void = { _ in }) async {
        let settings = config.journal
        var monitor = DiskBudgetMonitor(
            minFreeBytes: Int64(settings.diskMinFreeMb ?? JournalConfig.defaultDiskMinFreeMb) * 1_048_576,
            maxJournalBytes: Int64(settings.diskMaxJournalMb ?? 0) * 1_048_576, stateDir: config.stateDir)
        let interval = Duration.milliseconds(settings.diskCheckIntervalMs ?? JournalConfig.defaultDiskCheckIntervalMs)
        while !Task.isCancelled {
            if let usage = DiskUsage.measure(stateDir: config.stateDir) {
                switch monitor.observe(usage, now: clock.now()) {
                case .none:
                    break
                case .alert(let alert):
                    logger.critical("\(alert.title): \(alert.text)")
                    record(alert.text)
                    await send(alert)
                case .recovered(let text):
                    logger.notice("\(text)")
                    record(text)
                }
            }
            do { try await Task.sleep(for: interval) } catch { return }
        }
    }

    private func record(_ text: String) {
        do {
            try journal.append(
                JournalRecord(kind: .event, type: Self.entryType, timestamp: clock.now(), body: Array(text.utf8)),
                durability: .batched)
        } catch {
            logger.error("could not journal the disk budget: \(error)")
        }
    }
}
