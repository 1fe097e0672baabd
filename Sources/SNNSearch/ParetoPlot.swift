import Foundation

/// A Pareto-front picture as SVG: every evaluation as a grey dot, the front as red dots joined by
/// its staircase, validation error (%) on the x axis and spikes per sample on the y axis.
public enum ParetoPlot {
    public static func svg(evaluations: [CandidateEvaluation], front: [CandidateEvaluation], title: String) -> String {
        let width = 640.0, height = 440.0, left = 80.0, right = 20.0, top = 40.0, bottom = 60.0
        let xs = evaluations.map { $0.error * 100 }, ys = evaluations.map(\.spikesPerSample)
        func span(_ v: [Double]) -> (Double, Double) {
            let lo = v.min() ?? 0, hi = v.max() ?? 1
            let pad = max((hi - lo) * 0.08, 1e-9 + abs(hi) * 0.02)
            return (lo - pad, hi + pad)
        }
        let (x0, x1) = span(xs), (y0, y1) = span(ys)
        func px(_ x: Double) -> Double { left + (x - x0) / (x1 - x0) * (width - left - right) }
        func py(_ y: Double) -> Double { height - bottom - (y - y0) / (y1 - y0) * (height - top - bottom) }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        var s =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\(f(width / 2))\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">\(escape(title))</text>\n"
        s +=
            "<line x1=\"\(f(left))\" y1=\"\(f(height - bottom))\" x2=\"\(f(width - right))\" y2=\"\(f(height - bottom))\" stroke=\"black\"/>\n"
        s +=
            "<line x1=\"\(f(left))\" y1=\"\(f(top))\" x2=\"\(f(left))\" y2=\"\(f(height - bottom))\" stroke=\"black\"/>\n"
        for k in 0...4 {
            let x = x0 + (x1 - x0) * Double(k) / 4, y = y0 + (y1 - y0) * Double(k) / 4
            s +=
                "<text x=\"\(f(px(x)))\" y=\"\(f(height - bottom + 18))\" text-anchor=\"middle\">\(String(format: "%.1f", x))</text>\n"
            s +=
                "<text x=\"\(f(left - 6))\" y=\"\(f(py(y) + 4))\" text-anchor=\"end\">\(String(format: "%.0f", y))</text>\n"
        }
        s +=
            "<text x=\"\(f((left + width - right) / 2))\" y=\"\(f(height - 16))\" text-anchor=\"middle\">validation error (%)</text>\n"
        s +=
            "<text transform=\"translate(18 \(f((top + height - bottom) / 2))) rotate(-90)\" text-anchor=\"middle\">spikes per sample</text>\n"
        for e in evaluations {
            s += "<circle cx=\"\(f(px(e.error * 100)))\" cy=\"\(f(py(e.spikesPerSample)))\" r=\"3\" fill=\"#999\"/>\n"
        }
        let sorted = front.sorted { $0.error < $1.error }
        if sorted.count > 1 {
            var path = "M \(f(px(sorted[0].error * 100))) \(f(py(sorted[0].spikesPerSample)))"
            for e in sorted.dropFirst() {
                path += " H \(f(px(e.error * 100))) V \(f(py(e.spikesPerSample)))"
            }
            s += "<path d=\"\(path)\" fill=\"none\" stroke=\"#c00\"/>\n"
        }
        for e in sorted {
            s += "<circle cx=\"\(f(px(e.error * 100)))\" cy=\"\(f(py(e.spikesPerSample)))\" r=\"4.5\" fill=\"#c00\"/>\n"
        }
        return s + "</svg>\n"
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
    }
}
