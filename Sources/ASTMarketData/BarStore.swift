import ASTCalendar
import ASTCore
import Foundation
import GRDB
import GRDBSQLite
import Logging

/// Why the bar store could not do what was asked. Never holds a secret.
public struct BarStoreError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var operation: String
    public var cause: String

    public var description: String { "bar store \(path): \(operation) failed: \(cause)" }
}

/// Everything one ingest writes: committed together or not at all.
public struct StoreBatch: Sendable, Equatable {
    public var bars: [Bar]
    public var actions: [CorporateAction]
    public var symbols: [SymbolInfo]
    public var events: [MarketEvent]

    public init(bars: [Bar] = [], actions: [CorporateAction] = [], symbols: [SymbolInfo] = [], events: [MarketEvent] = []) {
        self.bars = bars
        self.actions = actions
        self.symbols = symbols
        self.events = events
    }

    public var isEmpty: Bool { bars.isEmpty && actions.isEmpty && symbols.isEmpty && events.isEmpty }
}

/// The bar store: daily (and minute) bars, corporate actions, symbol metadata and the events
/// calendar in one SQLite database in WAL mode (GRDB's `DatabasePool`: readers never wait for
/// the writer).
///
/// Prices are stored as integer units of 1/10,000 and timestamps as integer nanoseconds, so what
/// is read back equals what was written. Every write is one transaction (``write(_:)``): an
/// ingest is stored whole or not at all. A bar written again for the same (symbol, resolution,
/// start) replaces the stored one: a re-ingest corrects, it does not duplicate. The schema also
/// refuses impossible bars (`CHECK` constraints), so a bug that skips validation still cannot
/// store one.
public final class BarStore: Sendable {
    /// The database file.
    public let path: String
    private let pool: DatabasePool
    private let logger: Logger

    /// 1: bars, corporate actions, symbols, events. 2: + sectors (the live feed's SIC lookups).
    static let schemaVersion = 2

