import IntegraFuzzHarness

#if INTEGRA_LIBFUZZER

/// libFuzzer's entry point (built by `scripts/fuzz` with `--sanitize=fuzzer -DINTEGRA_LIBFUZZER`,
/// where libFuzzer supplies `main`).
@_cdecl("LLVMFuzzerTestOneInput")
public func integraFuzzTestOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = ProtocolFuzzHarness.run(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

#else

import Foundation

/// Without libFuzzer: replays the inputs given as files or directories through the same harness,
/// to reproduce a finding with an ordinary build and a Swift backtrace.
@main
struct IntegraFuzzReplay {
    static func main() {
        let paths = CommandLine.arguments.dropFirst()
        guard !paths.isEmpty else {
            print("usage: integra-fuzz FILE|DIRECTORY...  (replays fuzz inputs; scripts/fuzz runs the fuzzer)")
            exit(2)
        }
        var replayed = 0
        for path in paths {
            for file in Self.files(at: path) {
                guard let data = FileManager.default.contents(atPath: file) else {
                    print("integra-fuzz: can't read \(file)")
                    exit(1)
                }
                print("replaying \(file) (\(data.count) bytes)")
                _ = ProtocolFuzzHarness.run(Array(data))
                replayed += 1
            }
        }
        print("integra-fuzz: \(replayed) inputs replayed, no property violated")
    }

    /// The file itself, or the regular files of a directory in name order.
    static func files(at path: String) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else { return [path] }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.sorted().map { "\(path)/\($0)" }
    }
}

#endif
