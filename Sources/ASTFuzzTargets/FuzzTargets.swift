import ASTAlpaca
import ASTCore
import ASTExecution
import ASTMarketData
import ASTNotify
import ASTPaperBroker
import ASTRisk
import ASTRuntime
import ASTSupervision
import ASTTWS
import ASTWire
import Foundation
import NIOCore
import NIOEmbedded

/// One libFuzzer target: a parser or a core's input handler fed arbitrary bytes. A target must
/// return normally for every input; a trap, a crash or a broken round trip is a finding.
///
/// Core targets read their input as newline-separated JSON values of the core's input type (the
/// form the shells journal them in), skip lines that do not decode, and feed the rest in order
/// with a clock that moves forward by a byte-derived step: the seed corpus holds real journaled
/// inputs, which libFuzzer then mutates.
public enum FuzzTarget: String, CaseIterable, Sendable {
    case frame, envelope, catalog, risk, paper, reconciler, supervisor, outbox, config, csv, commands, tws, alpaca

    /// Runs the target once over `bytes`.
    public func run(_ bytes: [UInt8]) {
        switch self {
        case .frame: FuzzFrame.run(bytes)
        case .envelope: FuzzEnvelope.run(bytes)
        case .catalog: FuzzEnvelope.runCatalog(bytes)
        case .risk: FuzzCores.risk(bytes)
        case .paper: FuzzCores.paper(bytes)
        case .reconciler: FuzzCores.reconciler(bytes)
        case .supervisor: FuzzSupervisor.run(bytes)
        case .outbox: FuzzOutbox.run(bytes)
        case .config: FuzzConfig.run(bytes)
        case .csv: FuzzCSV.run(bytes)
        case .commands: FuzzCommands.run(bytes)
        case .tws: FuzzTWS.run(bytes)
        case .alpaca: FuzzAlpaca.run(bytes)
        }
    }
}

/// Splits fuzz input into lines (the journaled-input form of the core targets).
enum FuzzLines {
    static func split(_ bytes: [UInt8], limit: Int = 256) -> [[UInt8]] {
        var lines: [[UInt8]] = []
        var current: [UInt8] = []
        for b in bytes {
            if b == UInt8(ascii: "\n") {
                if !current.isEmpty { lines.append(current) }
                current = []
                if lines.count >= limit { return lines }
            } else {
                current.append(b)
            }
        }
        if !current.isEmpty { lines.append(current) }
        return lines
    }

    /// A clock for a core target: starts on a fixed weekday and moves forward by a step derived
    /// from each input line, never past a bound (the shells' clocks are not peer input).
    struct Clock {
        var now = Timestamp(nanoseconds: 1_751_464_800_000_000_000)  // 2025-07-02 14:00 UTC

        mutating func advance(by line: [UInt8]) -> Timestamp {
            let step = Int64(line.first ?? 0) * 60_000_000_000
            if now.nanoseconds < 4_000_000_000_000_000_000 { now = Timestamp(nanoseconds: now.nanoseconds + step) }
            return now
        }
    }
}

/// The frame decoder, fed in chunks whose sizes come from the input.
enum FuzzFrame {
    static func run(_ bytes: [UInt8]) {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(maximumPayload: 4096)))
        var rest = bytes[...]
        while !rest.isEmpty {
            let size = max(1, Int(rest.first!) % 64)
            let chunk = rest.prefix(size)
            rest = rest.dropFirst(chunk.count)
            do {
                try channel.writeInbound(channel.allocator.buffer(bytes: chunk))
            } catch {
                break  // a refusal: the connection would be closed
            }
            while let frame = try? channel.readInbound(as: ByteBuffer.self) {
                guard frame.readableBytes <= 4096 else { fatalError("frame over the maximum passed the decoder") }
            }
        }
        _ = try? channel.finish()
    }
}

/// The envelope decoder and the message catalog: whatever decodes must encode and decode back
/// to the same value.
enum FuzzEnvelope {
    static func run(_ bytes: [UInt8]) {
        guard let envelope = try? EnvelopeCodec.decode(bytes) else { return }
        roundTrip(envelope)
    }

    /// The first byte picks a message type of the catalog; the rest is that message's body.
    static func runCatalog(_ bytes: [UInt8]) {
        guard let first = bytes.first else { return }
        let types = MessageCatalog.types.keys.sorted()
        let type = types[Int(first) % types.count]
        let body = String(decoding: bytes.dropFirst(), as: UTF8.self)
        let json =
            #"{"v":\#(Envelope.protocolVersion),"from":"risk@main","type":"\#(type.rawValue)","seq":1,"id":"x","ts":1,"body":\#(body)}"#
        guard let envelope = try? EnvelopeCodec.decode(Array(json.utf8)) else { return }
        roundTrip(envelope)
    }

