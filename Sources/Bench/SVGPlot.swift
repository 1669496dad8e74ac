import Foundation

/// Draws a bench report as SVG: throughput against sessions (with the echo baseline) on the
/// left, the measured run's latency per second on the right. Plain SVG text, no dependencies.
public enum SVGPlot {
    struct Series {
        let name: String
        let color: String
        let points: [(x: Double, y: Double)]
    }

    static let panelWidth = 420.0
    static let panelHeight = 260.0
    static let margin = (left: 64.0, right: 16.0, top: 40.0, bottom: 44.0)

    public static func render(_ report: BenchReport, title: String) -> String {
        var throughput: [Series] = []
        let points = report.sweep.isEmpty
            ? [BenchReport.SweepPoint(sessions: report.sessions, throughputPerSecond: report.result.throughputPerSecond, p99Ms: report.result.p99Ms, echoThroughputPerSecond: report.baseline?.run?.throughputPerSecond)]
            : report.sweep
        throughput.append(Series(name: "Integra (\(report.store))", color: "#1f77b4", points: points.map { (Double($0.sessions), $0.throughputPerSecond) }))
        let echo = points.compactMap { point in point.echoThroughputPerSecond.map { (Double(point.sessions), $0) } }
        if !echo.isEmpty { throughput.append(Series(name: "echo baseline", color: "#7f7f7f", points: echo)) }
        let latency = [
            Series(name: "p50", color: "#2ca02c", points: report.timeline.map { (Double($0.second), $0.p50Ms) }),
            Series(name: "p99", color: "#d62728", points: report.timeline.map { (Double($0.second), $0.p99Ms) }),
        ]
        let width = Self.panelWidth * 2
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(Self.panelHeight + 30))" font-family="sans-serif" font-size="11">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(Int(width / 2))" y="16" text-anchor="middle" font-size="13">\(Self.escape(title))</text>

            """
        svg += Self.panel(x: 0, y: 24, title: "throughput against sessions (\(report.mode) loop)", xLabel: "sessions", yLabel: "transfers/s", series: throughput, logX: points.count > 1)
        svg += Self.panel(x: Self.panelWidth, y: 24, title: "latency over time (\(report.workload.rawValue), \(report.sessions) sessions)", xLabel: "second of the run", yLabel: "ms", series: latency, logX: false)
        svg += "</svg>\n"
        return svg
    }

    static func panel(x: Double, y: Double, title: String, xLabel: String, yLabel: String, series: [Series], logX: Bool) -> String {
        let all = series.flatMap(\.points)
        let transform: (Double) -> Double = logX ? { log2(max($0, 1)) } : { $0 }
        let xs = all.map { transform($0.x) }
        let xMin = xs.min() ?? 0
        let xMax = max((xs.max() ?? 1), xMin + 1)
        let yMax = Self.niceCeiling(max(all.map(\.y).max() ?? 1, 1e-3))
        let left = x + Self.margin.left
        let right = x + Self.panelWidth - Self.margin.right
        let top = y + Self.margin.top
        let bottom = y + Self.panelHeight - Self.margin.bottom
        func px(_ value: Double) -> Double { left + (transform(value) - xMin) / (xMax - xMin) * (right - left) }
        func py(_ value: Double) -> Double { bottom - value / yMax * (bottom - top) }
        var out = "<g>\n"
        out += "<text x=\"\(Self.f(x + Self.panelWidth / 2))\" y=\"\(Self.f(y + 20))\" text-anchor=\"middle\">\(Self.escape(title))</text>\n"
        out += "<line x1=\"\(Self.f(left))\" y1=\"\(Self.f(bottom))\" x2=\"\(Self.f(right))\" y2=\"\(Self.f(bottom))\" stroke=\"black\"/>\n"
        out += "<line x1=\"\(Self.f(left))\" y1=\"\(Self.f(top))\" x2=\"\(Self.f(left))\" y2=\"\(Self.f(bottom))\" stroke=\"black\"/>\n"
        for tick in 0...4 {
            let value = yMax * Double(tick) / 4
            out += "<text x=\"\(Self.f(left - 4))\" y=\"\(Self.f(py(value) + 4))\" text-anchor=\"end\">\(Self.label(value))</text>\n"
            out += "<line x1=\"\(Self.f(left))\" y1=\"\(Self.f(py(value)))\" x2=\"\(Self.f(right))\" y2=\"\(Self.f(py(value)))\" stroke=\"#eeeeee\"/>\n"
        }
        let xTicks = Array(Set(all.map(\.x))).sorted()
        let shown = xTicks.count <= 12 ? xTicks : stride(from: 0, to: xTicks.count, by: max(1, xTicks.count / 10)).map { xTicks[$0] }
        for value in shown {
            out += "<text x=\"\(Self.f(px(value)))\" y=\"\(Self.f(bottom + 14))\" text-anchor=\"middle\">\(Self.label(value))</text>\n"
        }
        out += "<text x=\"\(Self.f((left + right) / 2))\" y=\"\(Self.f(bottom + 30))\" text-anchor=\"middle\">\(Self.escape(xLabel))</text>\n"
        out += "<text x=\"\(Self.f(x + 14))\" y=\"\(Self.f((top + bottom) / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 \(Self.f(x + 14)) \(Self.f((top + bottom) / 2)))\">\(Self.escape(yLabel))</text>\n"
        for (index, line) in series.enumerated() where !line.points.isEmpty {
            let path = line.points.map { "\(Self.f(px($0.x))),\(Self.f(py($0.y)))" }.joined(separator: " ")
            out += "<polyline fill=\"none\" stroke=\"\(line.color)\" stroke-width=\"2\" points=\"\(path)\"/>\n"
            for point in line.points where line.points.count <= 32 {
                out += "<circle cx=\"\(Self.f(px(point.x)))\" cy=\"\(Self.f(py(point.y)))\" r=\"3\" fill=\"\(line.color)\"/>\n"
            }
            let legendY = top + 4 + Double(index) * 14
            out += "<line x1=\"\(Self.f(right - 110))\" y1=\"\(Self.f(legendY))\" x2=\"\(Self.f(right - 94))\" y2=\"\(Self.f(legendY))\" stroke=\"\(line.color)\" stroke-width=\"2\"/>\n"
            out += "<text x=\"\(Self.f(right - 90))\" y=\"\(Self.f(legendY + 4))\">\(Self.escape(line.name))</text>\n"
        }
        return out + "</g>\n"
    }

    /// 1, 2 or 5 times a power of ten, at or above `value`.
    static func niceCeiling(_ value: Double) -> Double {
        let power = pow(10, floor(log10(value)))
        for step in [1.0, 2.0, 5.0, 10.0] where step * power >= value { return step * power }
        return 10 * power
    }

    static func label(_ value: Double) -> String {
        if value >= 1000 { return String(format: "%gk", (value / 100).rounded() / 10) }
        if value == value.rounded() { return String(format: "%.0f", value) }
        return String(format: "%.2g", value)
    }

    static func f(_ value: Double) -> String { String(format: "%.1f", value) }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
