import CCTrace
import CCTraceAnalysis
import CCTraceFormat
import Foundation
import Testing

extension RecorderTests {
    @Suite struct Locks {
        /// A contended lock shows the wait on the waiter, with the owner's tid and a stack, and
        /// the holder's hold around it.
        @Test func contendedWaitNamesTheOwner() throws {
            let counter = TracedMutex(0, name: "shared-counter")
            let (model, _) = try recordAndImport {
                CCTrace.setThreadName("waiter")
                let holding = DispatchSemaphore(value: 0)
                let done = DispatchSemaphore(value: 0)
                Thread {
                    CCTrace.setThreadName("holder")
                    counter.withLock { value in
                        holding.signal()
                        usleep(100_000)
                        value += 1
                    }
                    done.signal()
                }.start()
                holding.wait()
                counter.withLock { $0 += 1 }
                done.wait()
            }
            #expect(counter.withLock { $0 } == 2)
            let holder = try #require(model.threads.firstIndex { $0.name == "holder" })
            let waiter = try #require(model.threads.firstIndex { $0.name == "waiter" })
            let wait = try #require(model.slices.first { $0.name == "lock wait" })
            #expect(wait.thread == waiter)
            #expect(wait.category == TraceCategory.lock.rawValue)
            #expect(wait.duration.nanoseconds >= 50_000_000)
            let args = try #require(wait.args.flatMap { model.arguments.value($0) })
            #expect(args["lock"] == .string("shared-counter"))
            #expect(args["lock_id"]?.intValue == Int64(counter.lock.id))
            #expect(args["owner_tid"]?.intValue == model.threads[holder].tid)
            guard case .array(let stack)? = args["stack"] else {
                Issue.record("no stack")
                return
            }
            #expect(stack.count >= 3)
            // The model's lock views say the same.
            #expect(model.lockWaits.count == 1)
            #expect(model.lockWaits.first?.owner == holder)
            #expect(model.lockWaits.first?.lockID == Int64(counter.lock.id))
            #expect((model.lockWaits.first?.stack.count ?? 0) >= 3)
            #expect(model.lockHolds.map(\.lock) == ["shared-counter"])
            // Symbolized and demangled, starting at the app's code: this very test.
            let frames = model.lockWaits.first?.frames ?? []
            #expect(frames.first.map { !$0.hasPrefix("CCTrace.") } == true, "\(frames)")
            #expect(frames.contains { $0.contains("contendedWaitNamesTheOwner") }, "\(frames)")
            let hold = try #require(model.slices.first { $0.name == "lock hold" })
            #expect(hold.thread == holder)
            // The hold covers exactly the stretch in which the waiter waited.
            #expect(abs(hold.start.nanoseconds - wait.start.nanoseconds) < 1_000)
            #expect(hold.end <= wait.end)
            #expect(wait.end.nanoseconds - hold.end.nanoseconds < 5_000_000)
        }

        /// Locking without contention writes no lock events at all.
        @Test func uncontendedLockWritesNothing() throws {
            let lock = TracedLock(name: "quiet")
            let (model, _) = try recordAndImport {
                for _ in 0..<10_000 { lock.withLock {} }
                #expect(lock.tryLock())
                lock.unlock()
            }
            #expect(!model.slices.contains { $0.category == TraceCategory.lock.rawValue })
        }

        /// With recording off the lock is still a lock.
        @Test func excludesWithoutRecording() {
            let m = TracedMutex(0, name: "off")
            runThreads(4) { _ in for _ in 0..<10_000 { m.withLock { $0 += 1 } } }
            #expect(m.withLock { $0 } == 40_000)
        }
    }
}
