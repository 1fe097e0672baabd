import Foundation
import SNNLayers

/// The pictures and the page of a ``RunReport``: each figure is inline SVG drawn here (no script,
/// no external file, no URL), and the page is one HTML file that holds them all.
///
/// Every plotted series carries its values in a `data-values` attribute (`x:y` pairs, shortest
/// round-trip decimals), the confusion matrix its counts in `data-counts`, so that a reader (and
/// the tests) can take the numbers back out of the picture.
public enum ReportPage {
    /// One figure: a short name (used for PNG file names), its SVG and a caption.
    public struct Figure: Sendable {
        public var name: String
        public var title: String
        public var width: Int
        public var height: Int
        public var svg: String
        public var caption: String
    }

    /// A plotted line: its name, colour and points (x, y).
    struct Series {
        var name: String
        var color: String
        var points: [(x: Double, y: Double)]
    }

    static let palette = [
        "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
        "#bcbd22", "#17becf",
    ]

    /// The figures of `report`, in page order: loss, accuracy, learning rate and firing rate over
    /// epochs (when metrics has an epoch), then one activity figure per recorded spiking layer, the
    /// confusion matrix and the operations per layer (when a checkpoint was evaluated).
    public static func figures(of report: RunReport) -> [Figure] {
        var figures: [Figure] = []
        let epochs = report.epochs
        if !epochs.isEmpty {
            func series(_ name: String, _ color: Int, _ value: (RunReport.EpochPoint) -> Double?) -> Series {
                let points = epochs.compactMap { e in value(e).map { (x: Double(e.epoch), y: $0) } }
                return Series(name: name, color: palette[color], points: points)
            }
            figures.append(
                lineChart(
                    name: "loss", title: "Loss", yLabel: "cross-entropy",
                    series: [series("train_loss", 0, \.trainLoss), series("test_loss", 1, \.testLoss)],
                    caption: "Mean training loss and test loss per epoch."))
            figures.append(
                lineChart(
                    name: "accuracy", title: "Accuracy", yLabel: "accuracy (fraction)",
                    series: [
                        series("train_accuracy", 0, \.trainAccuracy),
                        series("test_accuracy", 1, \.testAccuracy),
                    ],
                    caption: "Training and test accuracy per epoch."))
            figures.append(
                lineChart(
                    name: "learning_rate", title: "Learning rate", yLabel: "learning rate",
                    series: [series("learning_rate", 0, \.learningRate)],
                    caption: "The learning rate at the end of each epoch."))
            if report.hasLayerFiringRates {
                let layers = Set(epochs.flatMap(\.firingRates.keys)).sorted()
                figures.append(
                    lineChart(
                        name: "firing_rate", title: "Firing rate per layer", yLabel: "spikes per neuron-step",
                        series: layers.enumerated().map { i, layer in
                            series(layer, i % palette.count) { $0.firingRates[layer] }
                        },
                        caption: "Test-set firing rate of each followed layer per epoch."))
            } else {
                figures.append(
                    lineChart(
                        name: "firing_rate", title: "Firing rate", yLabel: "spikes per neuron-step",
                        series: [series("firing_rate", 0, \.firingRate)],
                        caption:
                            "Test-set firing rate over all neuron layers per epoch. Per-layer rates over epochs are "
                            + "absent: this run's metrics.jsonl has no \"firing_rates\" (the checkpoint's per-layer rates "
                            + "are in the operations table)."))
            }
        }
        if let evaluation = report.evaluation {
            for (i, layer) in evaluation.activity.enumerated() {
                figures.append(
                    activityChart(
                        layer, index: i, label: evaluation.sampleLabel,
                        prediction: evaluation.samplePrediction))
            }
            figures.append(confusionChart(evaluation.confusion))
            figures.append(operationsChart(evaluation.result))
        }
        return figures
    }

