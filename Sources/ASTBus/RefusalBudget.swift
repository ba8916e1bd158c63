import ASTCore
import ASTWire

/// Bounds what refused peers cost in journal and log, as a pure state machine (time is an input).
///
/// Refusals are counted per peer (its kernel uid: a hostile peer can fork new pids at will, not
/// new uids) and refusal code, in windows of `interval`. In each window the first `perWindow`
/// of a key are recorded in full; the rest are only counted, and the count is handed out once
/// when the window ends (``closeWindow(_:)``), for one summary entry. A flood therefore costs at
/// most `perWindow + 1` entries per key and window, whatever its rate.
public struct RefusalBudget: Sendable {
    /// Who was refused and why.
    public struct Key: Hashable, Sendable, CustomStringConvertible {
        /// The peer's uid from `SO_PEERCRED`; nil when the kernel did not say.
        public var uid: UInt32?
        /// A ``RefusalCode`` raw value, or a refusal of the endpoint itself such as `connection_limit`.
        public var code: String

        public init(uid: UInt32?, code: String) {
            self.uid = uid
            self.code = code
        }

        public var description: String { "uid \(uid.map(String.init) ?? "unknown") \(code)" }
    }

    /// What to do with one refusal.
    public enum Decision: Sendable, Equatable {
        /// Journal and log it in full.
        case record
        /// Count it only. `firstInWindow`: the first one suppressed in this window; the caller
        /// arranges for ``closeWindow(_:)`` to run when the window ends.
        case suppress(firstInWindow: Bool)
    }

    private struct Window {
        var start: Timestamp
        var recorded = 0
        var suppressed = 0
    }

    /// Refusals of one key recorded in full per window.
    public let perWindow: Int
    /// The window's length.
    public let interval: Duration
    private var windows: [Key: Window] = [:]

    public init(perWindow: Int, interval: Duration) {
        self.perWindow = max(0, perWindow)
        self.interval = interval
    }

    /// Counts one refusal of `key` at `now` and says whether to record it.
    public mutating func admit(_ key: Key, now: Timestamp) -> Decision {
        var window = windows[key] ?? Window(start: now)
        if window.suppressed == 0, now.duration(since: window.start) >= interval {
            // A window with nothing pending is over: start a fresh one. (One with suppressed
            // refusals ends only through closeWindow, so that its count is never lost.)
            window = Window(start: now)
        }
        defer { windows[key] = window }
        if window.recorded < perWindow {
            window.recorded += 1
            return .record
        }
        window.suppressed += 1
        return .suppress(firstInWindow: window.suppressed == 1)
    }

    /// Ends the window of `key`: the number of refusals suppressed in it (zero when none), and
    /// the next refusal of the key starts a new window.
    public mutating func closeWindow(_ key: Key) -> Int {
        guard let window = windows.removeValue(forKey: key) else { return 0 }
        return window.suppressed
    }

    /// Ends every open window (an orderly shutdown): the keys with refusals suppressed in their
    /// window and how many, in a stable order. Nothing is lost to a window that never ended.
    public mutating func closeAll() -> [(key: Key, suppressed: Int)] {
        let open = windows.filter { $0.value.suppressed > 0 }.map { (key: $0.key, suppressed: $0.value.suppressed) }
        windows = [:]
        return open.sorted { ($0.key.uid ?? 0, $0.key.code) < ($1.key.uid ?? 0, $1.key.code) }
    }

    /// Keys with a window open; bounded by uids times codes.
    public var openWindows: Int { windows.count }

    /// Most bytes of a refusal's detail that are journaled, logged or sent back.
    public static let maximumDetailBytes = 256

    /// `refusal` with its detail cut to ``maximumDetailBytes`` (on a Unicode scalar boundary) and the
    /// original length stated, so that a peer's 1 MB field is never echoed.
    public static func truncated(_ refusal: Refusal) -> Refusal {
        Refusal(code: refusal.code, detail: truncated(refusal.detail))
    }

    /// `detail` cut to at most ``maximumDetailBytes`` bytes of UTF-8 plus a note of its length.
    public static func truncated(_ detail: String) -> String {
        let total = detail.utf8.count
        guard total > maximumDetailBytes else { return detail }
        var kept = String.UnicodeScalarView()
        var bytes = 0
        for scalar in detail.unicodeScalars {
            let size = UTF8.width(scalar)
            if bytes + size > maximumDetailBytes { break }
            bytes += size
            // Control characters would make one log line many; the detail is for people.
            kept.append(scalar.value < 0x20 || scalar.value == 0x7F ? "?" : scalar)
        }
        let printable = String(kept)
        return "\(printable)... (truncated: \(total) bytes in all)"
    }
}