    static func roundTrip(_ envelope: Envelope) {
        let encoded = EnvelopeCodec.encode(envelope)
        guard let again = try? EnvelopeCodec.decode(encoded) else {
            fatalError("an envelope that decoded does not decode after encoding: \(String(decoding: encoded, as: UTF8.self))")
        }
        guard EnvelopeCodec.encode(again) == encoded else {
            fatalError("an envelope's encoding is not stable: \(String(decoding: encoded, as: UTF8.self))")
        }
    }
}

/// The trading cores' input handlers.
enum FuzzCores {
    static let decoder = JSONDecoder()

    static func risk(_ bytes: [UInt8]) {
        guard var gate = try? RiskGate(restoring: .firstStart(at: Timestamp(nanoseconds: 0))) else { return }
        var clock = FuzzLines.Clock()
        for line in FuzzLines.split(bytes) {
            guard let input = try? decoder.decode(RiskInput.self, from: Data(line)) else { continue }
            _ = gate.handle(input, now: clock.advance(by: line))
        }
    }

    static func paper(_ bytes: [UInt8]) {
        var exchange = PaperExchange(name: "paper")
        var clock = FuzzLines.Clock()
        for line in FuzzLines.split(bytes) {
            guard let input = try? decoder.decode(PaperInput.self, from: Data(line)) else { continue }
            _ = exchange.handle(input, now: clock.advance(by: line))
        }
    }

    static func reconciler(_ bytes: [UInt8]) {
        var core = ReconcilerCore()
        var clock = FuzzLines.Clock()
        for line in FuzzLines.split(bytes) {
            guard let input = try? decoder.decode(ReconcilerInput.self, from: Data(line)) else { continue }
            _ = core.handle(input, now: clock.advance(by: line))
        }
    }
}

/// The supervisor's restart policy, driven by an operation stream: each byte picks an event
/// (spawned, ready, exited with a code or a signal, watchdog missed, tick, shutdown) and the next
/// bytes its child, pid and time step.
enum FuzzSupervisor {
    static let children = ["risk", "broker", "notifier"].map {
        ChildSpec(
            id: ProcessIdentity(role: Role(rawValue: $0), instance: "main"), executable: "/bin/true",
            watchdog: .seconds(1))
    }

    static func run(_ bytes: [UInt8]) {
        guard var supervisor = try? Supervisor(children: children) else { return }
        var now = Timestamp(nanoseconds: 1_000_000_000)
        _ = supervisor.start(now: now)
        var i = 0
        func next() -> UInt8 {
            defer { i += 1 }
            return i < bytes.count ? bytes[i] : 0
        }
        while i < bytes.count {
            let op = next() % 8
            let child = children[Int(next()) % children.count].id
            let pid = Int32(next() % 16) + 100
            now = Timestamp(nanoseconds: now.nanoseconds + Int64(next()) * 100_000_000)
            switch op {
            case 0: _ = supervisor.spawned(child, pid: pid, now: now)
            case 1: _ = supervisor.spawnFailed(child, error: "exec failed", now: now)
            case 2: _ = supervisor.ready(pid: pid, now: now)
            case 3: _ = supervisor.exited(pid: pid, reason: .exited(code: Int32(next() % 3)), now: now)
            case 4: _ = supervisor.exited(pid: pid, reason: .signaled(signal: Int32(next() % 32)), now: now)
            case 5: _ = supervisor.watchdogMissed(pid: pid, now: now)
            case 6: _ = supervisor.tick(now: now)
            default: _ = supervisor.shutdown(now: now)
            }
        }
    }
}

