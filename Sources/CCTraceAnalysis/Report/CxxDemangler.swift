#if canImport(Glibc)
    import Glibc
#endif

/// C++ names (`_ZN5swift…`, the Swift runtime's frames) demangled with the C++ runtime's
/// `__cxa_demangle`, looked up once; names it cannot read come back unchanged (nil).
enum CxxDemangler {
    private typealias Demangle =
        @convention(c) (
            UnsafePointer<CChar>?, UnsafeMutablePointer<CChar>?, UnsafeMutablePointer<Int>?,
            UnsafeMutablePointer<Int32>?
        ) -> UnsafeMutablePointer<CChar>?

    private static let function: Demangle? = {
        // RTLD_DEFAULT (a null handle): the process's libraries; the Swift runtime brings the C++
        // runtime along.
        guard
            let symbol = dlsym(nil, "__cxa_demangle")
                ?? dlopen("libstdc++.so.6", RTLD_NOW | RTLD_LOCAL).flatMap({ dlsym($0, "__cxa_demangle") })
        else { return nil }
        return unsafeBitCast(symbol, to: Demangle.self)
    }()

    /// The demangled name, or nil when `name` is not a C++ name the runtime can read.
    static func demangle(_ name: String) -> String? {
        guard let function else { return nil }
        // Only the symbol: `_ZN…` up to the first space (`+ 0x1c (libswiftCore.so)` follows).
        let symbol = name.split(separator: " ", maxSplits: 1).first.map(String.init) ?? name
        var status: Int32 = 0
        guard let out = symbol.withCString({ function($0, nil, nil, &status) }), status == 0 else { return nil }
        defer { free(out) }
        let rest = name.dropFirst(symbol.count)
        return String(cString: out) + rest
    }
}
