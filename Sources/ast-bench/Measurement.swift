import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A monotonic clock read as integer nanoseconds (`CLOCK_MONOTONIC`, a vDSO call): cheap enough
/// to take twice around every round trip.
enum Monotonic {
    static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}

/// Keeps a value alive and opaque to the optimizer, so that a measured loop is not removed.
@_optimize(none)
func blackHole<T>(_ value: T) {}

/// Why a benchmark could not run; the message says what to do.
struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// One repetition of a latency benchmark: every round trip's duration, in nanoseconds.
struct LatencySample {
    /// The durations, sorted.
    let nanoseconds: [UInt64]
    /// Wall time of the whole repetition, for the rate.
    let elapsed: UInt64

    init(nanoseconds: [UInt64], elapsed: UInt64) {
        self.nanoseconds = nanoseconds.sorted()
        self.elapsed = elapsed
    }

    var p50: Double { Stats.percentile(nanoseconds, 0.50) }
    var p99: Double { Stats.percentile(nanoseconds, 0.99) }
    var perSecond: Double { Double(nanoseconds.count) / (Double(elapsed) / 1e9) }
}

/// What a latency benchmark reports over its repetitions: the median of each repetition's
/// p50, p99 and rate.
struct LatencySummary {
    var p50: Double
    var p99: Double
    var perSecond: Double
    var repetitions: Int
    var roundTripsPerRepetition: Int
    /// The lowest and highest p50 of a repetition.
    var p50Range: ClosedRange<Double>

    init(_ samples: [LatencySample]) {
        let p50s = samples.map(\.p50)
        p50Range = (p50s.min() ?? 0)...(p50s.max() ?? 0)
        p50 = Stats.median(p50s)
        p99 = Stats.median(samples.map(\.p99))
        perSecond = Stats.median(samples.map(\.perSecond))
        repetitions = samples.count
        roundTripsPerRepetition = samples.first?.nanoseconds.count ?? 0
    }
}

/// Medians and percentiles.
enum Stats {
    static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return .nan }
        let s = values.sorted()
        let mid = s.count / 2
        return s.count % 2 == 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2
    }

    /// The nearest-rank percentile of sorted values (`p` in 0...1).
    static func percentile(_ sorted: [UInt64], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        let rank = Int((p * Double(sorted.count)).rounded(.up))
        return Double(sorted[min(max(rank, 1), sorted.count) - 1])
    }
}

/// Runs `body` in batches of `batch` operations until at least `minimumSeconds` have passed;
/// returns operations per second.
func throughput(batch: Int, minimumSeconds: Double, _ body: (Int) throws -> Void) rethrows -> Double {
    let start = Monotonic.now()
    var done = 0
    var elapsed: UInt64 = 0
    repeat {
        try body(batch)
        done += batch
        elapsed = Monotonic.now() - start
    } while Double(elapsed) < minimumSeconds * 1e9
    return Double(done) / (Double(elapsed) / 1e9)
}

/// Runs blocking work (fsync, blocking socket reads) on a thread of its own, so that it never
/// occupies a thread of Swift's cooperative pool that the bus client needs.
func onDedicatedThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
        let thread = Thread {
            c.resume(with: Result { try body() })
        }
        thread.stackSize = 8 << 20
        thread.start()
    }
}

/// Human-readable numbers for the report.
enum Format {
    /// `1.23 M`, `456 k`, `789`, with three significant digits.
    static func rate(_ value: Double) -> String {
        switch value {
        case 1e6...: return "\(significant(value / 1e6)) M"
        case 1e3...: return "\(significant(value / 1e3)) k"
        default: return significant(value)
        }
    }

    /// Nanoseconds as `12.3 µs` or `1.23 ms`.
    static func duration(_ ns: Double) -> String {
        switch ns {
        case 1e6...: return "\(significant(ns / 1e6)) ms"
        case 1e3...: return "\(significant(ns / 1e3)) µs"
        default: return "\(significant(ns)) ns"
        }
    }

    static func ratio(_ value: Double) -> String {
        value >= 10 ? "\(Int(value.rounded()))×" : "\(significant(value))×"
    }

    static func percent(_ value: Double) -> String {
        "\(Int((value * 100).rounded())) %"
    }

    /// Three significant digits, no exponent.
    static func significant(_ value: Double) -> String {
        guard value.isFinite else { return "n/a" }
        let digits = value >= 100 ? 0 : value >= 10 ? 1 : 2
        return String(format: "%.\(digits)f", value)
    }
}
