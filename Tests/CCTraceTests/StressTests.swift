import CCTrace
import CCTraceAnalysis
import CCTraceFormat
import Foundation
import Testing

extension RecorderTests {
    @Suite struct Stress {
        static let threads = 8
        static let spansPerThread = 100_000

        /// 8 threads × 100k spans, each outer span holding an inner one every 10th time: every
        /// span arrives, on its own thread, properly nested.
        @Test func everySpanArrivesNested() throws {
            let (model, _) = try recordAndImport { c in
                c.bufferLimit = 512 << 20
            } body: {
                runThreads(Self.threads) { _ in
                    for _ in 0..<(Self.spansPerThread / 10) {
                        CCTrace.withSpan("outer") {
                            for _ in 0..<9 {
                                CCTrace.withSpan("inner") {}
                            }
                        }
                    }
                }
            }
            let recording = model.threads.indices.filter { i in
                model.slices(ofThread: i).contains { $0.name == "outer" }
            }
            #expect(recording.count == Self.threads)
            for t in recording {
                let slices = model.slices(ofThread: t)
                #expect(slices.count == Self.spansPerThread)
                #expect(slices.filter { $0.name == "outer" }.allSatisfy { $0.depth == 0 })
                #expect(
                    slices.filter { $0.name == "inner" }.allSatisfy { s in
                        s.depth == 1 && model.slices[s.parent].name == "outer"
                    })
            }
            #expect(model.diagnostics.isEmpty, "\(model.diagnostics)")
        }

        /// A trace never grows past its limit: past it, events are counted as dropped, the
        /// file stays a valid trace, and every span is either in it or in the count.
        @Test func traceSizeIsCapped() throws {
            let (model, path) = try recordAndImport { c in
                c.bufferLimit = 512 << 20
                c.maxBytes = 2 << 20
            } body: {
                runThreads(Self.threads) { _ in
                    for _ in 0..<Self.spansPerThread { CCTrace.withSpan("s") {} }
                }
            }
            let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0
            #expect(size <= 2 << 20, "\(size) bytes")
            let present = model.slices.filter { $0.name == "s" }.count
            let dropped = model.diagnostics.first { $0.kind == .droppedEvents }?.count ?? 0
            #expect(present > 0 && dropped > 0)
            // The count includes the few other events dropped with the spans (thread names).
            let total = Self.threads * Self.spansPerThread
            #expect(
                present + dropped >= total && present + dropped <= total + 2 * Self.threads, "\(present) + \(dropped)")
            #expect(!model.diagnostics.contains { $0.kind == .truncatedFile || $0.kind == .partialEvent })
        }

        /// With a buffer far too small and the writer asleep, spans are dropped — and the
        /// trace says exactly how many.
        @Test func dropsAreCountedExactly() throws {
            let (model, _) = try recordAndImport { c in
                c.bufferLimit = 1 << 20
                c.flushInterval = .seconds(60)
                c.cpuSampleInterval = nil
            } body: {
                runThreads(Self.threads) { _ in
                    for _ in 0..<Self.spansPerThread { CCTrace.withSpan("s") {} }
                }
            }
            let present = model.slices.filter { $0.name == "s" }.count
            let dropped = model.diagnostics.first { $0.kind == .droppedEvents }?.count ?? 0
            #expect(dropped > 0)
            #expect(present + dropped == Self.threads * Self.spansPerThread)
        }

        /// The `block` policy loses nothing even with a tiny buffer.
        @Test func blockingOverflowLosesNothing() throws {
            let (model, _) = try recordAndImport { c in
                c.bufferLimit = 1 << 20
                c.overflow = .block
                c.flushInterval = .milliseconds(5)
                c.cpuSampleInterval = nil
            } body: {
                runThreads(4) { _ in
                    for _ in 0..<50_000 { CCTrace.withSpan("b") {} }
                }
            }
            #expect(model.slices.filter { $0.name == "b" }.count == 4 * 50_000)
            #expect(model.diagnostics.first { $0.kind == .droppedEvents } == nil)
        }
    }
}
