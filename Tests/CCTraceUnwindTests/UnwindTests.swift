import CCTraceUnwind
import Testing

@inline(never)
func captureDeep(_ depth: Int, into buffer: UnsafeMutablePointer<UnsafeMutableRawPointer?>) -> Int32 {
    if depth == 0 { return cctrace_backtrace(buffer, 64) }
    let n = captureDeep(depth - 1, into: buffer)
    return n + Int32(depth & 0)  // keeps the frame from being a tail call
}

@Suite struct UnwindTests {
    @Test func libunwindCapturesTheCallChain() {
        #expect(cctrace_unwind_load() == 1)
        let buffer = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: 64)
        defer { buffer.deallocate() }
        let shallow = captureDeep(0, into: buffer)
        let deep = captureDeep(10, into: buffer)
        #expect(shallow > 0)
        #expect(deep >= shallow + 10)
        #expect((0..<Int(deep)).allSatisfy { buffer[$0] != nil })
    }

    /// libunwind is opened RTLD_LOCAL: its unversioned `_Unwind_*` must not become the
    /// process's unwinder (the one C++ exceptions and the Swift crash reporter use).
    @Test func libunwindDoesNotInterposeTheSystemUnwinder() throws {
        #expect(cctrace_unwind_load() == 1)
        let symbol = try #require(cctrace_global_symbol("_Unwind_Backtrace"))
        let image = String(cString: try #require(cctrace_image_path(symbol)))
        #expect(!image.contains("libunwind"), "resolved in \(image)")
    }
}