    /// The whole page: a summary, what is missing, the figures and the configuration table.
    public static func html(of report: RunReport) -> String {
        let figures = figures(of: report)
        var h = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        h += "<title>snn report: \(escape(report.runPath))</title>\n<style>\n"
        h += "body{font-family:sans-serif;margin:24px;color:#222;background:#f4f4f4}\n"
        h += "figure{display:inline-block;vertical-align:top;margin:8px;padding:8px;background:#fff;"
        h += "border:1px solid #ccc}\n"
        h += "figcaption{font-size:13px;color:#444}\n"
        h += "table{border-collapse:collapse;background:#fff;font-size:13px}\n"
        h += "td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}\n.missing{color:#a00}\n"
        h += "</style>\n</head>\n<body>\n"
        h += "<h1>Run report</h1>\n<p>Run directory: <code>\(escape(report.runPath))</code>. "
        h += "Epochs in metrics.jsonl: \(report.epochs.count)"
        h += report.plannedEpochs.map { " of \($0)" } ?? ""
        h += ".</p>\n"
        if let e = report.evaluation {
            let r = e.result
            h += "<p>Checkpoint <b>\(e.checkpoint.rawValue)</b> (epoch \(e.epoch)): test accuracy "
            h += String(format: "%.2f%%", r.accuracy * 100) + " on \(r.samples) samples, test loss "
            h += String(format: "%.4f", r.loss) + ", firing rate " + String(format: "%.4f", r.firingRate)
            h += ", " + String(format: "%.4g", r.synapticOperations ?? 0) + " synaptic operations, "
            h += String(format: "%.4g", r.macs ?? 0) + " MACs and "
            h += String(format: "%.4g µJ", (r.energyJoules ?? 0) * 1e6) + " per sample.</p>\n"
            if !e.unrecordedLayers.isEmpty {
                h +=
                    "<p>No spike raster for "
                    + e.unrecordedLayers.map { "<code>\(escape($0.path))</code> (\($0.layer))" }.joined(separator: ", ")
                    + ": these neuron layers do not record their membrane potential.</p>\n"
            }
        }
        if !report.missing.isEmpty {
            h += "<h2 class=\"missing\">Missing</h2>\n<ul class=\"missing\">\n"
            h += report.missing.map { "<li>\(escape($0))</li>\n" }.joined()
            h += "</ul>\n"
        }
        h += "<h2>Figures</h2>\n"
        for f in figures {
            // As wide as its picture, so that a long caption does not widen the figure.
            h +=
                "<figure id=\"\(f.name)\" style=\"width:\(f.width)px\">\n\(f.svg)<figcaption><b>\(escape(f.title)).</b> \(escape(f.caption))"
            h += "</figcaption>\n</figure>\n"
        }
        if let e = report.evaluation {
            h += "<h2>Operations and energy per layer</h2>\n" + operationsTable(e.result)
        }
        h += "<h2>Configuration</h2>\n<table>\n<tr><th>field</th><th>value</th></tr>\n"
        h += report.configuration.map { "<tr><td>\(escape($0.key))</td><td>\(escape($0.value))</td></tr>\n" }.joined()
        return h + "</table>\n</body>\n</html>\n"
    }

    // MARK: - Figures

    /// Lines over epochs with dots at the values, axes with five ticks and a legend.
    static func lineChart(name: String, title: String, yLabel: String, series: [Series], caption: String) -> Figure {
        let width = 580.0, left = 70.0, right = 20.0, bottom = 50.0, legendEntry = 170.0
        let legendRows =
            (series.count + max(Int((width - left - right) / legendEntry), 1) - 1)
            / max(Int((width - left - right) / legendEntry), 1)
        let top = 44.0 + 14 * Double(legendRows), height = 300 + top
        let all = series.flatMap(\.points)
        let (x0, x1) = span(all.map(\.x), minimumPad: 0.5), (y0, y1) = span(all.map(\.y), minimumPad: 1e-3)
        func px(_ x: Double) -> Double { left + (x - x0) / (x1 - x0) * (width - left - right) }
        func py(_ y: Double) -> Double { height - bottom - (y - y0) / (y1 - y0) * (height - top - bottom) }
        var s = svgOpen(name: name, width: width, height: height, title: title)
        s += axes(left: left, top: top, right: width - right, bottom: height - bottom, xLabel: "epoch", yLabel: yLabel)
        // Epochs are whole numbers: a tick on each, or on every k-th so that at most ten show.
        let first = Int(x0.rounded(.up)), last = Int(x1.rounded(.down))
        let every = max((last - first) / 10 + 1, 1)
        for x in Swift.stride(from: first, through: last, by: every) {
            s += text(px(Double(x)), height - bottom + 16, "\(x)", anchor: "middle")
        }
        for k in 0...4 {
            let y = y0 + (y1 - y0) * Double(k) / 4
            s += text(left - 6, py(y) + 4, tick(y), anchor: "end")
        }
        for (i, line) in series.enumerated() {
            let values = line.points.map { "\(number($0.x)):\(number($0.y))" }.joined(separator: " ")
            let points = line.points.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ")
            s += "<polyline data-series=\"\(escape(line.name))\" data-values=\"\(values)\" points=\"\(points)\" "
            s += "fill=\"none\" stroke=\"\(line.color)\" stroke-width=\"2\"/>\n"
            for p in line.points {
                s += "<circle cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"2.5\" fill=\"\(line.color)\"/>\n"
            }
            // The legend: one row under the title, then more rows when the names do not fit.
            let perRow = max(Int((width - left - right) / legendEntry), 1)
            let lx = left + Double(i % perRow) * legendEntry, ly = 32 + Double(i / perRow) * 14
            s += "<rect x=\"\(f(lx))\" y=\"\(f(ly))\" width=\"12\" height=\"3\" fill=\"\(line.color)\"/>\n"
            s += text(lx + 16, ly + 5, line.name, anchor: "start")
        }
        if all.isEmpty { s += text(width / 2, height / 2, "no values in metrics.jsonl", anchor: "middle") }
        return Figure(
            name: name, title: title, width: Int(width), height: Int(height), svg: s + "</svg>\n",
            caption: caption)
    }

