import Foundation

/// CPU time (user + system) used so far by a process, from `/proc/PID/stat` (Linux).
///
/// CPU per transfer is steadier than throughput on a machine shared with other work, so the
/// bench reports it beside the rates.
public enum CPUTime {
    /// Seconds of CPU used by `pid` (all its threads), or nil if it cannot be read.
    public static func seconds(pid: Int32) -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return nil }
        return Self.parse(stat: text)
    }

    /// This process's CPU seconds.
    public static func ownSeconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    /// utime + stime from the text of `/proc/PID/stat` (fields 14 and 15, after the command name).
    static func parse(stat text: String) -> Double? {
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is the state (field 3), so utime (field 14) is fields[11].
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}
