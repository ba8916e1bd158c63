import ASTBus
import ASTCore
import ASTRuntime
import ASTWire

#if canImport(Glibc)
    import Glibc
#endif

/// A bus client with no NIO and no Swift concurrency: one blocking socket, the real hello,
/// envelopes and JSON. Talking to a worker through it measures the worker's side of a round
/// trip; the difference to ``BusClient`` is what the client side's machinery costs.
///
/// Not thread-safe: one thread at a time (each benchmark repetition hands it to the next thread
/// only after the previous one finished).
final class BlockingBusClient: @unchecked Sendable {
    let identity: ProcessIdentity
    private let fd: Int32
    private let clock = SystemClock()
    private var seq: UInt64 = 0
    private var buffer = [UInt8](repeating: 0, count: 64 << 10)

    /// Connects to `path` and completes the hello/welcome handshake.
    init(path: String, identity: ProcessIdentity) throws {
        self.identity = identity
        fd = try UnixSocket.connect(path: path)
        try send(.hello(Hello(role: identity.role, instance: identity.instance, pid: getpid())))
        let welcome = try receive()
        guard case .welcome = welcome.message else { throw BenchError("expected a welcome, got \(welcome.type): \(welcome.message)") }
    }

    deinit { close(fd) }

    /// Sends `message` in the next envelope of this connection.
    func send(_ message: Message, id: String? = nil) throws {
        seq += 1
        let envelope = Envelope(
            sender: identity, seq: seq, id: id ?? "\(identity)/b\(seq)", correlationID: nil,
            timestamp: clock.now(), message: message)
        let frame = Framing.frame(EnvelopeCodec.encode(envelope))
        let ok = frame.withUnsafeBytes { BlockingIO.writeAll(fd, $0.baseAddress!, $0.count) }
        guard ok else { throw BenchError("the bus connection of \(identity) failed while writing") }
    }

    /// Reads and decodes the next frame.
    func receive() throws -> Envelope {
        var header: UInt32 = 0
        guard BlockingIO.readExactly(fd, &header, 4) else { throw BenchError("the bus connection of \(identity) closed") }
        let length = Int(UInt32(bigEndian: header))
        guard length > 0, length <= 64 << 20 else { throw BenchError("unexpected frame length \(length)") }
        if length > buffer.count { buffer = [UInt8](repeating: 0, count: length) }
        let ok = buffer.withUnsafeMutableBytes { BlockingIO.readExactly(fd, $0.baseAddress!, length) }
        guard ok else { throw BenchError("the bus connection of \(identity) closed inside a frame") }
        return try EnvelopeCodec.decode(buffer[0..<length])
    }

    /// The next frame, or nil if none starts arriving within `timeoutMs`.
    func receive(timeoutMs: Int32) throws -> Envelope? {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, timeoutMs) > 0 else { return nil }
        return try receive()
    }

    /// Pings and waits for the pong.
    func ping(_ nonce: UInt64) throws {
        try send(.ping(Ping(nonce: nonce)))
        let reply = try receive()
        guard case .pong(let pong) = reply.message, pong.nonce == nonce else {
            throw BenchError("expected pong \(nonce), got \(reply.type): \(reply.message)")
        }
    }

    /// Sends an acknowledged probe with a fresh id and waits for its ack.
    func probe(_ counter: Int64, text: String) throws {
        let id = "\(identity)>probe#\(counter)"
        try send(.probe(Probe(counter: counter, text: text)), id: id)
        let reply = try receive()
        guard case .ack(let ack) = reply.message, ack.id == id else {
            throw BenchError("expected the ack of \(id), got \(reply.type): \(reply.message)")
        }
    }
}
