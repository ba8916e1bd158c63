import Logging

/// How AST's log handlers merge and flatten swift-log metadata, identically for journald and stderr.
enum LogMetadataRendering {
    /// The metadata of one entry: the handler's own, then the metadata provider's, then the call's,
    /// each overriding the one before. An error attached to the event appears under `error` unless
    /// the metadata already has that key.
    static func merge(
        handler: Logger.Metadata,
        provider: Logger.MetadataProvider?,
        call: Logger.Metadata?,
        error: (any Error)? = nil
    ) -> Logger.Metadata {
        var merged = handler
        if let provided = provider?.get(), !provided.isEmpty {
            merged.merge(provided) { _, new in new }
        }
        if let call, !call.isEmpty {
            merged.merge(call) { _, new in new }
        }
        if let error, merged["error"] == nil {
            merged["error"] = .string(String(describing: error))
        }
        return merged
    }

    /// One value as a single string. Strings stay as they are; arrays and dictionaries read like
    /// swift-log's own rendering (`["a", "b"]`, `["k": "v"]`) except that dictionary keys are
    /// sorted, so that the same metadata always renders the same way.
    static func flatten(_ value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let string):
            string
        case .stringConvertible(let convertible):
            convertible.description
        case .array, .dictionary:
            nested(value)
        }
    }

    private static func nested(_ value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let string):
            string.debugDescription
        case .stringConvertible(let convertible):
            convertible.description.debugDescription
        case .array(let elements):
            "[" + elements.map(nested).joined(separator: ", ") + "]"
        case .dictionary(let dictionary):
            dictionary.isEmpty
                ? "[:]"
                : "["
                    + dictionary.sorted { $0.key < $1.key }
                    .map { "\($0.key.debugDescription): \(nested($0.value))" }
                    .joined(separator: ", ") + "]"
        }
    }
}
