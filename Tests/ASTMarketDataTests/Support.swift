import ASTCalendar
import ASTCore
import ASTTestKit
import Foundation
import Logging

@testable import ASTMarketData

/// A logger that drops everything (tests check reports, not log lines).
let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

func date(_ s: String) -> LocalDate { LocalDate(s)! }

func price(_ s: String) -> Price { Price(s)! }

/// A daily bar on `day` (at its NYSE open).
func bar(_ symbol: Symbol, _ day: String, _ o: String, _ h: String, _ l: String, _ c: String, _ v: Int64 = 1000) -> Bar {
    Bar(
        symbol: symbol, resolution: .day, start: NewYorkTime.timestamp(date(day), TradingCalendar.regularOpen), open: price(o),
        high: price(h), low: price(l), close: price(c), volume: v)
}

/// A store in a fresh temporary directory.
final class StoreFixture {
    let dir: TemporaryDirectory
    let store: BarStore

    init() throws {
        dir = try TemporaryDirectory(prefix: "ast-md")
        store = try BarStore(path: dir("bars.sqlite"), logger: quiet)
    }

    func write(_ name: String, _ text: String) throws -> String {
        let p = dir(name)
        try text.write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }

    deinit {
        try? store.close()
        dir.remove()
    }
}
