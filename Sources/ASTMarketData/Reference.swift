import ASTCalendar
import ASTCore

/// A split or a cash dividend, effective at the open of its ex-date.
public struct CorporateAction: Sendable, Equatable, Hashable, Codable {
    /// What happened.
    public enum Kind: Sendable, Equatable, Hashable, Codable {
        /// `newShares` for every `oldShares` (a 2:1 split is 2 for 1; a 1:10 reverse split 1 for 10).
        case split(newShares: Int64, oldShares: Int64)
        /// A cash dividend per share.
        case dividend(Price)
    }

    public var symbol: Symbol
    /// The first session traded without the dividend or at the split price.
    public var exDate: LocalDate
    public var kind: Kind

    public init(symbol: Symbol, exDate: LocalDate, kind: Kind) {
        self.symbol = symbol
        self.exDate = exDate
        self.kind = kind
    }

    /// Orders actions by symbol, then ex-date, then splits before dividends.
    static func sortKey(_ a: CorporateAction) -> (String, LocalDate, Int) {
        let k: Int = if case .split = a.kind { 0 } else { 1 }
        return (a.symbol.rawValue, a.exDate, k)
    }
}

/// A dated event the strategy's event guard keeps away from (earnings, splits, dividends).
public struct MarketEvent: Sendable, Equatable, Hashable, Codable {
    /// The kind of event.
    public enum Kind: String, Sendable, Equatable, Hashable, Codable, CaseIterable {
        case earnings, split, dividend
    }

    public var symbol: Symbol
    public var date: LocalDate
    public var kind: Kind

    public init(symbol: Symbol, date: LocalDate, kind: Kind) {
        self.symbol = symbol
        self.date = date
        self.kind = kind
    }
}

extension Bar {
    /// The New York trading date of the bar's start.
    public var date: LocalDate { NewYorkTime.local(start).date }
}
