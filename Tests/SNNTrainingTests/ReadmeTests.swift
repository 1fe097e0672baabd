import Foundation
import SNN
import SNNTestSupport
import Testing

/// The README's library example, verbatim between the markers, so the documentation keeps compiling
/// and keeps working.
@Suite struct ReadmeTests {
    @Test func readmeExampleTrainsAndSaves() throws {
        let directory = temporaryPath("readme")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let previous = FileManager.default.currentDirectoryPath
        _ = FileManager.default.changeCurrentDirectoryPath(directory)
        defer { _ = FileManager.default.changeCurrentDirectoryPath(previous) }
        GlobalRandom.seed(0)

        // --- README begin
        let model = Sequential {
            Conv2d(1, 16, kernelSize: 3, padding: 1, bias: false)
            BatchNorm2d(16)
            LIF(tau: 2, reset: .hard(to: 0), surrogate: .arctangent(alpha: 2))
            MaxPool2d(2)
            Flatten(lastAxes: 3)
            Linear(16 * 4 * 4, 10)
        }
        let train = try Digits.load(.train)
        let loader = DataLoader(train, batchSize: 64, order: .shuffled(seed: 42))
        let optimizer = AdamW(learningRate: 3e-3)
        for epoch in 0..<5 {
            for batch in loader.batches(forEpoch: epoch) {
                let frames = batch.inputs.repeated(4)  // direct encoding: [T = 4, N, 1, 8, 8]
                let (loss, gradients) = valueWithGradient(at: model) { model in
                    crossEntropy(logits: model(frames).mean(alongAxis: 0), labels: batch.labels)
                }
                optimizer.update(model, along: gradients)
                if batch.index == 0 { print("epoch \(epoch): loss \(loss.item)") }
            }
        }
        try model.save(to: "model.safetensors")
        // --- README end

        let test = try Digits.load(.test)
        model.eval()
        let accuracy = SNN.accuracy(logits: model(test.images.repeated(4)).mean(alongAxis: 0), labels: test.labels)
        #expect(accuracy > 0.9, "README example reached \(accuracy)")
        #expect(FileManager.default.fileExists(atPath: directory + "/model.safetensors"))
    }
}
