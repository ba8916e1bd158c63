import ASTCore
import ASTRuntime
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Benchmarks 4 to 6 (M2, supervision), on a real `astd --foreground` and the six real workers,
/// each tree in its own directory with its own configuration (the repository's `etc/ast.yaml`
/// plus an overlay).
///
/// - 4. crash → READY: SIGKILL one worker (round-robin over the six), and time until astd has
///   it READY again under a new pid. The times come from astd's own lifecycle events in its
///   journal (`exited`, `restarted`, `spawned`, `ready`, each stamped by astd when it handled
///   the event), and the kill from the bench's wall clock just before `kill(2)`; the journal is
///   polled every millisecond only to find out that the restart is over. Baseline, interleaved
///   kill by kill: the same worker started directly with `posix_spawn` until its READY=1.
/// - 5. cold start: from `posix_spawn` of astd to its READY=1 (sent once every permanent child
///   is READY) on a `NOTIFY_SOCKET` this bench reads, like systemd. Baseline, interleaved start
///   by start: the six workers started directly with `posix_spawn` until all six sent READY=1.
/// - 6. astd's memory: `VmRSS` after the tree started and after the crash loop, and `VmHWM`.
struct SupervisorBenchmarks: Sendable {
    /// Kills in the crash loop.
    var crashes: Int
    /// Timed cold starts (each of astd and of the baseline).
    var coldStarts: Int
    /// `supervisor.restart_backoff_ms` and `restart_backoff_max_ms` of the benchmark's trees.
    var backoffMs: Int
    var astdExecutable: String
    var configDirectory: String
    var scratch: ScratchDirectory

    /// One child of the tree, as the configuration lists it and as the baselines start it.
    struct Worker: Sendable {
        /// `role@instance`, as in astd's lifecycle events.
        var name: String
        /// The executable, resolved as astd resolves it (a name is looked up beside astd).
        var path: String
        /// Its configured arguments and the `--instance` astd adds.
        var arguments: [String]
    }
    /// Pause after a restart completed, before the next step: lets the restarted worker and
    /// astd (which sends the lifecycle events, acknowledged, to risk and notifier) go idle.
    static let settleSeconds = 0.1
    /// How often the journal is polled for the end of a restart.
    static let pollMicroseconds: UInt32 = 1_000
    /// A child that astd spawned, that is still alive, and that astd has not seen READY this long
    /// after the spawn (a worker starts in tens of milliseconds here) never becomes READY in
    /// astd's view: counted as such, not timed, and the run goes on.
    static let neverReadySeconds = 10.0

    /// Samples of the crash loop, in nanoseconds; one entry per kill.
    struct CrashSamples {
        /// Bench's wall clock just before `kill` → astd's `ready` stamp: the measure of the target.
        var killToReady: [UInt64] = []
        /// astd's `exited` → `ready` stamps: astd's own view of the restart.
        var exitedToReady: [UInt64] = []
        /// `kill` → the bench found the `ready` event in the journal (polled every millisecond).
        var killToObserved: [UInt64] = []
        /// The phases: SIGCHLD reaped and handled; back-off and wait for astd's tick; fork and
        /// exec on astd's spawn thread; the worker's start-up until astd handled its READY=1.
        var killToExited: [UInt64] = []
        var exitedToRestarted: [UInt64] = []
        var restartedToSpawned: [UInt64] = []
        var spawnedToReady: [UInt64] = []
        /// Baseline: `posix_spawn` of the same worker → its READY=1 on the bench's notify socket.
        var direct: [UInt64] = []
        /// Baseline of `killToExited`: SIGKILL of that directly started worker → the kernel
        /// reports its exit to the bench (`waitid`, blocking: no SIGCHLD handling, no polling).
        var directKillToExit: [UInt64] = []
        /// Restarts whose new process astd never saw READY (see ``neverReadySeconds``): which
        /// child, which pid, at which kill. Not in the latencies above.
        var neverReady: [String] = []
    }

