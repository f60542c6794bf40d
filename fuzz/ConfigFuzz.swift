// libFuzzer entry point for the config parser: every input is the bytes of a config file,
// parsed (`ConfigLoader.fileLayer`) and applied onto the defaults key by key as `load` does.
// It must give a configuration or a ConfigError naming the key, never a crash. Compiled in
// one module with the parser's files (it calls internal functions); built and run by
// `fuzz/run.sh config`.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(bytes: data, count: size)
    var config = AgentConfig.defaults(environment: ["HOME": "/home/fuzz"])
    do throws(ConfigError) {
        for (key, raw) in try ConfigLoader.fileLayer(data: bytes, path: "fuzz.json").sorted(by: { $0.key < $1.key }) {
            try ConfigLoader.apply(key: key, raw: raw, source: "config file fuzz.json", to: &config)
        }
    } catch {
        precondition(!error.key.isEmpty && !error.allowed.isEmpty, "a config error that names nothing: \(error)")
    }
    return 0
}