    /// A spike raster (shown neurons × steps) beside the membrane traces of the most active neurons.
    static func activityChart(_ a: RunReport.LayerActivity, index: Int, label: Int, prediction: Int) -> Figure {
        let width = 580.0, height = 310.0, top = 50.0, bottom = 44.0, left = 60.0
        let steps = a.spikes.count, shown = a.shownNeurons.count
        let rasterRight = 260.0, traceLeft = 330.0, traceRight = width - 20
        let name = "activity_\(index)", title = "Spikes and membrane: \(a.path) (\(a.layer))"
        var s = svgOpen(name: name, width: width, height: height, title: title)
        s += axes(
            left: left, top: top, right: rasterRight, bottom: height - bottom, xLabel: "time step",
            yLabel: "neuron")
        let cellW = (rasterRight - left) / Double(max(steps, 1))
        let cellH = (height - top - bottom) / Double(max(shown, 1))
        for t in 0..<steps {
            s += text(left + (Double(t) + 0.5) * cellW, height - bottom + 16, "\(t)", anchor: "middle")
            for k in 0..<shown where a.spikes[t][k] {
                s += "<rect class=\"spike\" x=\"\(f(left + Double(t) * cellW + 1))\" "
                s += "y=\"\(f(top + Double(k) * cellH))\" "
                s += "width=\"\(f(max(cellW - 2, 1)))\" height=\"\(f(max(cellH - 0.5, 0.5)))\" fill=\"#222\"/>\n"
            }
        }
        let values: [Double] = a.membrane.flatMap { $0 } + [a.threshold, 0]
        let (v0, v1) = span(values, minimumPad: 0.1)
        let plotWidth = traceRight - traceLeft, plotHeight = height - top - bottom
        func px(_ t: Double) -> Double { traceLeft + (t + 0.5) / Double(max(steps, 1)) * plotWidth }
        func py(_ v: Double) -> Double { height - bottom - (v - v0) / (v1 - v0) * plotHeight }
        s += axes(
            left: traceLeft, top: top, right: traceRight, bottom: height - bottom, xLabel: "time step",
            yLabel: "membrane")
        for k in 0...4 {
            let v = v0 + (v1 - v0) * Double(k) / 4
            s += text(traceLeft - 4, py(v) + 4, tick(v), anchor: "end")
        }
        s += "<line x1=\"\(f(traceLeft))\" y1=\"\(f(py(a.threshold)))\" x2=\"\(f(traceRight))\" "
        s += "y2=\"\(f(py(a.threshold)))\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>\n"
        for (k, trace) in a.membrane.enumerated() {
            let color = palette[k % palette.count]
            let points = trace.enumerated().map { "\(f(px(Double($0.offset)))),\(f(py($0.element)))" }
                .joined(separator: " ")
            s += "<polyline data-neuron=\"\(a.tracedNeurons[k])\" points=\"\(points)\" fill=\"none\" "
            s += "stroke=\"\(color)\" stroke-width=\"1.5\"/>\n"
            // A spike: a tick above the threshold line at its step.
            for (t, fired) in a.tracedSpikes[k].enumerated() where fired {
                let y = py(a.threshold) - 4 - 5 * Double(k)
                s += "<line x1=\"\(f(px(Double(t))))\" y1=\"\(f(y))\" x2=\"\(f(px(Double(t))))\" y2=\"\(f(y - 4))\" "
                s += "stroke=\"\(color)\" stroke-width=\"2\"/>\n"
            }
        }
        let caption =
            "Test sample 0 (label \(label), predicted \(prediction)) in \(a.path): left, the spikes of the "
            + "\(shown) most active of its \(a.neurons) neurons over \(steps) time steps (\(a.totalSpikes) spikes in "
            + "the whole layer); right, the post-reset membrane potential of the \(a.membrane.count) neurons whose "
            + "membrane varies most (neurons \(a.tracedNeurons.map(String.init).joined(separator: ", "))), their "
            + "spikes as ticks above the threshold \(number(a.threshold)) (dashed)."
        return Figure(
            name: name, title: title, width: Int(width), height: Int(height), svg: s + "</svg>\n",
            caption: caption)
    }

