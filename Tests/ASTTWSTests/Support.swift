import ASTCore

@testable import ASTTWS

/// A payload from fields written out by hand: each field followed by its NUL.
func payload(_ fields: [String]) -> [UInt8] {
    fields.flatMap { Array($0.utf8) + [0] }
}

let v190 = TWSServerVersion.lowest
let v200 = TWSServerVersion.highest

func ts(_ seconds: Double) -> Timestamp { Timestamp(nanoseconds: Int64(seconds * 1_000_000_000)) }

func price(_ text: String) -> Price { Price(text)! }
