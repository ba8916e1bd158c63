import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A fresh directory (under /tmp unless told otherwise) for one test or benchmark run, removed
/// by ``remove()``. Paths stay short so that Unix socket paths inside it fit in `sun_path`.
public final class TemporaryDirectory: Sendable {
    public let path: String

    public init(prefix: String = "ast-test", base: String = "/tmp") throws {
        // mkdtemp replaces the trailing six X with a unique name.
        var template = Array("\(base)/\(prefix)-XXXXXX".utf8CString)
        guard let p = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        path = String(cString: p)
    }

    /// `path/name`.
    public func callAsFunction(_ name: String) -> String { "\(path)/\(name)" }

    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Where `swift build` put this package's executables: beside the running test bundle.
public enum BuildProducts {
    public static var directory: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = (exe as NSString).deletingLastPathComponent
        // On Linux the test binary is <products>/<Package>PackageTests.xctest itself.
        if dir.hasSuffix(".xctest") { dir = (dir as NSString).deletingLastPathComponent }
        return dir
    }

    /// The path of an executable product, or an error that says how to build it.
    public static func executable(_ name: String) throws -> String {
        let path = "\(directory)/\(name)"
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw HarnessError("executable \(name) not found in \(directory); run `swift build` first")
        }
        return path
    }

    /// The package's root directory (for etc/ and units/), found from this file's location.
    public static var packageRoot: String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }
}

/// A test harness failure that says what went wrong.
public struct HarnessError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Polls `condition` until it holds or `timeout` passes.
public func eventually(
    timeout: Duration = .seconds(10), every interval: Duration = .milliseconds(20),
    _ what: String, _ condition: () throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try condition() { return }
        try await Task.sleep(for: interval)
    }
    if try condition() { return }
    throw HarnessError("timed out after \(timeout) waiting for \(what)")
}
