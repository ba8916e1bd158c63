/// SplitMix64 (Steele, Lea, Flood 2014): a tiny, fast, seeded generator whose sequence is fixed
/// by its seed on every platform. Not for cryptography. The one copy: market data's universe generator,
/// the notifier's back-off jitter, benchmarks and the property tests all draw from it.
public struct SplitMix64: RandomNumberGenerator, Sendable, Equatable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1), 53 random bits.
    public mutating func uniform() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Approximately standard normal: the Irwin–Hall sum of 12 uniforms minus 6. Only additions,
    /// so the result is the same on every IEEE-754 machine (no `log`/`cos` whose last bit may
    /// differ between C libraries).
    public mutating func normal() -> Double {
        var s = 0.0
        for _ in 0..<12 { s += uniform() }
        return s - 6
    }

    /// Uniform in `range`.
    public mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.count))
    }
}