    /// Samples of the cold starts, in nanoseconds; one entry per start.
    struct ColdSamples {
        /// `posix_spawn(astd)` → astd's READY=1.
        var astd: [UInt64] = []
        /// `posix_spawn` of the six workers → the sixth READY=1.
        var direct: [UInt64] = []
        /// Of `astd`: until astd's first `spawned` event (astd's own start-up); from there to the
        /// last child's `ready`; from there to READY=1 reaching the bench (astd reports its own
        /// state on its periodic tick).
        var astdStartup: [UInt64] = []
        var childrenStartup: [UInt64] = []
        var readyReport: [UInt64] = []
        /// SIGTERM → astd exited (it stops the six in reverse start order first).
        var stop: [UInt64] = []
        /// Starts after which astd never sent READY=1 because it never saw some child READY (see
        /// ``neverReadySeconds``), with those children. Not in the times above.
        var neverReady: [String] = []
    }

    struct Memory {
        var afterStart: ProcessMemory
        /// After half the kills: with `afterCrashes`, shows whether memory grows with every crash.
        var midway: ProcessMemory
        var midwayCrashes: Int
        var afterCrashes: ProcessMemory
        /// The workers' VmRSS right after the tree started, for comparison.
        var workers: [Int]
    }

    struct Summary {
        var crash: CrashSamples
        var cold: ColdSamples
        var memory: Memory
        var crashes: Int
        var coldStarts: Int
        var backoffMs: Int
        /// How many children the tree has (six as shipped).
        var workers: Int
    }

    /// The overlay of every tree: production's log level, a short constant back-off (also its
    /// maximum, so that repeated crashes of one child do not double it), and an intensity that a
    /// benchmark's crash loop cannot exceed.
    var overlay: String {
        """
        logging:
          level: info
        supervisor:
          intensity: 1000
          period_ms: 30000
          restart_backoff_ms: \(backoffMs)
          restart_backoff_max_ms: \(backoffMs)

        """
    }

    /// Runs the cold starts, then the crash loop with the memory readings. Blocking: call it on
    /// a thread of its own.
    func run(progress: @escaping @Sendable (String) -> Void) throws -> Summary {
        let workers = try self.workers()
        for path in [astdExecutable] + workers.map(\.path) {
            guard FileManager.default.isExecutableFile(atPath: path) else {
                throw BenchError("\(path) does not exist: build astd and every worker first (swift build -c release), or pass --astd")
            }
        }
        let cold = try coldStarts(workers, progress: progress)
        let (crash, memory) = try crashLoop(workers, progress: progress)
        return Summary(
            crash: crash, cold: cold, memory: memory, crashes: crashes, coldStarts: coldStarts, backoffMs: backoffMs,
            workers: workers.count)
    }

    /// The children the trees' configuration (`supervisor.children`, with the overlay) lists, in start order.
    func workers() throws -> [Worker] {
        let tree = try TreeDirectory(path: scratch("config"), configDirectory: configDirectory, overlay: overlay)
        let config = try ConfigLoader.fromEnvironment(tree.environment(notifySocket: "")).load(ASTConfig.self)
        let directory = (astdExecutable as NSString).deletingLastPathComponent
        return config.supervisor.children.map { child in
            Worker(
                name: child.name,
                path: child.executable.hasPrefix("/") ? child.executable : directory + "/" + child.executable,
                arguments: child.arguments + ["--instance", String(child.name.split(separator: "@")[1])])
        }
    }

    /// Starts `worker` directly (not under astd), with `notify` as its service manager.
    func startDirectly(_ worker: Worker, in tree: TreeDirectory, notify: NotifyListener) throws -> SpawnedProcess {
        try SpawnedProcess(
            worker.path, worker.arguments, environment: tree.environment(notifySocket: notify.path),
            name: worker.name, outputDirectory: tree.path)
    }

