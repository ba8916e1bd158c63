import ASTBus
import ASTCore
import ASTWire

#if canImport(Glibc)
    import Glibc
#endif

/// A blocking bus peer that writes whatever bytes a test wants (good envelopes, garbage,
/// oversized headers) and reads frames back, to test an endpoint from the outside.
public final class RawBusPeer {
    public let fd: Int32
    var seq: UInt64 = 0
    public let identity: ProcessIdentity

    public init(path: String, identity: ProcessIdentity = ProcessIdentity(role: .control, instance: "test")) throws {
        fd = try UnixSocket.connect(path: path)
        self.identity = identity
    }

    deinit { close(fd) }

    public func write(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { throw HarnessError("write failed: \(String(cString: strerror(errno)))") }
            offset += n
        }
    }

    /// Sends `message` in a well-formed envelope with the next sequence number.
    @discardableResult
    public func send(_ message: Message, id: String? = nil, version: Int = Envelope.protocolVersion) throws -> Envelope {
        seq += 1
        let env = Envelope(
            sender: identity, seq: seq, id: id ?? "\(identity)/raw\(seq)", timestamp: Timestamp(nanoseconds: 1), message: message,
            version: version)
        try write(Framing.frame(EnvelopeCodec.encode(env)))
        return env
    }

    public func hello(role: Role? = nil, version: Int = Envelope.protocolVersion) throws {
        try send(
            .hello(Hello(role: role ?? identity.role, instance: identity.instance, protocolVersion: version, pid: getpid())),
            version: version)
    }

    /// Reads one frame and decodes it; nil at end of stream. Throws after `timeoutMs`.
    public func receive(timeoutMs: Int32 = 20_000) throws -> Envelope? {
        guard let header = try read(4, timeoutMs: timeoutMs) else { return nil }
        let n = Int(header[0]) << 24 | Int(header[1]) << 16 | Int(header[2]) << 8 | Int(header[3])
        guard let payload = try read(n, timeoutMs: timeoutMs) else { throw HarnessError("stream ended inside a frame") }
        return try EnvelopeCodec.decode(payload)
    }

    /// True when the other side closed the connection (after draining what it sent).
    public func isClosedByPeer(timeoutMs: Int32 = 5000) throws -> Bool {
        while true {
            guard try receive(timeoutMs: timeoutMs) != nil else { return true }
        }
    }

    func read(_ count: Int, timeoutMs: Int32) throws -> [UInt8]? {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: max(count, 1))
        while out.count < count {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, timeoutMs) > 0 else { throw HarnessError("no data within \(timeoutMs) ms") }
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, count - out.count) }
            if n == 0 { return out.isEmpty ? nil : out }
            if n < 0 {
                if errno == ECONNRESET { return nil }
                throw HarnessError("read failed: \(String(cString: strerror(errno)))")
            }
            out += buffer[0..<n]
        }
        return out
    }
}
