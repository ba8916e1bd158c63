import ASTRuntime
// ast-bench: the M1 benchmarks (frame codec, bus round trips, journal commits) and the M2 ones
// (supervision: crash to READY, cold start, astd's memory), each against a baseline measured in
// the same run; `risk` (M3), `execution` (M4) and `pipeline` (M5) are subcommands of their own. `scripts/bench` builds it in release mode and runs it;
// BENCHMARKS.md explains the numbers.
import ArgumentParser
import Foundation
import Logging

#if canImport(Glibc)
    import Glibc
#endif

@main
struct AstBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ast-bench",
        abstract:
            "Measure the frame codec, bus round trips, journal commits, supervision, the risk gate, the execution path, the strategy pipeline and replay against same-run baselines.",
        subcommands: [
            RunBenchmarks.self, RiskBenchmarks.self, ExecutionBenchmarks.self, PipelineBenchmarks.self, ReplayBenchmarks.self,
            EngineBenchmarks.self, RestoreBenchmarks.self, RestoreChild.self, RawEchoChild.self,
        ],
        defaultSubcommand: RunBenchmarks.self)
}

/// Which benchmarks to run.
enum Suite: String, CaseIterable, ExpressibleByArgument {
    case codec, bus, journal, supervision
}

/// Runs the benchmarks and prints a Markdown report on stdout (progress on stderr).
struct RunBenchmarks: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run the benchmarks (the default).")

    @Option(name: .customLong("only"), help: "Run only this benchmark (repeatable): codec, bus, journal, supervision.")
    var only: [Suite] = []
    @Option(help: "Repetitions of every measurement; the report gives their median.")
    var repetitions = 5
    @Option(name: .customLong("codec-seconds"), help: "Minimum duration of one codec measurement, in seconds.")
    var codecSeconds = 0.5
    @Option(name: .customLong("round-trips"), help: "Ping round trips per repetition (bus and raw alike).")
    var roundTrips = 20_000
    @Option(name: .customLong("warm-up-round-trips"), help: "Untimed round trips of each kind before the first repetition.")
    var warmUpRoundTrips = 2_000
    @Option(name: .customLong("probe-round-trips"), help: "Acknowledged probes per repetition.")
    var probeRoundTrips = 500
    @Option(name: .customLong("durable-commits"), help: "Durable journal commits per repetition.")
    var durableCommits = 1_000
    @Option(name: .customLong("batched-rows"), help: "Batched journal entries per repetition.")
    var batchedRows = 200_000
    @Option(name: .customLong("config-dir"), help: "The repository's etc/ for the worker (default: found above this executable).")
    var configDir: String?
    @Option(help: "The ast-risk executable (default: beside this one).")
    var worker: String?
    @Option(help: "The astd executable, with every worker beside it (default: beside this one).")
    var astd: String?
    @Option(help: "Supervision: workers killed with SIGKILL, one at a time, round-robin over the tree's children.")
    var crashes = 102
    @Option(name: .customLong("cold-starts"), help: "Supervision: timed cold starts of the tree (and as many of the baseline).")
    var coldStarts = 20
    @Option(name: .customLong("restart-backoff-ms"), help: "Supervision: the trees' restart back-off (and its maximum), in ms.")
    var restartBackoffMs = 1
    @Option(name: .customLong("tmp"), help: "Where the scratch directory goes (journals, sockets).")
    var tmp = "/tmp"

    func validate() throws {
        guard repetitions >= 1, roundTrips >= 1, warmUpRoundTrips >= 0, probeRoundTrips >= 1, durableCommits >= 1, batchedRows >= 1,
            codecSeconds > 0, crashes >= 1, coldStarts >= 1, restartBackoffMs >= 1
        else { throw ValidationError("counts must be positive") }
    }

    func run() async throws {
        LoggingSystem.bootstrap { StderrLogHandler(label: $0, level: .warning) }
        let logger = Logger(label: "ast.bench")
        let suites = only.isEmpty ? Suite.allCases : Suite.allCases.filter(only.contains)
        let benchExecutable = try Self.ownExecutable()
        let scratch = try ScratchDirectory(prefix: "ast-bench", base: tmp)
        defer { scratch.remove() }
        let progress: @Sendable (String) -> Void = { FileHandle.standardError.write(Data("ast-bench: \($0)\n".utf8)) }

        var settings = ["\(repetitions) repetitions of each measurement after an untimed warm-up; the table gives medians"]
        if suites.contains(.codec) { settings.append("codec: each measurement runs for at least \(codecSeconds) s") }
        if suites.contains(.bus) {
            settings.append(
                "bus: \(roundTrips) ping round trips of each kind per repetition after \(warmUpRoundTrips) untimed ones; "
                    + "\(probeRoundTrips) acknowledged probes per repetition; worker journal in \(tmp)")
        }
        if suites.contains(.journal) {
            settings.append(
                "journal: \(durableCommits) durable commits and \(batchedRows) batched entries per repetition, fresh files in \(tmp)")
        }
        if suites.contains(.supervision) {
            settings.append(
                "supervision: \(crashes) kills (round-robin over the tree's children) and \(coldStarts) cold starts after an untimed one, "
                    + "each against its baseline, interleaved; restart back-off \(restartBackoffMs) ms; trees in \(tmp). "
                    + "Its rows give percentiles (nearest rank) over every kill, and medians over every start, not over repetitions")
        }
        var report = Report(settings: settings)
        if suites.contains(.codec) {
            let summary = try CodecBenchmarks(repetitions: repetitions, minimumSeconds: codecSeconds).run(progress: progress)
            report.add(codec: summary)
        }
        if suites.contains(.bus) {
            let workerPath = try worker ?? Self.sibling("ast-risk", of: benchExecutable)
            let benchmarks = RoundTripBenchmarks(
                repetitions: repetitions, roundTrips: roundTrips, warmUpRoundTrips: warmUpRoundTrips, probeRoundTrips: probeRoundTrips,
                workerExecutable: workerPath, benchExecutable: benchExecutable,
                configDirectory: try configDir ?? Self.configDirectory(near: benchExecutable), scratch: scratch, logger: logger)
            report.add(roundTrips: try await benchmarks.run(progress: progress))
        }
        if suites.contains(.journal) {
            let benchmarks = JournalBenchmarks(
                repetitions: repetitions, durableCommits: durableCommits, batchedRows: batchedRows,
                scratch: scratch, logger: logger)
            let (c, r) = (durableCommits, batchedRows)
            let summary = try await onDedicatedThread { try benchmarks.run(progress: progress) }
            report.add(journal: summary, commits: c, rows: r)
        }
        if suites.contains(.supervision) {
            let benchmarks = SupervisorBenchmarks(
                crashes: crashes, coldStarts: coldStarts, backoffMs: restartBackoffMs,
                astdExecutable: astd ?? (benchExecutable as NSString).deletingLastPathComponent + "/astd",
                configDirectory: try configDir ?? Self.configDirectory(near: benchExecutable), scratch: scratch)
            report.add(supervision: try await onDedicatedThread { try benchmarks.run(progress: progress) })
        }
        print(report.markdown(), terminator: "")
    }

    /// This executable's path (re-run as the raw echo child).
    static func ownExecutable() throws -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { throw BenchError("cannot read /proc/self/exe: \(String(cString: strerror(errno)))") }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// An executable built beside this one, or an error that says how to build it.
    static func sibling(_ name: String, of executable: String) throws -> String {
        let path = (executable as NSString).deletingLastPathComponent + "/" + name
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw BenchError("\(path) does not exist: build it first (swift build -c release --product \(name)) or pass --worker")
        }
        return path
    }

    /// The repository's `etc/`: the first directory above `executable` with `Package.swift` and `etc/ast.yaml`.
    static func configDirectory(near executable: String) throws -> String {
        var dir = (executable as NSString).deletingLastPathComponent
        while dir != "/" && !dir.isEmpty {
            if FileManager.default.fileExists(atPath: dir + "/Package.swift"), FileManager.default.fileExists(atPath: dir + "/etc/ast.yaml")
            {
                return dir + "/etc"
            }
            dir = (dir as NSString).deletingLastPathComponent
        }
        throw BenchError("cannot find the repository's etc/ above \(executable): pass --config-dir")
    }
}

/// The child side of the raw round-trip baseline (started by `run`, not by hand): echoes
/// 4-byte messages on an inherited socket until the other end closes it.
struct RawEchoChild: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "raw-echo-child", shouldDisplay: false)

    @Option(help: "The inherited socket descriptor.")
    var fd: Int32

    func run() throws {
        let status = RawEchoLoop.run(fd: fd)
        if status != 0 { throw ExitCode(status) }
    }
}
