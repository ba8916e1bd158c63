/// `work`'s result, or nil when it has none (or throws) within `limit`. `work` is then cancelled
/// and awaited, so that nothing it opened outlives the call: it must honour cancellation, as
/// ``BusClient/waitUntilConnected()`` and ``BusClient/request(_:timeout:)`` do.
public func within<T: Sendable>(_ limit: Duration, _ work: @escaping @Sendable () async throws -> T) async -> T? {
    await withTaskGroup(of: T?.self) { group in
        group.addTask { try? await work() }
        group.addTask {
            try? await Task.sleep(for: limit)
            return nil
        }
        let first = await group.next() ?? nil
        group.cancelAll()
        return first
    }
}

extension BusClient {
    /// Runs the client, waits for the handshake and runs `body` with it; then closes the connection
    /// and waits until ``run(group:)`` has ended (its acknowledgements journaled), so that the
    /// journal may be closed once this returns. Cancelling the calling task ends the wait for the
    /// handshake, or the body's request, at once: nothing stays running or open.
    public func whileConnected<T: Sendable>(_ body: @Sendable (BusClient) async throws -> T) async throws -> T {
        let runner = Task { await self.run() }
        await waitUntilConnected()
        let result: Result<T, any Error>
        do {
            try Task.checkCancellation()
            result = .success(try await body(self))
        } catch {
            result = .failure(error)
        }
        runner.cancel()
        await runner.value
        return try result.get()
    }
}