    /// `CLOCK_REALTIME` in nanoseconds: the clock astd stamps its lifecycle events with.
    static func wallClock() -> Int64 { SystemClock().now().nanoseconds }

    /// Blocks this thread (the benchmarks run on a thread of their own, never on the cooperative pool).
    static func sleep(seconds: Double) { usleep(UInt32(seconds * 1e6)) }

    /// `a - b` for stamps that should be ordered; 0 if the clocks say otherwise.
    static func elapsed(_ a: Int64, since b: Int64) -> UInt64 { a > b ? UInt64(a - b) : 0 }

    // MARK: 5. Cold start

    func coldStarts(_ workers: [Worker], progress: @escaping @Sendable (String) -> Void) throws -> ColdSamples {
        let astdTree = try TreeDirectory(path: scratch("cold-astd"), configDirectory: configDirectory, overlay: overlay)
        let directTree = try TreeDirectory(path: scratch("cold-direct"), configDirectory: configDirectory, overlay: overlay)
        let astdNotify = try NotifyListener(path: scratch("cold-astd.notify"))
        defer { astdNotify.stop() }
        let directNotify = try NotifyListener(path: scratch("cold-direct.notify"))
        defer { directNotify.stop() }

        var samples = ColdSamples()
        // Start 0 is an untimed warm-up: it creates the journals (later starts reopen them, as a
        // production restart does) and brings the executables into the page cache.
        for start in 0...coldStarts {
            let timed = start > 0
            var astdTime: UInt64?, directTime: UInt64 = 0
            // Each start takes turns at going first, so that neither side always follows the other's stop.
            for side in start % 2 == 0 ? [0, 1] : [1, 0] {
                if side == 0 {
                    switch try coldStartAstd(astdTree, notify: astdNotify) {
                    case .ready(let r) where timed:
                        astdTime = r.ready
                        samples.astd.append(r.ready)
                        samples.astdStartup.append(r.astdStartup)
                        samples.childrenStartup.append(r.childrenStartup)
                        samples.readyReport.append(r.readyReport)
                        samples.stop.append(r.stop)
                    case .ready:
                        break
                    case .neverReady(let children):
                        samples.neverReady.append("start \(start): \(children.joined(separator: ", "))")
                        progress("cold start \(start): astd never saw \(children.joined(separator: ", ")) READY; not timed")
                    }
                } else {
                    directTime = try coldStartDirect(workers, in: directTree, notify: directNotify)
                    if timed { samples.direct.append(directTime) }
                }
            }
            if timed {
                progress(
                    "cold start \(start)/\(coldStarts): astd → READY \(astdTime.map { Format.duration(Double($0)) } ?? "never"), "
                        + "the workers directly \(Format.duration(Double(directTime)))")
            } else {
                progress("cold start: warm-up done")
            }
        }
        return samples
    }

    /// One cold start of astd, in nanoseconds (see ``ColdSamples`` for the parts).
    struct ColdStart {
        var ready: UInt64
        var astdStartup: UInt64
        var childrenStartup: UInt64
        var readyReport: UInt64
        var stop: UInt64
    }

    /// How a cold start of astd ended.
    enum ColdStartOutcome {
        case ready(ColdStart)
        /// astd never sent READY=1: these children were spawned but never READY in its view.
        case neverReady([String])
    }

