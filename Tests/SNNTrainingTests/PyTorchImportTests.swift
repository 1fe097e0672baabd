import Foundation
import SNN
import SNNTestSupport
import Testing

/// A SpikingJelly state_dict of the twin of `--model spiking-cnn` gives SpikingJelly's logits here,
/// through the layer-name table, and a file that does not fit is an error naming the PyTorch key.
@Suite(.serialized) struct PyTorchImportTests {
    static let fixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
        .appendingPathComponent("pytorch")
    static let stateFile = fixtures.appendingPathComponent("spikingjelly_cnn.safetensors").path

    /// The zoo model the fixture is the twin of: spiking-cnn, widths 8 and 16, 1×8×8 input, 10 classes.
    static func model() -> Sequential {
        let configuration = ModelConfiguration(
            name: .spikingCNN, inputShape: [1, 8, 8], classes: 10, widths: [8, 16])
        return configuration.make() as! Sequential
    }

    @Test func spikingJellyStateDictGivesSpikingJellyLogits() throws {
        let model = Self.model()
        let file = try SafeTensors.read(contentsOf: Self.stateFile)
        let state = try PyTorchWeights.stateDictionary(
            file.tensors, framework: .spikingjelly, model: .spikingCNN, module: model, file: Self.stateFile)
        try model.load(stateDictionary: state, strict: true)
        model.eval()
        let fixture = try JSONFixture(url: Self.fixtures.appendingPathComponent("spikingjelly_cnn_logits.json"))
        let input = fixture.tensor("input", shape: fixture.ints("input_shape"))
        let expected = fixture.tensor("logits", shape: fixture.ints("logits_shape"))
        let logits = model(input)
        #expect(logits.shape == expected.shape)
        let difference = zip(logits.scalars, expected.scalars).map { abs($0 - $1) }.max() ?? .infinity
        #expect(difference < 1e-4, "largest difference \(difference)")
        // The batch norm statistics came from the file, not from the fresh model.
        #expect(state["1.runningMean"]?.scalars == file.tensors["1.running_mean"]?.scalars)
    }

    @Test func keysAndShapesThatDoNotFitAreNamed() throws {
        let file = try SafeTensors.read(contentsOf: Self.stateFile)
        func error(_ tensors: [String: Tensor], model: Module = Self.model()) -> String? {
            do {
                _ = try PyTorchWeights.stateDictionary(
                    tensors, framework: .spikingjelly, model: .spikingCNN, module: model, file: "sd.safetensors")
                return nil
            } catch { return error.message }
        }
        var renamed = file.tensors
        renamed["features.0.weight"] = renamed.removeValue(forKey: "0.weight")
        #expect(error(renamed)?.hasPrefix("key \"features.0.weight\" has no counterpart") == true)
        var missing = file.tensors
        missing.removeValue(forKey: "5.running_var")
        #expect(error(missing) == "missing key \"5.running_var\" (spiking-cnn's 5.runningVariance)")
        let wider = ModelConfiguration(name: .spikingCNN, inputShape: [1, 8, 8], classes: 10, widths: [8, 32]).make()
        #expect(error(file.tensors, model: wider)?.hasPrefix("key \"4.weight\" has shape [16, 8, 3, 3]") == true)
    }

    @Test func importedRunEvaluatesWithTheFileWeights() throws {
        let run = temporaryPath("sj-import")
        defer { try? FileManager.default.removeItem(atPath: run) }
        let imported = try runSNN([
            "import", Self.stateFile, "--from", "spikingjelly", "--model", "spiking-cnn", "--widths", "8,16",
            "--output", run,
        ])
        try #require(imported.status == 0, "\(imported.error)")
        let saved = try SafeTensors.read(contentsOf: run + "/best.safetensors").tensors
        let file = try SafeTensors.read(contentsOf: Self.stateFile).tensors
        #expect(saved["9.weight"]?.scalars == file["9.weight"]?.scalars)
        #expect(saved["5.runningVariance"]?.scalars == file["5.running_var"]?.scalars)
        let evaluated = try runSNN(["evaluate", "--run", run, "--json"])
        #expect(evaluated.status == 0, "\(evaluated.error)")

        // A wrong twin is one line naming the key, and leaves no run directory.
        let other = temporaryPath("sj-import-wrong")
        let wrong = try runSNN([
            "import", Self.stateFile, "--from", "spikingjelly", "--model", "spiking-cnn", "--output", other,
        ])
        #expect(wrong.status != 0)
        #expect(wrong.error.contains("key \"0.weight\" has shape [8, 1, 3, 3]"), "\(wrong.error)")
        #expect(!FileManager.default.fileExists(atPath: other))
        let nirOptions = try runSNN(["import", Self.stateFile, "--model", "spiking-cnn", "--output", other])
        #expect(nirOptions.status != 0)
        #expect(nirOptions.error.contains("for --from spikingjelly"), "\(nirOptions.error)")
    }
}

