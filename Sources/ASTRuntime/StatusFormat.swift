import ASTCore
import ASTWire
import Foundation

/// How `astctl status` prints a ``TreeStatus``: a table for people, JSON for programs.
public enum StatusFormat {
    /// The stable JSON document (keys sorted, timestamps as integer nanoseconds).
    public static func json(_ status: TreeStatus) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try! encoder.encode(status), as: UTF8.self)
    }

    /// A fixed-width table: process, pid, state, ready, uptime, restarts, last watchdog ping, last exit.
    public static func table(_ status: TreeStatus) -> String {
        var rows = [["PROCESS", "PID", "STATE", "READY", "UPTIME", "RESTARTS", "WATCHDOG", "LAST EXIT"]]
        for c in status.children {
            rows.append([
                c.name, c.pid.map(String.init) ?? "-", c.state, c.ready ? "yes" : "no",
                c.uptimeSeconds.map(duration) ?? "-", String(c.restarts),
                c.lastWatchdogPing.map { duration(Double($0.duration(since: status.now).totalNanoseconds) / -1e9) + " ago" } ?? "-",
                c.lastExit ?? "-",
            ])
        }
        let widths = rows[0].indices.map { i in rows.map { $0[i].count }.max() ?? 0 }
        let lines = rows.map { row in
            row.enumerated().map { i, cell in i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
        }
        let head =
            "astd pid \(status.supervisorPID), up \(duration(Double(status.now.duration(since: status.startedAt).totalNanoseconds) / 1e9)): \(status.summary) (\(status.state))"
        return ([head, ""] + lines).joined(separator: "\n")
    }

    /// `4.2s`, `3m05s`, `2h03m`, `1d04h`.
    public static func duration(_ seconds: Double) -> String {
        let s = max(0, seconds)
        if s < 60 { return String(format: "%.1fs", s) }
        let whole = Int(s)
        if whole < 3600 { return String(format: "%dm%02ds", whole / 60, whole % 60) }
        if whole < 86_400 { return String(format: "%dh%02dm", whole / 3600, whole % 3600 / 60) }
        return String(format: "%dd%02dh", whole / 86_400, whole % 86_400 / 3600)
    }
}