/// The notifier's outbox: alerts with byte-derived priorities, keys and texts, delivery outcomes
/// for the messages it asked to send, and ticks.
enum FuzzOutbox {
    static func run(_ bytes: [UInt8]) {
        var outbox = Outbox(chats: ["1", "@ops"], settings: OutboxSettings(), seed: 7)
        var now = Timestamp(nanoseconds: 1_000_000_000)
        var pending: [String] = []
        var i = 0
        func next() -> UInt8 {
            defer { i += 1 }
            return i < bytes.count ? bytes[i] : 0
        }
        while i < bytes.count {
            let op = next() % 6
            now = Timestamp(nanoseconds: now.nanoseconds + Int64(next()) * 50_000_000)
            let actions: [Outbox.Action]
            switch op {
            case 0, 1:
                let priority = AlertPriority.allCases[Int(next()) % AlertPriority.allCases.count]
                let length = Int(next()) * 40
                let text = String(repeating: "<&\u{e9}", count: length / 3)
                let key = "k\(next() % 8)"
                actions = outbox.handle(.alert(Alert(priority: priority, key: key, title: "t", text: text, at: now)), now: now)
            case 2, 3:
                guard !pending.isEmpty else { continue }
                let id = pending.removeFirst()
                let outcome: DeliveryOutcome =
                    switch next() % 4 {
                    case 0: .delivered
                    case 1: .rateLimited(retryAfter: .seconds(Int(next() % 30)))
                    case 2: .transientFailure(reason: "network")
                    default: .refused(status: 400, description: "Bad Request: can't parse entities")
                    }
                actions = outbox.handle(.delivery(messageID: id, outcome), now: now)
            default:
                actions = outbox.handle(.tick, now: now)
            }
            for case .send(let message) in actions { pending.append(message.id) }
        }
    }
}

/// The Telegram command desk: updates with byte-derived ids (repeated, going back), kinds,
/// chats (allow-listed or not) and texts (raw bytes, or commands with byte-derived arguments),
/// and ticks. Every record must survive a JSON round trip, and a desk restored from the records
/// must ask `getUpdates` from the same offset: that is what keeps a restart from acting twice.
enum FuzzCommands {
    static let settings = CommandSettings(
        allowedChats: [1001, -100_200], botUsername: "ast_bot", confirmationTTL: .seconds(120), refusalsPerWindow: 3,
        refusalWindow: .seconds(60), seed: 9)
    static let commands = ["/status", "/positions", "/halt ", "/resume", "/resume reducing", "/resume confirm ", "/help", "/x@ast_bot"]

    static func run(_ bytes: [UInt8]) {
        var desk = CommandDesk(settings: settings)
        var records: [CommandRecord] = []
        var now = Timestamp(nanoseconds: 1_000_000_000)
        var id: Int64 = 100
        var lastCode = "000000"
        var i = 0
        func next() -> UInt8 {
            defer { i += 1 }
            return i < bytes.count ? bytes[i] : 0
        }
        while i < bytes.count {
            let op = next()
            now = Timestamp(nanoseconds: now.nanoseconds + Int64(next()) * 1_000_000_000)
            var actions: [CommandAction]
            if op % 8 == 7 {
                actions = desk.tick(now: now)
            } else {
                let step = Int64(next() % 4) - 1  // -1 ... 2: going back, repeating, moving on
                id = max(0, id + step)
                let kinds: [TelegramUpdate.Kind] = [.message, .editedMessage, .channelPost, .editedChannelPost, .other]
                let chat: Int64 = [1001, -100_200, 666][Int(next() % 3)]
                let text: String
                let length = Int(next())
                if op % 2 == 0 {
                    let raw = Array(bytes[min(i, bytes.count)..<min(i + length, bytes.count)])
                    i += length
                    text = String(decoding: raw, as: UTF8.self)
                } else {
                    let command = commands[Int(next()) % commands.count]
                    let argument = command.hasSuffix("confirm ") ? lastCode : String(repeating: "\u{e9}", count: length)
                    text = command + (command.hasSuffix(" ") ? argument : "")
                }
                let update = TelegramUpdate(updateID: id, kind: kinds[Int(op >> 3) % kinds.count], chatID: chat, text: text)
                actions = desk.handle([update], now: now)
            }
            for case .record(let r) in actions {
                if case .confirmationAsked(let code, _, _) = r.outcome { lastCode = code }
                guard let data = try? JSONEncoder().encode(r), (try? JSONDecoder().decode(CommandRecord.self, from: data)) == r else {
                    fatalError("a command record does not survive its journal round trip: \(r)")
                }
                records.append(r)
            }
        }
        var restored = CommandDesk(settings: settings)
        for r in records { restored.restore(r) }
        // Updates only counted (beyond the budget) may be read again after a restart; never a recorded one.
        if let last = records.last?.updateID, let offset = restored.nextOffset, offset <= last {
            fatalError("a restored desk would ask from \(offset), at or below journaled update \(last)")
        }
        _ = desk.closeAll(now: now)
    }
}