    /// One start of astd until its READY=1, then its stop.
    func coldStartAstd(_ tree: TreeDirectory, notify: NotifyListener) throws -> ColdStartOutcome {
        let mark = notify.count
        let wall0 = Self.wallClock()
        let t0 = Monotonic.now()
        let astd = try SpawnedProcess(
            astdExecutable, ["--foreground"], environment: tree.environment(notifySocket: notify.path),
            name: "astd", outputDirectory: tree.path)
        let readyAt = try notify.readyTime(
            1, after: mark, timeout: 30 + Self.neverReadySeconds, what: "astd",
            log: { astd.stderrTail }
        ) { astd.isRunning }
        let events = try LifecycleJournalReader(path: tree.supervisorJournal, since: wall0).poll()
        let s0 = Monotonic.now()
        astd.stop(graceSeconds: 30)
        let stop = Monotonic.now() - s0
        guard let readyAt else {
            let ready = Set(events.filter { $0.kind == "ready" }.compactMap(\.child))
            let stuck = events.filter { $0.kind == "spawned" }.compactMap(\.child).filter { !ready.contains($0) }
            guard !stuck.isEmpty else {
                throw BenchError(
                    "astd sent no READY=1 within \(30 + Int(Self.neverReadySeconds)) s, and every child it spawned was READY; "
                        + notify.describe(after: mark, log: { astd.stderrTail }))
            }
            return .neverReady(stuck)
        }
        let ready = readyAt - t0
        guard let firstSpawn = events.first(where: { $0.kind == "spawned" })?.at,
            let lastReady = events.filter({ $0.kind == "ready" }).map(\.at).max()
        else { throw BenchError("astd reported READY=1 without spawned and ready events in its journal (\(tree.supervisorJournal))") }
        // Both are durations since the spawn: `ready` on the monotonic clock, `lastReady` on the wall clock.
        let lastReadyAfterSpawn = Self.elapsed(lastReady, since: wall0)
        return .ready(
            ColdStart(
                ready: ready, astdStartup: Self.elapsed(firstSpawn, since: wall0),
                childrenStartup: Self.elapsed(lastReady, since: firstSpawn),
                readyReport: ready > lastReadyAfterSpawn ? ready - lastReadyAfterSpawn : 0, stop: stop))
    }

    /// The workers started directly, each binding its own socket, until every one sent
    /// READY=1; then stopped. Returns the time to the last READY=1.
    func coldStartDirect(_ workers: [Worker], in tree: TreeDirectory, notify: NotifyListener) throws -> UInt64 {
        let mark = notify.count
        var processes: [SpawnedProcess] = []
        let t0 = Monotonic.now()
        for worker in workers { processes.append(try startDirectly(worker, in: tree, notify: notify)) }
        let ready = try notify.waitForReady(
            workers.count, after: mark, timeout: 60, what: "the workers started directly",
            log: { processes.map(\.stderrTail).joined(separator: "\n") }
        ) {
            processes.allSatisfy(\.isRunning)
        }
        for p in processes { kill(p.pid, SIGTERM) }
        for p in processes { p.stop(graceSeconds: 10) }
        return ready - t0
    }

    // MARK: 4. Crash → READY, and 6. memory

