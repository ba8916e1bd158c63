import FoundationEssentials

extension JSONEncoder {
    /// Sorted keys: the JSON bodies the shells journal are byte-stable, so replay and
    /// hash chains see the same bytes for the same value.
    public static var sorted: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = .sortedKeys
        return e
    }
}