/// The configuration loader, on one `ast.yaml` whose text is the input.
enum FuzzConfig {
    static let directory: String = {
        let dir = NSTemporaryDirectory() + "ast-fuzz-config-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }()

    static func run(_ bytes: [UInt8]) {
        let path = directory + "/ast.yaml"
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else { return }
        _ = try? ConfigLoader(directory: directory, environment: nil, variables: [:]).load(ASTConfig.self)
    }
}

/// The CSV bar reader.
enum FuzzCSV {
    static func run(_ bytes: [UInt8]) {
        _ = try? CSVBarParser.parse(String(decoding: bytes, as: UTF8.self), file: "fuzz.csv", symbol: "FUZZ")
    }
}

/// The TWS API client: bytes from a hostile TWS fed to the connection state machine (handshake,
/// framing, every decoder at the negotiated version) in chunks whose sizes come from the input,
/// then each frame's payload straight to the decoders at both ends of the supported range.
enum FuzzTWS {
    static func run(_ bytes: [UInt8]) {
        var connection = TWSConnection(settings: TWSConnectionSettings(clientId: 1, maxFrameLength: 1 << 16))
        var now = Timestamp(nanoseconds: 1_796_626_800_000_000_000)
        _ = connection.start(now: now)
        _ = connection.socketOpened(now: now)
        var rest = bytes[...]
        while let first = rest.first {
            let chunk = rest.prefix(max(1, Int(first) % 97))
            rest = rest.dropFirst(chunk.count)
            now = now.advanced(by: .milliseconds(Int64(first)))
            _ = connection.received(Array(chunk), now: now)
            _ = connection.send(.reqOpenOrders, now: now)
            _ = connection.tick(now: now)
        }
        var decoder = TWSFrameDecoder(maxPayloadLength: 1 << 16)
        decoder.append(bytes)
        while let payload = try? decoder.next() {
            _ = try? TWSHandshake.decodeReply(payload)
            _ = try? TWSMessage.decode(payload, at: .lowest)
            _ = try? TWSMessage.decode(payload, at: .highest)
        }
    }
}

/// The Alpaca client core: the input's lines are what a hostile Alpaca could send. Each line goes
/// to the stream state machine (authenticated and listening first, reconnecting when it goes
/// down) and to every REST answer reader (order, listing, positions, account, activities, the
/// submit and lookup outcomes with a status taken from the line's first byte); the rate limiter
/// reads the line as headers. Nothing may trap.
enum FuzzAlpaca {
    static func run(_ bytes: [UInt8]) {
        var now = Timestamp(nanoseconds: 1_796_655_600_000_000_000)
        var stream = AlpacaStream(settings: AlpacaStreamSettings(maxMessageBytes: 1 << 16))
        var limiter = AlpacaRateLimiter()
        func handshake() {
            _ = stream.tick(now: now)
            _ = stream.start(now: now)
            _ = stream.socketOpened(now: now)
            _ = stream.received(Array(#"{"stream":"authorization","data":{"status":"authorized","action":"authenticate"}}"#.utf8), now: now)
            _ = stream.received(Array(#"{"stream":"listening","data":{"streams":["trade_updates"]}}"#.utf8), now: now)
        }
        handshake()
        for line in FuzzLines.split(bytes) {
            now = now.advanced(by: .milliseconds(Int64(line.first ?? 0) * 100))
            if !stream.state.isUp {
                now = now.advanced(by: .seconds(60))
                handshake()
            }
            _ = stream.received(line, now: now)
            let status = [200, 201, 204, 400, 401, 403, 404, 409, 422, 429, 500, 503][Int(line.first ?? 0) % 12]
            let text = String(decoding: line, as: UTF8.self)
            let headers = AlpacaRateLimitHeaders(headers: [("X-Ratelimit-Remaining", text), ("X-Ratelimit-Reset", text)])
            let answer = AlpacaAnswer.read(status: status, headers: headers, body: line, now: now)
            _ = AlpacaSubmitOutcome.read(answer)
            _ = AlpacaLookupOutcome.read(answer)
            limiter.observe(status: status, headers: headers, now: now)
            _ = limiter.take(now)
            _ = limiter.nextSlot(now)
            if let json = try? AlpacaJSONParser.parse(line) {
                _ = try? AlpacaOrder.decode(json)
                _ = try? AlpacaOrder.decodeList(json)
                _ = try? AlpacaPosition.decodeList(json)
                _ = try? AlpacaAccount.decode(json)
                _ = try? AlpacaFillActivity.decodeList(json)
                _ = try? AlpacaTradeUpdate.decode(json)
            }
            _ = AlpacaDecimal(text).map { ($0.exactPrice, $0.roundedPrice, $0.wholeShares, $0.description) }
            _ = AlpacaTime.parse(text).map(AlpacaTime.format)
        }
    }
}