    func crashLoop(_ workers: [Worker], progress: @escaping @Sendable (String) -> Void) throws -> (CrashSamples, Memory) {
        let tree = try TreeDirectory(path: scratch("crash-astd"), configDirectory: configDirectory, overlay: overlay)
        let directTree = try TreeDirectory(path: scratch("crash-direct"), configDirectory: configDirectory, overlay: overlay)
        let notify = try NotifyListener(path: scratch("crash-astd.notify"))
        defer { notify.stop() }
        let directNotify = try NotifyListener(path: scratch("crash-direct.notify"))
        defer { directNotify.stop() }

        let wall0 = Self.wallClock()
        let astd = try SpawnedProcess(
            astdExecutable, ["--foreground"], environment: tree.environment(notifySocket: notify.path),
            name: "astd", outputDirectory: tree.path)
        defer { astd.stop(graceSeconds: 30) }
        _ = try notify.waitForReady(1, after: 0, timeout: 60, what: "astd", log: { astd.stderrTail }) { astd.isRunning }
        let journal = LifecycleJournalReader(path: tree.supervisorJournal, since: wall0)
        defer { journal.close() }
        // Every child's pid, from the `ready` events journaled before astd's READY=1.
        var pids: [String: Int32] = [:]
        for e in try journal.poll() where e.kind == "ready" {
            if let child = e.child, let pid = e.pid { pids[child] = pid }
        }
        guard Set(pids.keys) == Set(workers.map(\.name)) else {
            throw BenchError("astd reported READY=1, but its journal has ready events only for \(pids.keys.sorted())")
        }
        Self.sleep(seconds: 1)
        let afterStart = try ProcessMemory(pid: astd.pid)
        let workerRSS = try workers.map { try ProcessMemory(pid: pids[$0.name]!).rss }
        progress("crash loop: astd VmRSS \(ProcessMemory.format(afterStart.rss)) after start; \(crashes) kills, back-off \(backoffMs) ms")

        var samples = CrashSamples()
        let midwayCrashes = max(crashes / 2, 1)
        var midway = afterStart
        for k in 0..<crashes {
            let worker = workers[k % workers.count], child = worker.name
            let old = pids[child]!
            let wallKill = Self.wallClock()
            let monoKill = Monotonic.now()
            guard kill(old, SIGKILL) == 0 else {
                throw BenchError("kill(\(old), SIGKILL) for \(child): \(String(cString: strerror(errno)))")
            }

            let restart = try awaitRestart(of: child, killed: old, at: wallKill, monotonic: monoKill, journal: journal, astd: astd)
            if let d = restart.ready {
                let (e, r, s) = (restart.exited, restart.restarted, restart.spawned)
                pids[child] = restart.pid
                samples.killToReady.append(Self.elapsed(d, since: wallKill))
                samples.exitedToReady.append(Self.elapsed(d, since: e))
                samples.killToObserved.append(restart.observed)
                samples.killToExited.append(Self.elapsed(e, since: wallKill))
                samples.exitedToRestarted.append(Self.elapsed(r, since: e))
                samples.restartedToSpawned.append(Self.elapsed(s, since: r))
                samples.spawnedToReady.append(Self.elapsed(d, since: s))
                Self.sleep(seconds: Self.settleSeconds)
                try directBaseline(worker, in: directTree, notify: directNotify, into: &samples)
            } else {
                samples.neverReady.append("\(child) pid \(restart.pid) (kill \(k + 1))")
                progress(
                    "crash \(k + 1): astd never saw \(child) pid \(restart.pid) READY within \(Int(Self.neverReadySeconds)) s of its spawn; "
                        + "killing it to go on (not timed)")
                pids[child] = try recover(child, stuck: restart.pid, journal: journal, astd: astd, neverReady: &samples.neverReady)
            }

            if k + 1 == midwayCrashes {
                Self.sleep(seconds: 1)
                midway = try ProcessMemory(pid: astd.pid)
            }
            if (k + 1) % workers.count == 0, let ready = samples.killToReady.last, let direct = samples.direct.last {
                progress(
                    "crash \(k + 1)/\(crashes): kill → READY \(Format.duration(Double(ready))) "
                        + "(exited → restarted \(Format.duration(Double(samples.exitedToRestarted.last!))), "
                        + "spawned → ready \(Format.duration(Double(samples.spawnedToReady.last!)))); "
                        + "last worker started directly \(Format.duration(Double(direct)))")
            }
        }
        Self.sleep(seconds: 1)
        guard astd.isRunning else { throw BenchError("astd exited after the crash loop: \(astd.stderrTail)") }
        let afterCrashes = try ProcessMemory(pid: astd.pid)
        progress("crash loop done: astd VmRSS \(ProcessMemory.format(afterCrashes.rss)), VmHWM \(ProcessMemory.format(afterCrashes.hwm))")
        return (
            samples,
            Memory(
                afterStart: afterStart, midway: midway, midwayCrashes: midwayCrashes, afterCrashes: afterCrashes,
                workers: workerRSS)
        )
    }

