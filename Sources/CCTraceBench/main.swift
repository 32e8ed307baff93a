// cctrace-bench — prints one `name: value unit` line per figure, all measured in the same run.
//
//   swift run -c release cctrace-bench record
//   swift run -c release cctrace-bench writer        (the background writer alone: events/s, bytes)
//   swift run -c release cctrace-bench import FILE   (e.g. ../shared/tools/gen-trace --events 1000000)
//   swift run -c release cctrace-bench stacks        (stack capture, profiler sample cost, slowdown)
//   swift run -c release cctrace-bench tasks         (Swift Concurrency traced by the runtime hooks)
//   swift run -c release cctrace-bench tracing       (swift-distributed-tracing spans: CCTraceTracer vs no-op)
//
// Figures are the best of several repetitions, so a noisy neighbour on this shared machine
// makes them worse, never better; compare them as ratios within one run.
#if canImport(Glibc)
    import Glibc
#endif

let arguments = Array(CommandLine.arguments.dropFirst())
switch arguments.first {
case "record":
    RecordBenchmark.run()
case "stacks":
    StackBenchmark.run()
case "tasks":
    TaskBenchmark.run()
case "tracing":
    TracingBenchmark.run()
case "writer":
    RecordBenchmark.runWriter()
case "import" where arguments.count == 2:
    ImportBenchmark.run(path: arguments[1])
default:
    print("usage: cctrace-bench record | writer | stacks | tasks | tracing | import FILE")
    exit(2)
}
