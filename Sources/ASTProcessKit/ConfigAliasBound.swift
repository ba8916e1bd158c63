import CYaml

/// Bounds what YAML aliases may expand to, before anything builds a tree from the document.
///
/// Yams resolves an alias by sharing the anchored node, which is cheap, but everything that walks
/// the result (the conversion to ``ConfigNode``, and Yams' own duplicate-key check, which hashes
/// an aliased mapping key whole) walks every expansion: nine lines of aliases of aliases make
/// hundreds of millions of values. This pass reads libyaml's events once, in time linear in the
/// text, and adds up the size each value would have once expanded; a document over `limit`
/// is refused with the line where the limit was passed.
enum ConfigAliasBound {
    /// The 1-based line where the expanded size passes `limit`, or nil when it stays within it
    /// (or the text is not valid YAML, which the real parse reports).
    static func lineOverLimit(_ bytes: [UInt8], limit: Int) -> Int? {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return nil }
        defer { yaml_parser_delete(&parser) }
        return bytes.withUnsafeBufferPointer { buffer -> Int? in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var sizes: [String: Int] = [:]
            // Open collections: their anchor and the expanded size of what they hold so far.
            var open: [(anchor: String?, size: Int)] = []
            var documentSize = 0
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else { return nil }
                defer { yaml_event_delete(&event) }
                let line = Int(event.start_mark.line) + 1
                var finished: (anchor: String?, size: Int)?
                switch event.type {
                case YAML_STREAM_END_EVENT:
                    return nil
                case YAML_DOCUMENT_START_EVENT:
                    documentSize = 0
                case YAML_SCALAR_EVENT:
                    finished = (text(event.data.scalar.anchor), 1)
                case YAML_ALIAS_EVENT:
                    finished = (nil, text(event.data.alias.anchor).flatMap { sizes[$0] } ?? 1)
                case YAML_SEQUENCE_START_EVENT:
                    open.append((text(event.data.sequence_start.anchor), 1))
                case YAML_MAPPING_START_EVENT:
                    open.append((text(event.data.mapping_start.anchor), 1))
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    finished = open.popLast()
                default:
                    break
                }
                guard let (anchor, size) = finished else { continue }
                if let anchor { sizes[anchor] = size }
                let total: Int
                if open.isEmpty {
                    documentSize = min(limit + 1, documentSize + size)
                    total = documentSize
                } else {
                    open[open.count - 1].size = min(limit + 1, open[open.count - 1].size + size)
                    total = open[open.count - 1].size
                }
                if total > limit { return line }
            }
        }
    }

    private static func text(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        pointer.map { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
    }
}
