import Foundation
import SNN

/// Writes progress for people: a redrawn bar on a terminal, plain lines otherwise.
final class ProgressReporter {
    let interactive: Bool
    let handle: FileHandle
    let started = Date()
    private var lastDraw = Date.distantPast

    /// Writes nothing (ranks other than 0 of a data-parallel run).
    let quiet: Bool

    init(toStandardError: Bool, quiet: Bool = false) {
        handle = toStandardError ? FileHandle.standardError : FileHandle.standardOutput
        interactive = isatty(toStandardError ? STDERR_FILENO : STDOUT_FILENO) != 0
        self.quiet = quiet
    }

    func write(_ text: String) {
        if !quiet { handle.write(Data(text.utf8)) }
    }

    func handle(_ event: TrainingEvent) {
        switch event {
        case .resumed(let epochs):
            write("resumed after epoch \(epochs)\n")
        case let .batch(epoch, epochs, index, count, loss, accuracy, rate):
            guard interactive, index == count || Date().timeIntervalSince(lastDraw) > 0.1 else { return }
            lastDraw = Date()
            let width = 24, filled = width * index / max(count, 1)
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            let elapsed = Date().timeIntervalSince(started)
            let done = Double(epoch - 1) + Double(index) / Double(count)
            let eta = done > 0 ? elapsed / done * (Double(epochs) - done) : 0
            write(
                String(
                    format: "\r\u{1B}[Kepoch %d/%d %@ %d/%d  loss %.4f  acc %.2f%%  %.0f samples/s  ETA %@",
                    epoch, epochs, bar, index, count, loss, accuracy * 100, rate, Self.clock(eta)))
        case .epoch(let m):
            if interactive { write("\r\u{1B}[K") }
            write(
                String(
                    format:
                        "epoch %d: lr %.2e  train loss %.4f  acc %.2f%%  test loss %.4f  acc %.2f%%  firing %.3f  %.1f s\n",
                    m.epoch, m.learningRate, m.trainLoss, m.trainAccuracy * 100, m.testLoss, m.testAccuracy * 100,
                    m.firingRate, m.seconds))
        }
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return String(format: "%02d:%02d", s / 60, s % 60)
    }
}
