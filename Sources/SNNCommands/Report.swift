import ArgumentParser
import Foundation
import SNN

/// `snn report`.
struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a run's report: one self-contained HTML page (inline SVG), or its figures as PNG files.",
        discussion: """
            The page shows loss, accuracy, learning rate and firing rate per epoch, one test sample's spikes and \
            membrane in every spiking layer, the confusion matrix, operations and energy per layer, and the \
            configuration. An interrupted run gives a page that says what is missing. --format png draws each \
            figure's SVG with a headless Chromium (chromium on PATH, or $SNN_CHROMIUM) into the --output folder.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case html, png }

    @Option(name: .customLong("run"), help: "Run directory written by snn train.")
    var runDirectory: String
    @Option(help: "The HTML file to write (html), or the folder for the PNG files (png).")
    var output: String
    @Option(help: "html or png.")
    var format: Format = .html

    func run() throws {
        do {
            let report = try RunReport.collect(from: try RunDirectory.open(at: runDirectory))
            switch format {
            case .html:
                try AtomicFile.write(Data(ReportPage.html(of: report).utf8), to: output)
            case .png:
                try writePNGs(ReportPage.figures(of: report), missing: report.missing)
            }
            for line in report.missing { print("missing: \(line)") }
        } catch let error as SNNError {
            throw CommandFailure(error)
        }
    }

    /// Draws each figure through Chromium into `output/NN-name.png`.
    func writePNGs(_ figures: [ReportPage.Figure], missing: [String]) throws(SNNError) {
        guard let chromium = Chromium.executable() else {
            throw SNNError(
                .invalidArgument,
                "--format png draws the figures with Chromium, and none was found "
                    + "(install Debian's chromium, or set SNN_CHROMIUM); --format html needs nothing")
        }
        try AtomicFile.createDirectory(output)
        for (i, figure) in figures.enumerated() {
            let page =
                "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><style>body{margin:0}</style></head><body>"
                + figure.svg + "</body></html>"
            let png = try Chromium.screenshot(
                html: page, width: figure.width, height: figure.height,
                executable: chromium)
            try AtomicFile.write(png, to: output + String(format: "/%02d-", i + 1) + figure.name + ".png")
        }
        if !missing.isEmpty {
            try AtomicFile.write(Data((missing.joined(separator: "\n") + "\n").utf8), to: output + "/MISSING.txt")
        }
    }
}

/// A headless Chromium, for drawing HTML into PNG.
enum Chromium {
    /// `$SNN_CHROMIUM`, or the first of chromium / chromium-browser / google-chrome on `PATH`.
    static func executable() -> String? {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment["SNN_CHROMIUM"] {
            return FileManager.default.isExecutableFile(atPath: path) ? path : nil
        }
        let directories = (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            for directory in directories where FileManager.default.isExecutableFile(atPath: "\(directory)/\(name)") {
                return "\(directory)/\(name)"
            }
        }
        return nil
    }

    /// The PNG of `html` in a `width` × `height` window.
    static func screenshot(html: String, width: Int, height: Int, executable: String) throws(SNNError) -> Data {
        let scratch = FileManager.default.temporaryDirectory
            .appendingPathComponent("snn-chromium-\(UUID().uuidString)").path
        try AtomicFile.createDirectory(scratch)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let page = scratch + "/page.html", shot = scratch + "/shot.png"
        try AtomicFile.write(Data(html.utf8), to: page, synchronize: false)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        // A private profile in the scratch folder; no sandbox (it needs user namespaces, often absent
        // in containers); no GPU.
        process.arguments = [
            "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--user-data-dir=" + scratch + "/profile", "--window-size=\(width),\(height)",
            "--screenshot=" + shot, "file://" + page,
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw SNNError(.io, "cannot start Chromium", file: executable, underlying: "\(error)")
        }
        process.waitUntilExit()
        guard process.terminationStatus == 0, let png = FileManager.default.contents(atPath: shot) else {
            throw SNNError(
                .io, "Chromium exited with status \(process.terminationStatus) without a screenshot",
                file: executable)
        }
        return png
    }
}
