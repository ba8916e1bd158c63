/// The Prometheus text format (0.0.4) as ast-web takes it from the other processes' snapshot
/// files: each file parsed and checked before any of it is served (it comes from outside
/// ast-web's process), then every accepted file merged into one exposition, one family block per
/// metric name. A file that breaks a rule is refused whole, with the reason.
///
/// The rules: at most ``maximumBytes`` and ``maximumLines``; names `ast_[a-zA-Z0-9_]*`; a
/// `# TYPE` (counter, gauge, histogram, summary, untyped) before a family's samples and once per
/// file; each sample named for the family declared last (`_bucket`, `_sum`, `_count` for
/// histograms and summaries); label names `[a-zA-Z_][a-zA-Z0-9_]*` (not `__`), at most
/// ``maximumLabels``, none twice, values of at most ``maximumLabelValueBytes`` with only `\\`,
/// `\"` and `\n` escaped; a `process` label on every sample equal to the file's process (no
/// process speaks for another); a number for the value (`+Inf`, `-Inf`, `NaN` included).
public enum MetricsExposition {
    public static let maximumBytes = 256 * 1024
    public static let maximumLines = 8000
    public static let maximumLineBytes = 4096
    public static let maximumLabels = 8
    public static let maximumLabelValueBytes = 256

    /// One metric family of one process: its name, type, help text and sample lines (kept as
    /// they were written once checked).
    public struct Family: Sendable, Equatable {
        public var name: String
        public var type: String
        public var help: String?
        public var samples: [String]
    }

    /// Why a file was refused.
    public struct Refusal: Error, Sendable, Equatable, CustomStringConvertible {
        public var line: Int
        public var reason: String
        public var description: String { line > 0 ? "line \(line): \(reason)" : reason }
    }

    static let types: Set<String> = ["counter", "gauge", "histogram", "summary", "untyped"]