    /// Counts of true class (rows) by predicted class (columns), darker for more.
    static func confusionChart(_ confusion: [[Int]]) -> Figure {
        let n = confusion.count, cell = max(14.0, min(40.0, 400.0 / Double(max(n, 1))))
        let left = 60.0, top = 50.0, width = left + cell * Double(n) + 20, height = top + cell * Double(n) + 40
        let peak = max(confusion.flatMap { $0 }.max() ?? 1, 1)
        let counts = confusion.map { $0.map(String.init).joined(separator: ",") }.joined(separator: ";")
        var s = svgOpen(name: "confusion", width: width, height: height, title: "Confusion matrix")
        s += "<g data-counts=\"\(counts)\">\n"
        for (r, row) in confusion.enumerated() {
            s += text(left - 6, top + (Double(r) + 0.6) * cell, "\(r)", anchor: "end")
            for (c, count) in row.enumerated() {
                let level = Int((1 - Double(count) / Double(peak)) * 235) + 20
                let x = left + Double(c) * cell, y = top + Double(r) * cell
                s += "<rect x=\"\(f(x))\" y=\"\(f(y))\" width=\"\(f(cell))\" height=\"\(f(cell))\" "
                s += "fill=\"rgb(\(level),\(level),255)\" stroke=\"#fff\"/>\n"
                if count > 0 && cell >= 20 {
                    s += "<text x=\"\(f(x + cell / 2))\" y=\"\(f(y + cell * 0.62))\" text-anchor=\"middle\" "
                    s += "font-size=\"10\" "
                    s += "fill=\"\(level < 128 ? "#fff" : "#000")\">\(count)</text>\n"
                }
            }
        }
        for c in 0..<n { s += text(left + (Double(c) + 0.5) * cell, top - 6, "\(c)", anchor: "middle") }
        s +=
            "</g>\n"
            + text(
                left + cell * Double(n) / 2, height - 12, "rows: true class, columns: predicted class",
                anchor: "middle")
        let total = confusion.flatMap { $0 }.reduce(0, +), correct = (0..<n).reduce(0) { $0 + confusion[$1][$1] }
        return Figure(
            name: "confusion", title: "Confusion matrix", width: Int(width), height: Int(height),
            svg: s + "</svg>\n", caption: "\(total) test samples, \(correct) on the diagonal.")
    }

    /// Synaptic operations (spike input) or MACs (analog input) per sample of each synaptic layer,
    /// as bars on a log scale, with each layer's energy.
    static func operationsChart(_ r: EvaluationResult) -> Figure {
        let rows = operationRows(r)
        let rowHeight = 22.0, left = 170.0, top = 40.0, width = 600.0
        let height = top + rowHeight * Double(max(rows.count, 1)) + 40
        let peak = log10(max(rows.map(\.operations).max() ?? 10, 10))
        var s = svgOpen(name: "operations", width: width, height: height, title: "Operations and energy per layer")
        for (i, row) in rows.enumerated() {
            let y = top + Double(i) * rowHeight
            let length = max(log10(max(row.operations, 1)) / peak, 0) * (width - left - 150)
            s += text(left - 6, y + 14, row.path, anchor: "end")
            s += "<rect data-layer=\"\(escape(row.path))\" data-operations=\"\(number(row.operations))\" "
            s += "data-joules=\"\(number(row.joules))\" x=\"\(f(left))\" y=\"\(f(y + 3))\" width=\"\(f(length))\" "
            s += "height=\"\(f(rowHeight - 6))\" fill=\"\(row.spiking ? "#2ca02c" : "#ff7f0e")\"/>\n"
            s += text(
                left + length + 6, y + 14,
                String(
                    format: "%.3g %@, %.3g nJ", row.operations,
                    row.spiking ? "SOP" : "MAC", row.joules * 1e9), anchor: "start")
        }
        if rows.isEmpty { s += text(width / 2, top + 14, "no synaptic layer ran", anchor: "middle") }
        s += text(
            width / 2, height - 12,
            "per sample, log scale; green: spike input (SOP, 0.9 pJ), "
                + "orange: analog input (MAC, 4.6 pJ)", anchor: "middle")
        let caption =
            "Synaptic operations or multiply-accumulates per test sample of each synaptic layer, and its "
            + "energy under the 4.6 pJ/MAC, 0.9 pJ/SOP model."
        return Figure(
            name: "operations", title: "Operations and energy per layer", width: Int(width),
            height: Int(height), svg: s + "</svg>\n", caption: caption)
    }

