import ASTCore

/// Why a configuration section did not decode: an unknown key (a typo would otherwise silently
/// fall back to a default) or a value of the wrong form.
struct AnyConfigKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// Throws if the object being decoded has a key that `K` does not list, naming it and the known
/// keys, so that `min_prise: 5` is an error rather than a silent default.
func rejectUnknownKeys<K: CodingKey & CaseIterable>(_ decoder: any Decoder, _: K.Type, section: String) throws {
    let c = try decoder.container(keyedBy: AnyConfigKey.self)
    let known = Set(K.allCases.map(\.stringValue))
    let unknown = c.allKeys.map(\.stringValue).filter { !known.contains($0) }.sorted()
    if let first = unknown.first {
        throw DecodingError.dataCorrupted(
            .init(
                codingPath: decoder.codingPath,
                debugDescription: "\(section): unknown key '\(first)' (known: \(known.sorted().joined(separator: ", ")))"))
    }
}

extension KeyedDecodingContainer {
    /// The value at `key`, or `fallback` when the key is absent.
    func value<T: Decodable>(_ key: Key, default fallback: T) throws -> T {
        try decodeIfPresent(T.self, forKey: key) ?? fallback
    }

    /// A dollar amount written as text (`"5.00"`) or as a number (`5`, `2.5`) with at most four
    /// decimals; `fallback` when absent.
    func amount<T: FixedPointAmount>(_ key: Key, default fallback: T) throws -> T {
        guard contains(key), try !decodeNil(forKey: key) else { return fallback }
        return try amount(key)
    }

    func optionalAmount<T: FixedPointAmount>(_ key: Key, default fallback: T?) throws -> T? {
        guard contains(key) else { return fallback }
        if try decodeNil(forKey: key) { return nil }
        return try amount(key)
    }

    private func amount<T: FixedPointAmount>(_ key: Key) throws -> T {
        if let text = try? decode(String.self, forKey: key) {
            guard let v = T(text) else {
                throw DecodingError.dataCorruptedError(
                    forKey: key, in: self, debugDescription: "'\(text)' is not an amount with at most 4 decimals")
            }
            return v
        }
        if let whole = try? decode(Int64.self, forKey: key), let v = T(dollars: whole) { return v }
        let d = try decode(Double.self, forKey: key)
        let scaled = (d * Double(T.unitsPerDollar)).rounded()
        guard scaled.isFinite, abs(scaled) < 9.0e15, Double(Int64(scaled)) / Double(T.unitsPerDollar) == d else {
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "\(d) is not an amount with at most 4 decimals")
        }
        return T(units: Int64(scaled))
    }
}