    /// Opens the store at `path`, creating the file, its directory and the schema if needed.
    public init(path: String, logger: Logger) throws(BarStoreError) {
        self.path = path
        self.logger = logger
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.label = "barstore"
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            pool = try DatabasePool(path: path, configuration: configuration)
            try pool.write { db in try Self.migrate(db, path: path) }
        } catch let e as BarStoreError {
            throw e
        } catch {
            throw BarStoreError(path: path, operation: "opening", cause: Self.cause(error))
        }
        logger.debug("bar store opened", metadata: ["path": "\(path)"])
    }

    /// Closes the database; further calls throw.
    public func close() throws(BarStoreError) {
        do { try pool.close() } catch { throw BarStoreError(path: path, operation: "closing", cause: Self.cause(error)) }
    }

    static func migrate(_ db: Database, path: String) throws {
        let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
        if version == schemaVersion { return }
        if version == 1 {
            // A store of schema 1 gains the sectors table; nothing else changes.
            try db.execute(sql: sectorsTable + "PRAGMA user_version = \(schemaVersion);")
            return
        }
        guard version == 0 else {
            throw BarStoreError(
                path: path, operation: "opening", cause: "schema version \(version) is not \(schemaVersion): a newer or foreign database")
        }
        let tables = try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master WHERE type = 'table'") ?? 0
        guard tables == 0 else {
            throw BarStoreError(path: path, operation: "opening", cause: "the file holds tables but is not a bar store")
        }
        try db.execute(
            sql: """
                CREATE TABLE bars (
                    symbol TEXT NOT NULL, resolution TEXT NOT NULL, start INTEGER NOT NULL,
                    open INTEGER NOT NULL CHECK (open > 0), high INTEGER NOT NULL CHECK (high > 0),
                    low INTEGER NOT NULL CHECK (low > 0), close INTEGER NOT NULL CHECK (close > 0),
                    volume INTEGER NOT NULL CHECK (volume >= 0),
                    CHECK (low <= high AND open BETWEEN low AND high AND close BETWEEN low AND high),
                    PRIMARY KEY (symbol, resolution, start)
                ) WITHOUT ROWID;
                CREATE TABLE corporate_actions (
                    symbol TEXT NOT NULL, ex_date TEXT NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('split', 'dividend')),
                    split_new INTEGER CHECK (split_new IS NULL OR split_new > 0),
                    split_old INTEGER CHECK (split_old IS NULL OR split_old > 0),
                    dividend INTEGER CHECK (dividend IS NULL OR dividend > 0),
                    PRIMARY KEY (symbol, ex_date, kind)
                ) WITHOUT ROWID;
                CREATE TABLE symbols (
                    symbol TEXT NOT NULL PRIMARY KEY, name TEXT NOT NULL, exchange TEXT NOT NULL,
                    sector TEXT NOT NULL, is_index INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE TABLE events (
                    symbol TEXT NOT NULL, date TEXT NOT NULL, kind TEXT NOT NULL,
                    PRIMARY KEY (symbol, date, kind)
                ) WITHOUT ROWID;
                """ + sectorsTable + "PRAGMA user_version = \(schemaVersion);")
    }

    /// The sector of a symbol as the live feed looked it up (SIC code → ``SICSectors``), and when:
    /// `sector` is empty when the lookup found none (the symbol stays without a sector; entries in
    /// it are blocked by the risk gate until one is known).
    static let sectorsTable = """
        CREATE TABLE sectors (
            symbol TEXT NOT NULL PRIMARY KEY, sic_code INTEGER CHECK (sic_code IS NULL OR sic_code BETWEEN 0 AND 9999),
            sector TEXT NOT NULL, checked_at INTEGER NOT NULL
        ) WITHOUT ROWID;
        """

    // MARK: Writing

    /// Writes `batch` in one transaction: everything or, on any error, nothing.
    public func write(_ batch: StoreBatch) throws(BarStoreError) {
        guard !batch.isEmpty else { return }
        do {
            try pool.write { db in
                let bar = try db.makeStatement(
                    sql: """
                        INSERT OR REPLACE INTO bars (symbol, resolution, start, open, high, low, close, volume)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                        """)
                for b in batch.bars { try Self.insert(b, bar.sqliteStatement, db) }
                let action = try db.makeStatement(
                    sql: """
                        INSERT OR REPLACE INTO corporate_actions (symbol, ex_date, kind, split_new, split_old, dividend)
                        VALUES (?, ?, ?, ?, ?, ?)
                        """)
                for a in batch.actions {
                    switch a.kind {
                    case .split(let new, let old):
                        try action.execute(arguments: [a.symbol.rawValue, a.exDate.description, "split", new, old, nil])
                    case .dividend(let amount):
                        try action.execute(arguments: [a.symbol.rawValue, a.exDate.description, "dividend", nil, nil, amount.units])
                    }
                }
                let info = try db.makeStatement(
                    sql: "INSERT OR REPLACE INTO symbols (symbol, name, exchange, sector, is_index) VALUES (?, ?, ?, ?, ?)")
                for s in batch.symbols {
                    try info.execute(arguments: [s.symbol.rawValue, s.name, s.exchange, s.sector ?? "", s.isIndex ? 1 : 0])
                }
                let event = try db.makeStatement(sql: "INSERT OR REPLACE INTO events (symbol, date, kind) VALUES (?, ?, ?)")
                for e in batch.events {
                    try event.execute(arguments: [e.symbol.rawValue, e.date.description, e.kind.rawValue])
                }
            }
        } catch {
            throw BarStoreError(path: path, operation: "writing \(batch.bars.count) bars (nothing was stored)", cause: Self.cause(error))
        }
        logger.info(
            "bar store write committed",
            metadata: [
                "bars": "\(batch.bars.count)", "actions": "\(batch.actions.count)", "symbols": "\(batch.symbols.count)",
                "events": "\(batch.events.count)",
            ])
    }

    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    /// Binds one bar's eight columns straight to the prepared INSERT (no array of values per bar:
    /// an ingest writes tens of thousands) and runs it; SQLite's refusal (a CHECK) is thrown as
    /// GRDB would throw it.
    private static func insert(_ b: Bar, _ s: SQLiteStatement, _ db: Database) throws {
        func bindText(_ i: CInt, _ t: String) -> CInt {
            var t = t
            return t.withUTF8 { u in
                u.withMemoryRebound(to: CChar.self) {
                    sqlite3_bind_text64(s, i, $0.baseAddress, UInt64($0.count), transient, UInt8(SQLITE_UTF8))
                }
            }
        }
        var rc = sqlite3_reset(s)
        if rc == SQLITE_OK { rc = bindText(1, b.symbol.rawValue) }
        if rc == SQLITE_OK { rc = bindText(2, b.resolution.rawValue) }
        if rc == SQLITE_OK { rc = sqlite3_bind_int64(s, 3, b.start.nanoseconds) }
        if rc == SQLITE_OK { rc = sqlite3_bind_int64(s, 4, b.open.units) }
        if rc == SQLITE_OK { rc = sqlite3_bind_int64(s, 5, b.high.units) }
        if rc == SQLITE_OK { rc = sqlite3_bind_int64(s, 6, b.low.units) }
        if rc == SQLITE_OK { rc = sqlite3_bind_int64(s, 7, b.close.units) }
        if rc == SQLITE_OK { rc = sqlite3_bind_int64(s, 8, b.volume) }
        if rc == SQLITE_OK { rc = sqlite3_step(s) }
        guard rc == SQLITE_DONE else {
            let code = sqlite3_extended_errcode(db.sqliteConnection)
            let message = sqlite3_errmsg(db.sqliteConnection).map { String(cString: $0) }
            sqlite3_reset(s)
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: message)
        }
    }

    // MARK: Reading

    /// The bars of `symbol` whose New York date is in `[from, to]` (either end open when nil),
    /// ascending, adjusted as `adjustment` says (see ``BackAdjustment``).
    public func bars(
        _ symbol: Symbol, resolution: BarResolution = .day, from: LocalDate? = nil, to: LocalDate? = nil, adjustment: Adjustment = .none
    ) throws(BarStoreError) -> [Bar] {
        let lo = from.map { NewYorkTime.timestamp($0, LocalTime(hour: 0, minute: 0)).nanoseconds } ?? Int64.min
        let hi = to.map { NewYorkTime.timestamp($0.adding(days: 1), LocalTime(hour: 0, minute: 0)).nanoseconds - 1 } ?? Int64.max
        guard adjustment != .none else {
            return try read("reading bars of \(symbol)") { db in
                try Self.fetchBars(
                    db, "WHERE symbol = ? AND resolution = ? AND start BETWEEN ? AND ? ORDER BY start",
                    [symbol.rawValue, resolution.rawValue, lo, hi])
            }
        }
        // Adjustment needs the whole history: a dividend's factor uses the close before its ex-date.
        let (raw, actions) = try read("reading bars of \(symbol)") { db in
            (
                try Self.fetchBars(db, "WHERE symbol = ? AND resolution = ? ORDER BY start", [symbol.rawValue, resolution.rawValue]),
                try Self.fetchActions(db, symbol)
            )
        }
        return BackAdjustment.apply(raw, actions: actions, mode: adjustment).filter {
            $0.start.nanoseconds >= lo && $0.start.nanoseconds <= hi
        }
    }

    /// The newest bar of `symbol`, if any.
    public func lastBar(_ symbol: Symbol, resolution: BarResolution = .day) throws(BarStoreError) -> Bar? {
        try read("reading the last bar of \(symbol)") { db in
            try Self.fetchBars(
                db, "WHERE symbol = ? AND resolution = ? ORDER BY start DESC LIMIT 1", [symbol.rawValue, resolution.rawValue]
            ).first
        }
    }

    /// The newest bar of every symbol, by symbol.
    public func lastBars(resolution: BarResolution = .day) throws(BarStoreError) -> [Bar] {
        try read("reading the last bars") { db in
            try Self.fetchBars(
                db,
                """
                WHERE resolution = ? AND start = (SELECT max(start) FROM bars b2 WHERE b2.symbol = bars.symbol AND b2.resolution = bars.resolution)
                ORDER BY symbol
                """, [resolution.rawValue])
        }
    }

    /// The New York date of the newest daily bar of any symbol (nil: no daily bar at all): what
    /// the live feed backfills from and the freshness gate checks.
    public func lastDailyDate() throws(BarStoreError) -> LocalDate? {
        try read("reading the newest daily bar") { db in
            try Int64.fetchOne(db, sql: "SELECT max(start) FROM bars WHERE resolution = ?", arguments: [BarResolution.day.rawValue])
                .map { NewYorkTime.local(Timestamp(nanoseconds: $0)).date }
        }
    }

    /// Every bar of every symbol, by symbol then start (for exports and checks).
    public func allBars(resolution: BarResolution = .day) throws(BarStoreError) -> [Bar] {
        try read("reading all bars") { db in
            try Self.fetchBars(db, "WHERE resolution = ? ORDER BY symbol, start", [resolution.rawValue])
        }
    }

    /// Every symbol that has bars or metadata, sorted.
    public func symbols() throws(BarStoreError) -> [Symbol] {
        try read("listing symbols") { db in
            try String.fetchAll(db, sql: "SELECT symbol FROM bars UNION SELECT symbol FROM symbols ORDER BY 1").compactMap(
                Symbol.init(validating:))
        }
    }

    /// The metadata of every symbol that has some, sorted by symbol.
    public func symbolInfo() throws(BarStoreError) -> [SymbolInfo] {
        try read("reading symbol metadata") { db in
            // A sector in the symbols table (bundled, CSV) wins; else the live feed's lookup.
            let sql = """
                SELECT s.symbol, s.name, s.exchange, CASE WHEN s.sector <> '' THEN s.sector ELSE coalesce(x.sector, '') END, s.is_index
                FROM symbols s LEFT JOIN sectors x ON x.symbol = s.symbol ORDER BY s.symbol
                """
            return try Row.fetchAll(db, sql: sql).compactMap { r in
                Symbol(validating: r[0]).map {
                    SymbolInfo(symbol: $0, name: r[1], exchange: r[2], sector: r[3], isIndex: (r[4] as Int) != 0)
                }
            }
        }
    }

    /// Writes the results of sector lookups in one transaction (all or nothing).
    public func writeSectors(_ lookups: [SectorLookup]) throws(BarStoreError) {
        guard !lookups.isEmpty else { return }
        do {
            try pool.write { db in
                let st = try db.makeStatement(
                    sql: "INSERT OR REPLACE INTO sectors (symbol, sic_code, sector, checked_at) VALUES (?, ?, ?, ?)")
                for l in lookups {
                    try st.execute(arguments: [l.symbol.rawValue, l.sicCode, l.sector ?? "", l.checkedAt.nanoseconds])
                }
            }
        } catch {
            throw BarStoreError(
                path: path, operation: "writing \(lookups.count) sector lookups (nothing was stored)", cause: Self.cause(error))
        }
    }

    /// Every sector lookup, by symbol.
    public func sectorLookups() throws(BarStoreError) -> [SectorLookup] {
        try read("reading sector lookups") { db in
            try Row.fetchAll(db, sql: "SELECT symbol, sic_code, sector, checked_at FROM sectors ORDER BY symbol").compactMap { r in
                Symbol(validating: r[0]).map { s in
                    let sector: String = r[2]
                    return SectorLookup(
                        symbol: s, sicCode: r[1], sector: sector.isEmpty ? nil : sector, checkedAt: Timestamp(nanoseconds: r[3]))
                }
            }
        }
    }

    /// The corporate actions of `symbol` (all symbols when nil), by symbol then ex-date.
    public func corporateActions(_ symbol: Symbol? = nil) throws(BarStoreError) -> [CorporateAction] {
        try read("reading corporate actions") { db in try Self.fetchActions(db, symbol) }
    }

    /// The events in `[from, to]` of `symbol` (all symbols when nil), by date then symbol.
    public func events(_ symbol: Symbol? = nil, from: LocalDate, to: LocalDate) throws(BarStoreError) -> [MarketEvent] {
        try read("reading events") { db in
            var sql = "SELECT symbol, date, kind FROM events WHERE date BETWEEN ? AND ?"
            var args: StatementArguments = [from.description, to.description]
            if let symbol {
                sql += " AND symbol = ?"
                args += [symbol.rawValue]
            }
            return try Row.fetchAll(db, sql: sql + " ORDER BY date, symbol, kind", arguments: args).compactMap { r in
                guard let s = Symbol(validating: r[0]), let d = LocalDate(r[1] as String), let k = MarketEvent.Kind(rawValue: r[2]) else {
                    return nil
                }
                return MarketEvent(symbol: s, date: d, kind: k)
            }
        }
    }

    /// The number of stored bars.
    public func barCount() throws(BarStoreError) -> Int {
        try read("counting bars") { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM bars") ?? 0 }
    }

    // MARK: Internals

    private func read<T>(_ operation: String, _ body: (Database) throws -> T) throws(BarStoreError) -> T {
        do { return try pool.read(body) } catch {
            throw BarStoreError(path: path, operation: operation, cause: Self.cause(error))
        }
    }

    static func fetchBars(_ db: Database, _ clause: String, _ arguments: StatementArguments) throws -> [Bar] {
        let rows = try Row.fetchCursor(
            db, sql: "SELECT symbol, resolution, start, open, high, low, close, volume FROM bars " + clause,
            arguments: arguments)
        var out: [Bar] = []
        while let r = try rows.next() {
            let symbolText: String = r[0], resolutionText: String = r[1]
            guard let symbol = Symbol(validating: symbolText), let resolution = BarResolution(rawValue: resolutionText) else {
                throw BarStoreError(
                    path: db.description, operation: "reading a bar", cause: "row \(symbolText)/\(resolutionText) is not a bar")
            }
            out.append(
                Bar(
                    symbol: symbol, resolution: resolution, start: Timestamp(nanoseconds: r[2]), open: Price(units: r[3]),
                    high: Price(units: r[4]), low: Price(units: r[5]), close: Price(units: r[6]), volume: r[7]))
        }
        return out
    }

    static func fetchActions(_ db: Database, _ symbol: Symbol?) throws -> [CorporateAction] {
        var sql = "SELECT symbol, ex_date, kind, split_new, split_old, dividend FROM corporate_actions"
        var args: StatementArguments = []
        if let symbol {
            sql += " WHERE symbol = ?"
            args = [symbol.rawValue]
        }
        return try Row.fetchAll(db, sql: sql + " ORDER BY symbol, ex_date, kind DESC", arguments: args).compactMap { r in
            guard let s = Symbol(validating: r[0]), let d = LocalDate(r[1] as String) else { return nil }
            switch r[2] as String {
            case "split": return CorporateAction(symbol: s, exDate: d, kind: .split(newShares: r[3], oldShares: r[4]))
            case "dividend": return CorporateAction(symbol: s, exDate: d, kind: .dividend(Price(units: r[5])))
            default: return nil
            }
        }
    }

    static func cause(_ error: any Error) -> String {
        if let e = error as? BarStoreError { return e.cause }
        guard let error = error as? DatabaseError else { return "\(error)" }
        return "SQLite error \(error.extendedResultCode.rawValue): \(error.message ?? "no message")"
    }
}