    /// Parses and checks the snapshot of `process`.
    public static func parse(_ bytes: [UInt8], process: String) -> Result<[Family], Refusal> {
        guard bytes.count <= maximumBytes else { return .failure(Refusal(line: 0, reason: "over \(maximumBytes) bytes")) }
        guard let text = String(validating: bytes, as: UTF8.self) else { return .failure(Refusal(line: 0, reason: "not UTF-8")) }
        var families: [Family] = []
        var index: [String: Int] = [:]
        var helps: [String: String] = [:]
        var current: Int?
        var number = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            guard number <= maximumLines else { return .failure(Refusal(line: number, reason: "over \(maximumLines) lines")) }
            guard raw.utf8.count <= maximumLineBytes else { return .failure(Refusal(line: number, reason: "line too long")) }
            let line = Substring(raw)
            if line.isEmpty { continue }
            if line.hasPrefix("#") {
                let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: true)
                guard parts.count >= 3, parts[0] == "#", parts[1] == "TYPE" || parts[1] == "HELP" else { continue }
                let name = String(parts[2])
                guard isMetricName(name) else { return .failure(Refusal(line: number, reason: "bad metric name")) }
                if parts[1] == "HELP" {
                    helps[name] = parts.count > 3 ? String(parts[3]) : ""
                    continue
                }
                guard parts.count == 4, types.contains(String(parts[3])) else {
                    return .failure(Refusal(line: number, reason: "bad TYPE for \(name)"))
                }
                guard index[name] == nil else { return .failure(Refusal(line: number, reason: "\(name) declared twice")) }
                index[name] = families.count
                current = families.count
                families.append(Family(name: name, type: String(parts[3]), help: nil, samples: []))
                continue
            }
            guard let i = current else { return .failure(Refusal(line: number, reason: "a sample before any TYPE")) }
            switch checkSample(line, family: families[i], process: process) {
            case .success: families[i].samples.append(String(line))
            case .failure(let reason): return .failure(Refusal(line: number, reason: reason.reason))
            }
        }
        for i in families.indices { families[i].help = helps[families[i].name] }
        return .success(families)
    }

    /// Merges the accepted families of each process (in the order given) into one exposition: a
    /// family's HELP and TYPE once, then every process's samples. A process whose family has
    /// another type than an earlier process's is left out of that family (returned as a conflict).
    public static func merge(_ sources: [(process: String, families: [Family])]) -> (text: String, conflicts: [String]) {
        var merged: [String: Family] = [:]
        var conflicts: [String] = []
        for (process, families) in sources {
            for f in families {
                if var m = merged[f.name] {
                    guard m.type == f.type else {
                        conflicts.append("\(process): \(f.name) is a \(f.type), elsewhere a \(m.type)")
                        continue
                    }
                    if m.help == nil { m.help = f.help }
                    m.samples += f.samples
                    merged[f.name] = m
                } else {
                    merged[f.name] = f
                }
            }
        }
        var out = ""
        for name in merged.keys.sorted() {
            guard let f = merged[name] else { continue }
            if let help = f.help, !help.isEmpty { out += "# HELP \(name) \(help)\n" }
            out += "# TYPE \(name) \(f.type)\n"
            for s in f.samples { out += s + "\n" }
        }
        return (out, conflicts)
    }

    /// A metric name of ours: `ast_` then letters, digits and underscores.
    public static func isMetricName<S: StringProtocol>(_ name: S) -> Bool {
        name.hasPrefix("ast_") && name.utf8.count <= 200
            && name.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F }
    }

    static func isLabelName(_ name: [UInt8]) -> Bool {
        guard let first = name.first, !name.starts(with: [0x5F, 0x5F]), name.count <= 100 else { return false }
        let letter: (UInt8) -> Bool = { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x41 && $0 <= 0x5A) || $0 == 0x5F }
        return letter(first) && name.allSatisfy { letter($0) || ($0 >= 0x30 && $0 <= 0x39) }
    }

    struct SampleRefusal: Error { var reason: String }

    /// Checks one sample line against its family and the file's process.
    static func checkSample(_ line: Substring, family: Family, process: String) -> Result<Void, SampleRefusal> {
        let bytes = Array(line.utf8)
        var i = 0
        while i < bytes.count, bytes[i] != 0x7B, bytes[i] != 0x20 { i += 1 }
        let name = String(decoding: bytes[0..<i], as: UTF8.self)
        let allowed =
            family.type == "histogram"
            ? [family.name + "_bucket", family.name + "_sum", family.name + "_count"]
            : family.type == "summary" ? [family.name, family.name + "_sum", family.name + "_count"] : [family.name]
        guard isMetricName(name), allowed.contains(name) else {
            return .failure(SampleRefusal(reason: "sample \(name.prefix(80)) is not of family \(family.name)"))
        }
        var labels: [String: String] = [:]
        if i < bytes.count, bytes[i] == 0x7B {
            i += 1
            while true {
                guard i < bytes.count else { return .failure(SampleRefusal(reason: "unterminated labels")) }
                if bytes[i] == 0x7D {
                    i += 1
                    break
                }
                let start = i
                while i < bytes.count, bytes[i] != 0x3D { i += 1 }
                let labelName = Array(bytes[start..<i])
                guard isLabelName(labelName), i + 1 < bytes.count, bytes[i + 1] == 0x22 else {
                    return .failure(SampleRefusal(reason: "bad label"))
                }
                i += 2
                var value: [UInt8] = []
                var closed = false
                while i < bytes.count {
                    let b = bytes[i]
                    if b == 0x5C {
                        guard i + 1 < bytes.count, [0x5C, 0x22, 0x6E].contains(bytes[i + 1]) else {
                            return .failure(SampleRefusal(reason: "bad escape in a label value"))
                        }
                        value.append(bytes[i + 1] == 0x6E ? 0x0A : bytes[i + 1])
                        i += 2
                        continue
                    }
                    i += 1
                    if b == 0x22 {
                        closed = true
                        break
                    }
                    value.append(b)
                }
                guard closed, value.count <= maximumLabelValueBytes else { return .failure(SampleRefusal(reason: "bad label value")) }
                let key = String(decoding: labelName, as: UTF8.self)
                guard labels[key] == nil, labels.count < maximumLabels else {
                    return .failure(SampleRefusal(reason: "label \(key) twice or too many labels"))
                }
                labels[key] = String(decoding: value, as: UTF8.self)
                if i < bytes.count, bytes[i] == 0x2C { i += 1 }
            }
        }
        guard labels["process"] == process else {
            return .failure(
                SampleRefusal(reason: "process label \(labels["process"].map { "\"\($0.prefix(80))\"" } ?? "missing"), not \(process)"))
        }
        let rest = String(decoding: bytes[i...], as: UTF8.self).split(separator: " ")
        guard rest.count == 1 || rest.count == 2, isNumber(rest[0]), rest.count == 1 || Int64(rest[1]) != nil else {
            return .failure(SampleRefusal(reason: "bad value"))
        }
        return .success(())
    }

    static func isNumber(_ s: Substring) -> Bool {
        if ["+Inf", "-Inf", "NaN", "Inf"].contains(s) { return true }
        guard s.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || [0x2B, 0x2D, 0x2E, 0x65, 0x45].contains($0) }) else { return false }
        return Double(s) != nil
    }
}
