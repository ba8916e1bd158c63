import ASTCore
import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Fault injection for tests (refused with `trading.mode: LIVE`): a real crash between an input
/// and its output. `AST_FAULT_CRASH_AFTER_INPUT=<entry type>[:<input kind>][@N][,...]` (for
/// example `risk.input:intent,reconciler.input:reconciliation,market.time:full_scan@3`) makes a
/// process, the first (or, with `@N`, the Nth since it started) time it has durably journaled an
/// input of that entry type (and kind: the input's enum case) whose handling produced at least
/// one output, kill itself with SIGKILL before that output is journaled or sent. One-shot: a marker file in the runtime directory
/// (`fault.crashed-after-input.<process>.<entry type>`, holding what was crashed on) keeps
/// the restarted process from crashing again.
public enum CrashAfterInputFault {
    public static let variable = "AST_FAULT_CRASH_AFTER_INPUT"

    struct Armed: Sendable {
        var process: String
        var runtimeDir: String
        /// Entry type -> the input kinds that crash (empty: any kind).
        var targets: [String: Set<String>]
        /// Entry type -> which matching input crashes (1: the first).
        var nth: [String: Int] = [:]
        /// Entry type -> matching inputs seen so far.
        var seen: [String: Int] = [:]
        var logger: Logger
    }

    static let armed = Mutex<Armed?>(nil)

    /// Arms the switch from the environment, once per process, at the worker's start. Throws
    /// with `trading.mode: LIVE`; logs at CRIT otherwise.
    public static func arm(
        config: ASTConfig, process: String, logger: Logger,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws {
        guard let value = environment[variable], !value.isEmpty else { return }
        guard (config.trading ?? .paper).mode != .live else {
            throw CrashAfterInputFaultError("\(variable) is a fault injection for tests and is refused with trading.mode LIVE; unset it")
        }
        var targets: [String: Set<String>] = [:]
        var nth: [String: Int] = [:]
        for item in value.split(separator: ",") {
            var spec = Substring(item)
            if let at = spec.lastIndex(of: "@") {
                guard let n = Int(spec[spec.index(after: at)...].trimmingCharacters(in: .whitespaces)), n >= 1 else {
                    throw CrashAfterInputFaultError("\(variable): '\(item)' must end in @N with N a whole number from 1")
                }
                spec = spec[..<at]
                nth[String(spec.split(separator: ":", maxSplits: 1).first ?? "").trimmingCharacters(in: .whitespaces)] = n
            }
            let parts = spec.split(separator: ":", maxSplits: 1).map { String($0).trimmingCharacters(in: .whitespaces) }
            guard let type = parts.first, !type.isEmpty else { continue }
            var kinds = targets[type] ?? []
            if parts.count == 2 { kinds.insert(parts[1]) }
            targets[type] = kinds
        }
        guard !targets.isEmpty else { return }
        logger.critical(
            "FAULT INJECTION ON (\(variable)=\(value)): this process SIGKILLs itself after journaling such an input; for tests only")
        armed.withLock { $0 = Armed(process: process, runtimeDir: config.runtimeDir, targets: targets, nth: nth, logger: logger) }
    }

    /// The fault point: call after `input` is durably journaled as `entryType` and handled by
    /// the core, before any of its `outputs` (their count) is journaled or sent. Returns at once
    /// when the switch is off.
    public static func point<Input>(_ entryType: String, _ input: Input, outputs: Int) {
        guard outputs > 0, let a = armed.withLock({ $0 }), let kinds = a.targets[entryType] else { return }
        let kind = caseName(input)
        guard kinds.isEmpty || kinds.contains(kind) else { return }
        let count = armed.withLock { armed -> Int in
            armed?.seen[entryType, default: 0] += 1
            return armed?.seen[entryType] ?? 0
        }
        guard count >= a.nth[entryType, default: 1] else { return }
        let marker = "\(a.runtimeDir)/fault.crashed-after-input.\(a.process).\(entryType)"
        let fd = open(marker, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else { return }  // crashed here before (or the directory is not writable: no crash)
        let text = Array("\(a.process) \(entryType) \(kind) outputs \(outputs)\n".utf8)
        _ = text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        fsync(fd)
        close(fd)
        a.logger.critical("FAULT INJECTION: SIGKILL after journaling \(entryType) (\(kind)) before its \(outputs) output(s)")
        kill(getpid(), SIGKILL)
    }

    /// The enum case an input is (`intent` for `RiskInput.intent(...)`).
    static func caseName<Input>(_ input: Input) -> String {
        if let label = Mirror(reflecting: input).children.first?.label { return label }
        return String(describing: input).prefix { $0 != "(" }.description
    }
}

/// The fault switch is refused as configured.
public struct CrashAfterInputFaultError: Error, CustomStringConvertible {
    public var description: String
    init(_ d: String) { description = d }
}
