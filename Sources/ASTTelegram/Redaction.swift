import ASTRuntime
import Logging

/// The one place the notifier removes secrets from text: every log line (through
/// ``RedactingLogHandler``), every journal body, every status and every error it hands out.
///
/// A secret is found in any encoding a text may carry it in: raw, percent-encoded (any or all of
/// its bytes, upper- or lower-case hex, as in a URL a server echoes back: `7312345678%3AAAF…`),
/// or as JSON `\u00XX` escapes, mixed freely. Besides the secrets themselves, whatever follows
/// `/bot` up to the next `/` (a Bot API URL path, whatever token it holds) is removed too.
public struct SecretRedactor: Sendable {
    /// What a secret is replaced by.
    public static let replacement = "<redacted>"
    let secrets: [[UInt8]]

    /// Redacts `secrets` (values shorter than 4 bytes are ignored: they would match everywhere).
    public init(secrets: [String]) {
        self.secrets = secrets.filter { $0.utf8.count >= 4 }.map { Array($0.utf8) }
    }

    /// Redacts the values of `secrets`.
    public init(_ secrets: [Secret]) {
        self.init(secrets: secrets.map { $0.withValue { $0 } })
    }

    /// `text` without any secret, in any encoding, and without any `/bot…/` path segment.
    public func redact(_ text: String) -> String {
        guard !text.isEmpty else { return text }
        let bytes = Array(text.utf8)
        let out = redact(bytes: bytes)
        return out == bytes ? text : String(decoding: out, as: UTF8.self)
    }

    /// `bytes` (a journal body, UTF-8 JSON) without any secret, in any encoding, and without any
    /// `/bot…/` path segment.
    public func redact(bytes: [UInt8]) -> [UInt8] {
        var text = bytes
        for secret in secrets { text = Self.replace(secret, in: text) }
        return Self.redactBotPaths(text)
    }

    static let marker = Array(replacement.utf8)

    static func replace(_ secret: [UInt8], in text: [UInt8]) -> [UInt8] {
        guard let first = secret.first else { return text }
        var out: [UInt8] = []
        var i = 0
        var changed = false
        while i < text.count {
            let c = text[i]
            if c == first || c == UInt8(ascii: "%") || c == UInt8(ascii: "\\"), let end = match(secret, in: text, at: i) {
                if !changed {
                    out.reserveCapacity(text.count)
                    out += text[..<i]
                    changed = true
                }
                out += marker
                i = end
                continue
            }
            if changed { out.append(c) }
            i += 1
        }
        return changed ? out : text
    }

    /// Where `secret` ends when it starts at `start`, each byte raw, `%XX` or `\u00XX`.
    static func match(_ secret: [UInt8], in text: [UInt8], at start: Int) -> Int? {
        var i = start
        for b in secret {
            guard i < text.count else { return nil }
            if text[i] == b {
                i += 1
            } else if text[i] == UInt8(ascii: "%"), i + 2 < text.count, let v = hex(text[i + 1], text[i + 2]), v == b {
                i += 3
            } else if text[i] == UInt8(ascii: "\\"), i + 5 < text.count, text[i + 1] == UInt8(ascii: "u"),
                text[i + 2] == UInt8(ascii: "0"), text[i + 3] == UInt8(ascii: "0"), let v = hex(text[i + 4], text[i + 5]), v == b
            {
                i += 6
            } else {
                return nil
            }
        }
        return i
    }

    static func hex(_ a: UInt8, _ b: UInt8) -> UInt8? {
        func digit(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        guard let h = digit(a), let l = digit(b) else { return nil }
        return h << 4 | l
    }

    /// A URL in an error message: `/bot<anything>/method` loses `<anything>`.
    static func redactBotPaths(_ text: [UInt8]) -> [UInt8] {
        let needle = Array("/bot".utf8)
        guard text.count > needle.count else { return text }
        var out: [UInt8] = []
        var i = 0
        var changed = false
        while i < text.count {
            if i + needle.count <= text.count, text[i..<(i + needle.count)].elementsEqual(needle) {
                let from = i + needle.count
                var end = from
                while end < text.count,
                    ![UInt8(ascii: "/"), UInt8(ascii: " "), UInt8(ascii: "\""), UInt8(ascii: "'"), 10, 13, 9]
                        .contains(text[end])
                {
                    end += 1
                }
                if end < text.count, text[end] == UInt8(ascii: "/"), end > from, !text[from..<end].elementsEqual(marker) {
                    if !changed {
                        out += text[..<i]
                        changed = true
                    }
                    out += needle + marker
                    i = end
                    continue
                }
            }
            if changed { out.append(text[i]) }
            i += 1
        }
        return changed ? out : text
    }
}

/// A log handler that passes every message and metadata value through a ``SecretRedactor``
/// before the handler it wraps sees it: the notifier's logger, so that no log line of it can
/// carry a secret in any encoding.
public struct RedactingLogHandler: LogHandler {
    var base: any LogHandler
    let redactor: SecretRedactor

    public init(wrapping base: any LogHandler, redactor: SecretRedactor) {
        self.base = base
        self.redactor = redactor
    }

    /// `logger` with every line redacted by `redactor`.
    public static func logger(_ logger: Logger, redactor: SecretRedactor) -> Logger {
        let handler = RedactingLogHandler(wrapping: logger.handler, redactor: redactor)
        return Logger(label: logger.label, factory: { _ in handler })
    }

    public var metadataProvider: Logger.MetadataProvider? {
        get { base.metadataProvider }
        set { base.metadataProvider = newValue }
    }

    public func log(event: LogEvent) {
        var e = event
        e.message = "\(redactor.redact(event.message.description))"
        e.metadata = event.metadata?.mapValues { .string(redactor.redact("\($0)")) }
        base.log(event: e)
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { base[metadataKey: key] }
        set { base[metadataKey: key] = newValue }
    }

    public var metadata: Logger.Metadata {
        get { base.metadata }
        set { base.metadata = newValue }
    }

    public var logLevel: Logger.Level {
        get { base.logLevel }
        set { base.logLevel = newValue }
    }
}
