import Synchronization

/// A value shared between a test and the threads or tasks it starts.
public final class Shared<Value: Sendable>: Sendable {
    private let value: Mutex<Value>
    public init(_ initial: Value) { value = Mutex(initial) }
    public func set(_ newValue: Value) { value.withLock { $0 = newValue } }
    public func get() -> Value { value.withLock { $0 } }
}