    /// The baselines of one kill: `worker` started directly until its READY=1, then killed with
    /// SIGKILL until the kernel reports its exit.
    func directBaseline(_ worker: Worker, in tree: TreeDirectory, notify: NotifyListener, into samples: inout CrashSamples) throws {
        let mark = notify.count
        let t0 = Monotonic.now()
        let direct = try startDirectly(worker, in: tree, notify: notify)
        let ready = try notify.waitForReady(1, after: mark, timeout: 30, what: worker.name, log: { direct.stderrTail }) {
            direct.isRunning
        }
        samples.direct.append(ready - t0)
        Self.sleep(seconds: Self.settleSeconds)
        let k0 = Monotonic.now()
        kill(direct.pid, SIGKILL)
        try waitForExitWithoutReaping(direct.pid)
        samples.directKillToExit.append(Monotonic.now() - k0)
        direct.stop(graceSeconds: 10)
        Self.sleep(seconds: Self.settleSeconds)
    }

    /// One restart as astd journaled it: its stamps (wall clock, ns) and the new pid.
    struct Restart {
        var exited: Int64
        var restarted: Int64
        var spawned: Int64
        /// nil when astd never saw the new process READY (see ``neverReadySeconds``).
        var ready: Int64?
        var pid: Int32
        /// Monotonic time from the kill until the bench found the `ready` event.
        var observed: UInt64
    }

    /// Polls astd's journal (every ``pollMicroseconds``) until the restart of `child` after its
    /// process `old` was killed is over.
    func awaitRestart(
        of child: String, killed old: Int32, at wallKill: Int64, monotonic monoKill: UInt64,
        journal: LifecycleJournalReader, astd: SpawnedProcess
    ) throws -> Restart {
        var exited: Int64?, restarted: Int64?, spawned: Int64?, newPid: Int32?, spawnSeen: UInt64?
        while true {
            for e in try journal.poll() {
                if e.kind == "gave_up" { throw BenchError("astd gave up during the crash loop: \(astd.stderrTail)") }
                guard e.child == child else { continue }
                switch e.kind {
                case "exited" where e.pid == old: exited = e.at
                case "restarted" where exited != nil: restarted = e.at
                case "spawned" where restarted != nil && e.pid != old: (spawned, newPid, spawnSeen) = (e.at, e.pid, Monotonic.now())
                case "ready" where spawned != nil && e.pid == newPid:
                    return Restart(
                        exited: exited!, restarted: restarted!, spawned: spawned!, ready: e.at, pid: newPid!,
                        observed: Monotonic.now() - monoKill)
                default: break
                }
            }
            guard astd.isRunning else { throw BenchError("astd exited during the crash loop: \(astd.stderrTail)") }
            if let spawnSeen, let newPid, let exited, let restarted, let spawned, kill(newPid, 0) == 0,
                Double(Monotonic.now() - spawnSeen) > Self.neverReadySeconds * 1e9
            {
                return Restart(exited: exited, restarted: restarted, spawned: spawned, ready: nil, pid: newPid, observed: 0)
            }
            guard Monotonic.now() - monoKill < UInt64((Self.neverReadySeconds + 20) * 1e9) else {
                let seen = [("exited", exited), ("restarted", restarted), ("spawned", spawned)]
                    .map { "\($0.0) \($0.1.map { "+\(Format.duration(Double(Self.elapsed($0, since: wallKill))))" } ?? "not seen")" }
                let alive = newPid.map { kill($0, 0) == 0 ? "pid \($0) is alive" : "pid \($0) is gone" } ?? "no new pid"
                throw BenchError(
                    "\(child) (pid \(old)) was not READY again within \(Int(Self.neverReadySeconds + 20)) s of SIGKILL: "
                        + "\(seen.joined(separator: ", ")); \(alive); astd's stderr:\n\(astd.stderrTail)")
            }
            usleep(Self.pollMicroseconds)
        }
    }

