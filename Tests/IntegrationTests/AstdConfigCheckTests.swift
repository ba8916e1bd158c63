import ASTTestKit
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// astd links no trading domain: it reads the tree's sections itself and has the worker
/// executables check the whole file (`--check-config`) before it starts anything, so that a
/// domain's configuration error still stops it with exit 78 and nothing started.
@Suite struct AstdConfigCheckTests {
    /// A configuration directory: the shipped etc/ast.yaml plus `local` as ast.local.yaml.
    static func configured(_ local: String, prefix: String) throws -> TemporaryDirectory {
        let dir = try TemporaryDirectory(prefix: prefix)
        try FileManager.default.createDirectory(atPath: dir("etc"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: BuildProducts.packageRoot + "/etc/ast.yaml", toPath: dir("etc/ast.yaml"))
        try local.write(toFile: dir("etc/ast.local.yaml"), atomically: true, encoding: .utf8)
        return dir
    }

    static func environment(_ dir: TemporaryDirectory) -> [String: String] {
        [
            "PATH": "/usr/bin:/bin", "AST_CONFIG_DIR": dir("etc"), "AST_ENV": "test", "AST_RUNTIME_DIR": dir("run"),
            "AST_STATE_DIR": dir("state"), "AST_WEB__PORT": "0",
        ]
    }

    @Test(.timeLimit(.minutes(1)))
    func aStrategyPluginErrorStopsAstdWithExit78BeforeItStartsAnything() async throws {
        let dir = try Self.configured("strategy:\n  detectors:\n    - name: no_such_detector\n", prefix: "ast-check-78")
        defer { dir.remove() }
        let astd = try ChildProcess(
            try BuildProducts.executable("astd"), ["--foreground"], environment: Self.environment(dir), name: "astd",
            outputDirectory: dir.path)
        try await eventually(timeout: .seconds(50), "astd to exit") { !astd.isRunning }
        #expect(astd.exitStatus.flatMap(ChildProcess.exitCode) == 78, "\(astd.stderrTail)")
        #expect(astd.stderr.contains("unknown detector 'no_such_detector'"), "\(astd.stderrTail)")
        // Nothing was started: no socket directory, no journal.
        #expect(!FileManager.default.fileExists(atPath: dir("run")), "\(astd.stderrTail)")
        #expect(!FileManager.default.fileExists(atPath: dir("state")), "\(astd.stderrTail)")
    }

    @Test(.timeLimit(.minutes(1)))
    func aWorkerChecksTheWholeFileAndExitsWithoutBindingItsSocket() async throws {
        for (local, code) in [("", Int32(0)), ("risk:\n  limits:\n    no_such_limit: 1\n", Int32(78))] {
            let dir = try Self.configured(local, prefix: "ast-check-worker")
            defer { dir.remove() }
            let worker = try ChildProcess(
                try BuildProducts.executable("ast-risk"), ["--check-config"], environment: Self.environment(dir), name: "risk",
                outputDirectory: dir.path)
            try await eventually(timeout: .seconds(50), "ast-risk --check-config to exit") { !worker.isRunning }
            #expect(worker.exitStatus.flatMap(ChildProcess.exitCode) == code, "\(worker.stderrTail)")
            if code == 78 { #expect(worker.stderr.contains("risk.limits.no_such_limit"), "\(worker.stderrTail)") }
            #expect(!FileManager.default.fileExists(atPath: dir("run")), "a check bound its socket: \(worker.stderrTail)")
        }
    }

    /// The module names (as Swift mangles them) of the trading domains and of what only workers
    /// and tools need: none of their code may be linked into astd.
    static let notInAstd = [
        "ASTStrategy", "ASTRisk", "ASTPaperBroker", "ASTIndicators", "ASTCalendar", "ASTExecution", "ASTReport", "ASTReplay",
        "ASTRuntime", "AsyncHTTPClient", "ServiceLifecycle",
    ]

    @Test func astdLinksNoTradingDomain() throws {
        let astd = try BuildProducts.executable("astd")
        let dir = try TemporaryDirectory(prefix: "ast-astd-nm")
        defer { dir.remove() }
        let nm = try ChildProcess(
            "/usr/bin/nm", ["--defined-only", astd], environment: ["PATH": "/usr/bin:/bin"], outputDirectory: dir.path)
        while nm.isRunning { usleep(20_000) }
        #expect(nm.exitStatus.flatMap(ChildProcess.exitCode) == 0, "\(nm.stderrTail)")
        let symbols = try String(contentsOfFile: dir("nm.out"), encoding: .utf8)
        #expect(symbols.utf8.count > 10_000, "nm printed almost nothing: \(nm.stderrTail)")
        for module in Self.notInAstd {
            // A Swift symbol of module M starts with `$s<length>M`.
            let prefix = "$s\(module.utf8.count)\(module)"
            let found = symbols.split(separator: "\n").first { $0.contains(" \(prefix)") }
            #expect(found == nil, "astd links \(module): \(found.map(String.init) ?? "")")
        }
    }
}
