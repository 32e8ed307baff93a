import CCTrace
import CCTraceAnalysis
import CCTraceFormat
import Foundation
import Testing

/// Every test that records runs inside this suite: a session is process-wide, so they take
/// turns.
@Suite(.serialized) struct RecorderTests {}

/// A fresh directory under the system temporary directory.
func makeTemporaryDirectory() -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("cctrace-test-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Records a session to a temporary file around `body` and imports the result.
func recordAndImport(_ body: () throws -> Void) throws -> (TraceModel, String) {
    try recordAndImport(configuring: { _ in }, body: body)
}

/// Like ``recordAndImport(_:)`` with a configuration adjusted by `configure`.
func recordAndImport(
    configuring configure: (inout TraceConfiguration) -> Void, body: () throws -> Void
) throws -> (TraceModel, String) {
    let path = makeTemporaryDirectory().appendingPathComponent("trace.json").path
    var configuration = TraceConfiguration(outputPath: path)
    configure(&configuration)
    try CCTrace.start(configuration)
    do {
        try body()
    } catch {
        CCTrace.stop()
        throw error
    }
    CCTrace.stop()
    return (try TraceImporter.importTrace(path: path), path)
}

/// The directory holding the built products (next to the test bundle).
func productsDirectory() -> URL {
    let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    var dir = exe.deletingLastPathComponent()
    while dir.path != "/"
        && !FileManager.default.fileExists(atPath: dir.appendingPathComponent("cctrace-crashtest").path)
    {
        dir = dir.deletingLastPathComponent()
    }
    return dir
}

/// Runs a built product with `arguments` and extra environment; returns its exit status and
/// standard output.
@discardableResult
func runProduct(
    _ name: String, _ arguments: [String], environment: [String: String] = [:],
    onStart: ((Process, FileHandle) -> Void)? = nil
) throws -> (status: Int32, reason: Process.TerminationReason, output: String) {
    let process = Process()
    process.executableURL = productsDirectory().appendingPathComponent(name)
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    env["SWIFT_BACKTRACE"] = "enable=no"
    for (k, v) in environment { env[k] = v }
    process.environment = env
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    try process.run()
    onStart?(process, out.fileHandleForReading)
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, process.terminationReason, String(decoding: data, as: UTF8.self))
}

/// Starts `count` threads running `body(index)` and waits for all of them.
func runThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for i in 0..<count {
        group.enter()
        Thread {
            body(i)
            group.leave()
        }.start()
    }
    group.wait()
}