    /// Brings `child` back after astd never saw its process `stuck` READY: kills that process
    /// until a restart ends READY (untimed; each further miss is added to `neverReady`).
    /// Returns the pid that astd has READY.
    func recover(
        _ child: String, stuck: Int32, journal: LifecycleJournalReader, astd: SpawnedProcess,
        neverReady: inout [String]
    ) throws -> Int32 {
        var pid = stuck
        for _ in 1...5 {
            let wallKill = Self.wallClock(), monoKill = Monotonic.now()
            kill(pid, SIGKILL)
            let restart = try awaitRestart(of: child, killed: pid, at: wallKill, monotonic: monoKill, journal: journal, astd: astd)
            if restart.ready != nil {
                Self.sleep(seconds: Self.settleSeconds)
                return restart.pid
            }
            neverReady.append("\(child) pid \(restart.pid) (while recovering)")
            pid = restart.pid
        }
        throw BenchError("astd never saw \(child) READY in five restarts in a row: \(astd.stderrTail)")
    }
}

// MARK: Report rows

extension Report {
    /// The rows of benchmarks 4 to 6. Latencies are nearest-rank percentiles over every kill;
    /// cold starts are medians (and the nearest-rank p99) over every start.
    mutating func add(supervision s: SupervisorBenchmarks.Summary) {
        let c = s.crash, backoff = UInt64(s.backoffMs) * 1_000_000
        func p(_ v: [UInt64], _ q: Double) -> Double { Stats.percentile(v.sorted(), q) }
        func pair(_ v: [UInt64]) -> String { "p50 \(Format.duration(p(v, 0.5))), p99 \(Format.duration(p(v, 0.99)))" }
        func slash(_ v: [UInt64]) -> String { "\(Format.duration(p(v, 0.5))) / \(Format.duration(p(v, 0.99)))" }
        func median(_ v: [UInt64]) -> Double { Stats.median(v.map { Double($0) }) }
        let net = c.killToReady.map { $0 > backoff ? $0 - backoff : 0 }
        let netP50 = p(net, 0.5)

        add(
            ReportRow(
                benchmark: "4. Crash → READY: SIGKILL a worker (round-robin over the \(s.workers)) → astd has it READY with a new pid; "
                    + "bench's stamp before `kill` → astd's `ready` stamp, minus the configured back-off of \(s.backoffMs) ms "
                    + "(\(c.killToReady.count) timed restarts of \(s.crashes) kills)",
                result: pair(net),
                baseline: "the same worker `posix_spawn`ed directly → its READY=1: \(pair(c.direct))",
                ratio: "p50 \(Format.ratio(netP50 / p(c.direct, 0.5)))",
                target: "p50 ≤ 150 ms excluding back-off", verdict: Self.verdict(netP50 <= 150e6)))
        add(
            ReportRow(
                benchmark:
                    "4. of which (p50 / p99): kill → `exited` (reaped, handled) · `exited` → `restarted` (back-off \(s.backoffMs) ms, astd's tick) · "
                    + "`restarted` → `spawned` (fork/exec) · `spawned` → `ready` (the worker's start-up)",
                result: [c.killToExited, c.exitedToRestarted, c.restartedToSpawned, c.spawnedToReady].map(slash).joined(separator: " · "),
                baseline: "kill → exit of a directly started worker (blocking `waitid`): \(slash(c.directKillToExit))",
                ratio: "-", target: "-", verdict: "-"))
        add(
            ReportRow(
                benchmark:
                    "4. Restarts that never became READY in astd's view (spawned, alive, no `ready` event \(Int(SupervisorBenchmarks.neverReadySeconds)) s "
                    + "after the spawn; the bench then kills that process to go on)",
                result: c.neverReady.isEmpty ? "none of \(s.crashes)" : "\(c.neverReady.count): \(c.neverReady.joined(separator: "; "))",
                baseline: "-", ratio: "-", target: "none", verdict: Self.verdict(c.neverReady.isEmpty)))
        add(
            ReportRow(
                benchmark:
                    "4. diagnostic: astd's own `exited` → `ready` (back-off included); kill → the bench found `ready` in the journal (polled every 1 ms)",
                result: "\(pair(c.exitedToReady)); \(pair(c.killToObserved))",
                baseline: "-", ratio: "-", target: "-", verdict: "-"))

        let cold = s.cold
        let astdMedian = median(cold.astd), directMedian = median(cold.direct)
        add(
            ReportRow(
                benchmark: "5. Cold start: `posix_spawn(astd)` → astd's READY=1 on our NOTIFY_SOCKET (all \(s.workers) children READY) "
                    + "(\(cold.astd.count) timed of \(s.coldStarts) starts)",
                result: "median \(Format.duration(astdMedian)), p99 \(Format.duration(p(cold.astd, 0.99)))",
                baseline:
                    "the \(s.workers) workers `posix_spawn`ed directly → \(s.workers) READY=1: median \(Format.duration(directMedian)), "
                    + "p99 \(Format.duration(p(cold.direct, 0.99)))",
                ratio: "+\(Format.duration(astdMedian - directMedian)) (\(Format.ratio(astdMedian / directMedian)))",
                target: "reported", verdict: "-"))
        add(
            ReportRow(
                benchmark: "5. of which (medians): spawn → astd's first `spawned` (astd's start-up) · first `spawned` → last `ready` · "
                    + "last `ready` → READY=1 received (astd's tick); and stop: SIGTERM → astd exited",
                result: [cold.astdStartup, cold.childrenStartup, cold.readyReport].map { Format.duration(median($0)) }.joined(
                    separator: " · ")
                    + "; stop \(Format.duration(median(cold.stop)))",
                baseline: "-", ratio: "-", target: "-", verdict: "-"))

        add(
            ReportRow(
                benchmark: "5. Starts after which astd never sent READY=1 (a child it spawned never READY in its view)",
                result: cold.neverReady.isEmpty
                    ? "none of \(s.coldStarts)" : "\(cold.neverReady.count): \(cold.neverReady.joined(separator: "; "))",
                baseline: "-", ratio: "-", target: "none", verdict: Self.verdict(cold.neverReady.isEmpty)))

        let m = s.memory, (a, h, b) = (s.memory.afterStart, s.memory.midway, s.memory.afterCrashes)
        let workerMedian = Int(Stats.median(m.workers.map { Double($0) }))
        func mb(_ bytes: Int) -> String { ProcessMemory.format(bytes) }
        add(
            ReportRow(
                benchmark:
                    "6. astd memory: VmRSS after start / after \(m.midwayCrashes) crashes / after \(s.crashes) crashes; VmHWM at the end",
                result: "\(mb(a.rss)) / \(mb(h.rss)) / \(mb(b.rss)); HWM \(mb(b.hwm))",
                baseline: "a worker (median of the \(s.workers)): VmRSS \(mb(workerMedian))",
                ratio: Format.ratio(Double(a.rss) / Double(workerMedian)),
                target: "≤ 20 MB", verdict: Self.verdict(max(a.rss, b.rss, b.hwm) <= 20_000_000)))
        add(
            ReportRow(
                benchmark:
                    "6. of which anonymous / file-backed (executable, shared libraries) / shmem, after start → midway → after the crashes",
                result: [a, h, b].map { "\(mb($0.anonymous)) / \(mb($0.file)) / \(mb($0.shmem))" }.joined(separator: " → "),
                baseline: "-", ratio: "-", target: "-", verdict: "-"))
        add(
            ReportRow(
                benchmark:
                    "6. diagnostic: PSS (shared pages divided among the processes mapping them) and private memory, after start → midway → after the crashes",
                result:
                    "PSS \([a, h, b].map { mb($0.pss) }.joined(separator: " → ")); private \([a, h, b].map { mb($0.privateBytes) }.joined(separator: " → "))",
                baseline: "-", ratio: "-", target: "-", verdict: "-"))
    }
}
