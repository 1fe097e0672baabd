import CSNNKernels
import Foundation
import SNN
import SNNTestSupport
import Testing

/// `snn report`: the page holds the run's numbers, draws in a browser, and says what a damaged or
/// unfinished run directory lacks instead of failing.
@Suite(.serialized) struct ReportTests {
    /// A small finished run on the digits: 3 epochs, one spiking hidden layer plus the spiking
    /// output layer of the MLP.
    static let run: Result<String, any Error> = Result {
        let path = temporaryPath("report-run")
        let result = try runSNN([
            "train", "--model", "spiking-mlp", "--widths", "32", "--time-steps", "3",
            "--epochs", "3", "--batch-size", "64", "--seed", "7", "--learning-rate", "0.5",
            "--test-samples", "200", "--output", path, "--json",
        ])
        guard result.status == 0 else { throw SNNError(.io, "training failed: \(result.error)") }
        return path
    }

    /// The values of an attribute, in document order.
    static func attributes(_ name: String, in html: String) -> [String] {
        html.components(separatedBy: " \(name)=\"").dropFirst().map { String($0.prefix { $0 != "\"" }) }
    }

    /// `data-series` name → `(x, y)` pairs parsed back from the page.
    static func series(in html: String) -> [String: [(Double, Double)]] {
        var out: [String: [(Double, Double)]] = [:]
        for chunk in html.components(separatedBy: "<polyline data-series=\"").dropFirst() {
            let name = String(chunk.prefix { $0 != "\"" })
            let values = attributes("data-values", in: chunk).first ?? ""
            out[name] = values.split(separator: " ").map { pair in
                let parts = pair.split(separator: ":")
                return (Double(parts[0]) ?? .nan, Double(parts[1]) ?? .nan)
            }
        }
        return out
    }

