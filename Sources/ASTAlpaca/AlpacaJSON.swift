import ASTCore

// Alpaca's answers are read by AST's one JSON parser (ASTCore's `JSONValue`/`JSONParser`: bounded,
// duplicate member names refused, numbers kept as text), shared with the market-data ingest. The
// names below keep the Alpaca core's vocabulary; they are the same types, not another parser.

/// A JSON value as Alpaca sends it: ASTCore's ``JSONValue``.
public typealias AlpacaJSON = JSONValue
/// Why an Alpaca JSON text was refused: ASTCore's ``JSONError``.
public typealias AlpacaJSONError = JSONError
/// The parser's bounds: ASTCore's ``JSONLimits`` (``JSONLimits/standard`` fits a page of 500 nested orders).
public typealias AlpacaJSONLimits = JSONLimits
/// ASTCore's ``JSONParser``.
public typealias AlpacaJSONParser = JSONParser
/// ASTCore's ``JSONWriter``: request bodies with their members in a fixed order.
public typealias AlpacaJSONWriter = JSONWriter