    /// One synaptic layer's operations (SOPs when fed spikes, MACs otherwise) and energy per sample.
    static func operationRows(_ r: EvaluationResult)
        -> [(path: String, spiking: Bool, operations: Double, joules: Double)]
    {
        r.layerOperations.map { path, record in
            // The same energy model as the totals, one layer at a time.
            let energy = EnergyEstimate(records: [record], samples: r.samples)
            let operations = record.binaryInput ? energy.synapticOperations : energy.macs
            return (path, record.binaryInput, operations, energy.joules)
        }
    }

    /// The operations as a table, with each neuron layer's firing rate.
    static func operationsTable(_ r: EvaluationResult) -> String {
        var h = "<table>\n<tr><th>layer</th><th>input</th><th>operations per sample</th>"
        h += "<th>energy per sample</th></tr>\n"
        for row in operationRows(r) {
            h += "<tr><td>\(escape(row.path))</td><td>\(row.spiking ? "spikes (SOP)" : "analog (MAC)")</td>"
            h += "<td>" + String(format: "%.4g", row.operations) + "</td><td>"
            h += String(format: "%.4g nJ", row.joules * 1e9) + "</td></tr>\n"
        }
        h += "</table>\n<table>\n<tr><th>neuron layer</th><th>type</th><th>firing rate</th></tr>\n"
        for rate in r.firingRates {
            h += "<tr><td>\(escape(rate.path))</td><td>\(rate.layer)</td><td>" + String(format: "%.4f", rate.rate)
            h += "</td></tr>\n"
        }
        return h + "</table>\n"
    }

    // MARK: - SVG pieces

    static func svgOpen(name: String, width: Double, height: Double, title: String) -> String {
        // No xmlns: inside HTML the parser puts <svg> in the SVG namespace itself, and the page then
        // holds no URL at all.
        var s = "<svg data-figure=\"\(name)\" width=\"\(Int(width))\" height=\"\(Int(height))\" "
        s += "viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        return s + text(width / 2, 20, title, anchor: "middle", size: 14)
    }

    static func axes(
        left: Double, top: Double, right: Double, bottom: Double, xLabel: String,
        yLabel: String
    ) -> String {
        var s = "<line x1=\"\(f(left))\" y1=\"\(f(bottom))\" x2=\"\(f(right))\" y2=\"\(f(bottom))\" "
        s += "stroke=\"black\"/>\n"
        s += "<line x1=\"\(f(left))\" y1=\"\(f(top))\" x2=\"\(f(left))\" y2=\"\(f(bottom))\" stroke=\"black\"/>\n"
        s += text((left + right) / 2, bottom + 34, xLabel, anchor: "middle")
        // Clear of tick labels up to eight characters long, and inside the picture.
        let x = max(left - 56, 12), y = (top + bottom) / 2
        return s + "<text transform=\"translate(\(f(x)) \(f(y))) rotate(-90)\" text-anchor=\"middle\">"
            + "\(escape(yLabel))</text>\n"
    }

    static func text(_ x: Double, _ y: Double, _ content: String, anchor: String, size: Int = 12) -> String {
        "<text x=\"\(f(x))\" y=\"\(f(y))\" text-anchor=\"\(anchor)\" font-size=\"\(size)\">\(escape(content))</text>\n"
    }

    /// The range to plot `values` in, padded by 8 % (at least `minimumPad`).
    static func span(_ values: [Double], minimumPad: Double) -> (Double, Double) {
        let finite = values.filter(\.isFinite)
        let lo = finite.min() ?? 0, hi = finite.max() ?? 1
        let pad = max((hi - lo) * 0.08, minimumPad)
        return (lo - pad, hi + pad)
    }

    static func f(_ v: Double) -> String { String(format: "%.1f", v) }
    static func tick(_ v: Double) -> String { String(format: "%.3g", v) }
    /// The shortest decimal that reads back as the same Double.
    static func number(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : "\(v)" }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