    /// A new directory holding only `run`'s config.json (a run stopped before anything else).
    static func directoryWithConfiguration(of run: String) throws -> String {
        let path = temporaryPath("report-partial")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: run + "/config.json", toPath: path + "/config.json")
        return path
    }

    static func report(_ run: String, _ extra: [String] = []) throws -> (status: Int32, html: String, error: String) {
        let output = temporaryPath("report") + ".html"
        defer { try? FileManager.default.removeItem(atPath: output) }
        let r = try runSNN(["report", "--run", run, "--output", output] + extra)
        return (r.status, (try? String(contentsOfFile: output, encoding: .utf8)) ?? "", r.error)
    }

    /// The number of figures a finished run's page should have: loss, accuracy, learning rate,
    /// firing rate, one activity figure per spiking layer, confusion, operations.
    static func expectedFigures(_ run: String) throws -> Int {
        let directory = try RunDirectory.open(at: run)
        let config = try TrainingConfiguration(
            dictionary: try directory.readConfiguration(),
            file: directory.configurationPath)
        let train = try config.loadData().train
        // A private generator: tests that train in this process (and compare bit for bit) run alongside.
        let model = try GlobalRandom.withSeed(0) {
            try config.makeModel(sampleShape: Array(train.images.shape.dropFirst()), classes: train.classCount)
        }
        return 4 + Evaluator.neurons(of: model).count + 2
    }

    @Test func pageHoldsTheRunsNumbersAndNoURL() throws {
        let run = try Self.run.get()
        let page = try Self.report(run)
        try #require(page.status == 0, "snn report failed: \(page.error)")
        let html = page.html
        #expect(!html.contains("http://") && !html.contains("https://") && !html.contains("src="))
        #expect(!html.contains("<script"))
        let figures = html.components(separatedBy: "<svg ").count - 1
        #expect(figures == (try Self.expectedFigures(run)))
        #expect(!html.contains("class=\"missing\""), "a finished run has nothing missing")

        // Every curve equals metrics.jsonl, value for value.
        let metrics = try RunDirectory.open(at: run).readMetrics()
        #expect(metrics.count == 3)
        let drawn = Self.series(in: html)
        for key in ["train_loss", "test_loss", "train_accuracy", "test_accuracy", "learning_rate", "firing_rate"] {
            let expected = metrics.map { (($0["epoch"] as! NSNumber).doubleValue, ($0[key] as! NSNumber).doubleValue) }
            let got = try #require(drawn[key], "no \(key) curve")
            #expect(got.map(\.0) == expected.map(\.0), "\(key) epochs")
            #expect(got.map(\.1) == expected.map(\.1), "\(key) values")
        }
    }

    @Test func confusionMatrixCountsEachTestSampleAsTheModelPredictsIt() throws {
        let run = try Self.run.get()
        let page = try Self.report(run)
        try #require(page.status == 0, "snn report failed: \(page.error)")
        let counts = try #require(Self.attributes("data-counts", in: page.html).first)
        let matrix = counts.split(separator: ";").map { $0.split(separator: ",").map { Int($0) ?? -1 } }

        // An independent count: the best checkpoint run on one test sample at a time.
        let directory = try RunDirectory.open(at: run)
        let config = try TrainingConfiguration(
            dictionary: try directory.readConfiguration(),
            file: directory.configurationPath)
        let (train, test) = try config.loadData()
        let model = try GlobalRandom.withSeed(0) {
            try config.makeModel(sampleShape: Array(train.images.shape.dropFirst()), classes: train.classCount)
        }
        _ = try #require(try directory.loadCheckpoint(.best, model: model, optimizer: nil))
        model.eval()
        var expected = [[Int]](repeating: [Int](repeating: 0, count: test.classCount), count: test.classCount)
        for i in 0..<test.count {
            var encoder = Encoder(config.resolvedEncoding, timeSteps: config.timeSteps)
            let logits = Readout.mean(model(encoder.encode(test.subset([i]).images)))
            expected[test.labels[i]][logits.argmax(alongAxis: 1)[0]] += 1
        }
        #expect(matrix.flatMap { $0 }.reduce(0, +) == 200)
        #expect(matrix == expected)
    }

    @Test func emptyAndHalfWrittenRunsGiveAPageThatSaysWhatIsMissing() throws {
        let run = try Self.run.get()
        let damaged = try Self.directoryWithConfiguration(of: run)
        defer { try? FileManager.default.removeItem(atPath: damaged) }

        // config.json only: no metrics, no checkpoint.
        var page = try Self.report(damaged)
        #expect(page.status == 0, "\(page.error)")
        #expect(page.html.contains("No training curves") && page.html.contains("No checkpoint"))
        #expect(page.html.components(separatedBy: "<svg ").count - 1 == 0)

        // Two whole metric lines and a third cut off mid-line, still no checkpoint.
        let lines = try String(contentsOfFile: run + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        let text = lines[0] + "\n" + lines[1] + "\n" + lines[2].prefix(30)
        try Data(text.utf8).write(to: URL(fileURLWithPath: damaged + "/metrics.jsonl"))
        page = try Self.report(damaged)
        #expect(page.status == 0, "\(page.error)")
        #expect(page.html.contains("metrics.jsonl is damaged at byte \(lines[0].utf8.count + lines[1].utf8.count + 2)"))
        #expect(page.html.contains("2 of 3 epochs"))
        #expect(page.html.components(separatedBy: "<svg ").count - 1 == 4)
        #expect(Self.series(in: page.html)["test_accuracy"]?.count == 2)

        // A checkpoint whose model file is cut short: the page names the file.
        for name in ["last.json", "last.safetensors"] {
            try FileManager.default.copyItem(atPath: run + "/" + name, toPath: damaged + "/" + name)
        }
        let model = try Data(contentsOf: URL(fileURLWithPath: damaged + "/last.safetensors"))
        try model.prefix(model.count / 2).write(to: URL(fileURLWithPath: damaged + "/last.safetensors"))
        page = try Self.report(damaged)
        #expect(page.status == 0, "\(page.error)")
        #expect(page.html.contains("last.safetensors"))

        // --format png without a Chromium to draw with: one clear error line.
        let png = try runSNN(
            ["report", "--run", run, "--output", damaged + "/png", "--format", "png"],
            shell: "export SNN_CHROMIUM=/nonexistent/chromium;")
        #expect(
            png.status != 0 && png.error.contains("none was found") && png.error.split(separator: "\n").count == 1,
            "\(png.error)")

        // Not a run directory, and an unreadable config.json: one clear error line, no page.
        try FileManager.default.removeItem(atPath: damaged + "/config.json")
        page = try Self.report(damaged)
        #expect(page.status != 0 && page.html.isEmpty)
        #expect(page.error.contains("no config.json") && page.error.split(separator: "\n").count == 1, "\(page.error)")
        try Data("{\"epochs\": 3,".utf8).write(to: URL(fileURLWithPath: damaged + "/config.json"))
        page = try Self.report(damaged)
        #expect(page.status != 0 && page.html.isEmpty && page.error.contains("config.json"), "\(page.error)")
    }

    @Test func perLayerFiringRatesAreDrawnWhenMetricsHaveThem() throws {
        let copy = try Self.directoryWithConfiguration(of: try Self.run.get())
        defer { try? FileManager.default.removeItem(atPath: copy) }
        // Spikformer-style lines; epoch 2 lacks one layer, whose curve then has no point at epoch 2.
        let rates: [[String: Double]] = [
            ["blocks.0.q": 0.125, "blocks.0.attention": 0.3],
            ["blocks.0.q": 0.0625], ["blocks.0.q": 0.1, "blocks.0.attention": 0.2],
        ]
        var text = ""
        for (i, r) in rates.enumerated() {
            let line: [String: Any] = [
                "epoch": i + 1, "train_loss": 1.0, "test_loss": 1.5, "learning_rate": 0.01,
                "firing_rate": 0.2, "firing_rates": r,
            ]
            text += String(decoding: try JSONSerialization.data(withJSONObject: line), as: UTF8.self) + "\n"
        }
        try Data(text.utf8).write(to: URL(fileURLWithPath: copy + "/metrics.jsonl"))
        let page = try Self.report(copy)
        try #require(page.status == 0, "\(page.error)")
        let drawn = Self.series(in: page.html)
        #expect(drawn["blocks.0.q"]?.map(\.0) == [1, 2, 3] && drawn["blocks.0.q"]?.map(\.1) == [0.125, 0.0625, 0.1])
        #expect(
            drawn["blocks.0.attention"]?.map(\.0) == [1, 3] && drawn["blocks.0.attention"]?.map(\.1) == [0.3, 0.2])
        #expect(drawn["firing_rate"] == nil, "the overall rate is not drawn beside the per-layer ones")
        // Accuracy is absent from these lines: its figure is drawn, empty, and says so.
        #expect(drawn["test_accuracy"]?.isEmpty == true && page.html.contains("no values in metrics.jsonl"))
    }

    static let chromium: String? = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    @Test(
        .enabled(
            if: chromium != nil,
            "needs Debian's chromium to draw the page (WITH_CHROMIUM=1 scripts/install-deps.sh installs it)"))
    func pageRendersInHeadlessChromium() throws {
        let run = try Self.run.get()
        let chromium = try #require(Self.chromium)
        let scratch = temporaryPath("report-chromium")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        let html = scratch + "/report.html"
        try #require(try runSNN(["report", "--run", run, "--output", html]).status == 0)
        let expected = try Self.expectedFigures(run)

        // The browser's DOM holds every figure as an SVG element, and the screenshot is not blank.
        let common = ["--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(scratch)/profile"]
        let dom = try Self.execute(chromium, common + ["--dump-dom", "file://" + html])
        #expect(dom.components(separatedBy: "<svg ").count - 1 == expected)
        _ = try Self.execute(
            chromium,
            common + [
                "--window-size=1300,2400", "--screenshot=\(scratch)/shot.png",
                "file://" + html,
            ])
        let image = try Self.decodePNG([UInt8](try Data(contentsOf: URL(fileURLWithPath: scratch + "/shot.png"))))
        #expect(image.width == 1300 && image.height == 2400)
        var colours = Set<Int>(), white = 0
        for pixel in 0..<(image.width * image.height) {
            let r = Int(image.rgb[3 * pixel]), g = Int(image.rgb[3 * pixel + 1]), b = Int(image.rgb[3 * pixel + 2])
            colours.insert(r << 16 | g << 8 | b)
            if r == 255 && g == 255 && b == 255 { white += 1 }
        }
        // Text, curves and the confusion matrix's shades make many colours; a blank page has one.
        #expect(colours.count > 50, "\(colours.count) colours")
        #expect(white > image.width * image.height / 10, "the figures' white backgrounds are drawn")

        // --format png: one PNG per figure.
        let folder = scratch + "/figures"
        try #require(try runSNN(["report", "--run", run, "--output", folder, "--format", "png"]).status == 0)
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".png") }.sorted()
        #expect(files.count == expected)
        // Each PNG has its figure's size, in page order.
        let page = try String(contentsOfFile: html, encoding: .utf8)
        let svgs = page.components(separatedBy: "<svg ").dropFirst().map { chunk in
            (
                Int(Self.attributes("width", in: " " + chunk).first ?? "") ?? 0,
                Int(Self.attributes("height", in: " " + chunk).first ?? "") ?? 0
            )
        }
        for (file, size) in zip(files, svgs) {
            let png = try Self.decodePNG([UInt8](try Data(contentsOf: URL(fileURLWithPath: folder + "/" + file))))
            #expect(png.width == size.0 && png.height == size.1, "\(file)")
        }
    }

    static func execute(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process(), out = Pipe()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "\(executable) \(arguments) failed")
        return String(decoding: data, as: UTF8.self)
    }

    /// The RGB pixels of an 8-bit RGB or RGBA PNG, any row filters, any number of IDAT chunks.
    static func decodePNG(_ png: [UInt8]) throws -> (width: Int, height: Int, rgb: [UInt8]) {
        func be32(_ at: Int) -> Int { (0..<4).reduce(0) { $0 << 8 | Int(png[at + $1]) } }
        try #require(png.count > 33 && Array(png[12..<16]) == Array("IHDR".utf8))
        let width = be32(16), height = be32(20), depth = png[24], colourType = png[25]
        try #require(
            depth == 8 && (colourType == 2 || colourType == 6) && png[28] == 0,
            "unsupported PNG colour type \(colourType)")
        let channels = colourType == 6 ? 4 : 3
        var stream: [UInt8] = [], at = 8
        while at + 8 <= png.count {
            let length = be32(at), type = String(decoding: png[(at + 4)..<(at + 8)], as: UTF8.self)
            if type == "IDAT" { stream += png[(at + 8)..<(at + 8 + length)] }
            at += 12 + length
        }
        let stride = width * channels, row = 1 + stride
        var raw = [UInt8](repeating: 0, count: height * row)
        let deflate = Array(stream[2..<(stream.count - 4)])  // zlib header and Adler-32 around raw deflate
        try #require(snn_inflate_raw(deflate, deflate.count, &raw, raw.count) == 0)
        var pixels = [UInt8](repeating: 0, count: height * stride)
        for y in 0..<height {
            let filter = raw[y * row]
            for x in 0..<stride {
                let value = Int(raw[y * row + 1 + x])
                let a = x >= channels ? Int(pixels[y * stride + x - channels]) : 0
                let b = y > 0 ? Int(pixels[(y - 1) * stride + x]) : 0
                let c = x >= channels && y > 0 ? Int(pixels[(y - 1) * stride + x - channels]) : 0
                let predictor: Int
                switch filter {
                case 0: predictor = 0
                case 1: predictor = a
                case 2: predictor = b
                case 3: predictor = (a + b) / 2
                case 4:
                    let p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
                    predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c
                default:
                    Issue.record("row \(y) has filter \(filter)")
                    predictor = 0
                }
                pixels[y * stride + x] = UInt8((value + predictor) & 255)
            }
        }
        let rgb = channels == 3 ? pixels : (0..<(width * height)).flatMap { pixels[($0 * 4)..<($0 * 4 + 3)] }
        return (width, height, rgb)
    }
}