/// An snnTorch state_dict of the spiking-cnn twin (snn.Leaky, reset to zero) gives snnTorch's logits;
/// its neuron constants come from the file, and a subtracting reset is refused by key.
@Suite(.serialized) struct SnnTorchImportTests {
    static let stateFile = PyTorchImportTests.fixtures.appendingPathComponent("snntorch_cnn.safetensors").path

    @Test func snnTorchStateDictGivesSnnTorchLogits() throws {
        let file = try SafeTensors.read(contentsOf: Self.stateFile)
        let neuron = try #require(try PyTorchWeights.snnTorchNeuron(file.tensors, file: Self.stateFile))
        #expect(neuron.tau == 2 && neuron.threshold == 1 && neuron.reset == .hard(to: 0) && !neuron.decayInput)
        let model =
            ModelConfiguration(name: .spikingCNN, inputShape: [1, 8, 8], classes: 10, neuron: neuron, widths: [8, 16])
            .make() as! Sequential
        let state = try PyTorchWeights.stateDictionary(
            file.tensors, framework: .snntorch, model: .spikingCNN, module: model, file: Self.stateFile)
        try model.load(stateDictionary: state, strict: true)
        model.eval()
        let fixture = try JSONFixture(
            url: PyTorchImportTests.fixtures.appendingPathComponent("snntorch_cnn_logits.json"))
        let expected = fixture.tensor("logits", shape: fixture.ints("logits_shape"))
        let logits = model(fixture.tensor("input", shape: fixture.ints("input_shape")))
        #expect(logits.shape == expected.shape)
        let difference = zip(logits.scalars, expected.scalars).map { abs($0 - $1) }.max() ?? .infinity
        #expect(difference < 1e-4, "largest difference \(difference)")
    }

    @Test func subtractingResetIsRefusedByKey() throws {
        var tensors = try SafeTensors.read(contentsOf: Self.stateFile).tensors
        tensors["6.reset_mechanism_val"] = Tensor([0])
        let error = #expect(throws: SNNError.self) { try PyTorchWeights.snnTorchNeuron(tensors, file: "s.safetensors") }
        #expect(error?.message.hasPrefix("key \"6.reset_mechanism_val\" = 0 (subtract)") == true)
        tensors["6.reset_mechanism_val"] = Tensor([1])
        tensors["6.beta"] = Tensor([0.9])
        let differing = #expect(throws: SNNError.self) {
            try PyTorchWeights.snnTorchNeuron(tensors, file: "s.safetensors")
        }
        #expect(differing?.message.contains("differ from \"2.beta\"'s") == true)
        let run = temporaryPath("snntorch-import")
        defer { try? FileManager.default.removeItem(atPath: run) }
        let imported = try runSNN([
            "import", Self.stateFile, "--from", "snntorch", "--model", "spiking-cnn", "--widths", "8,16",
            "--output", run,
        ])
        try #require(imported.status == 0, "\(imported.error)")
        let config = try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: run + "/config.json")))
        let neuron = (config as? [String: Any])?["neuron"] as? [String: Any]
        #expect(neuron?["tau"] as? Double == 2)
        #expect(neuron?["decay_input"] as? Bool == false)
        let refused = try runSNN([
            "import", Self.stateFile, "--from", "snntorch", "--model", "spiking-cnn", "--tau", "3", "--output",
            run + "x",
        ])
        #expect(refused.status != 0)
        #expect(
            refused.error.contains("--tau: an snnTorch state_dict holds its neurons' constants"), "\(refused.error)")
    }
}
