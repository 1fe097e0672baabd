import Foundation
import SNN
import SNNTestSupport
import Testing

/// NIR export and import: a graph written by Python's `nir` runs here as SpikingJelly runs it, our
/// graphs are read by Python's `nir` with the parameters we wrote, a run survives export → import
/// with its accuracy, and damaged or foreign files are clear errors.
@Suite(.serialized) struct NIRTests {
    static let fixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("nir")

    /// The imported network of a graph, with its weights loaded.
    static func imported(_ graph: NIRGraph, file: String = "graph.nir") throws -> (ImportedNetwork, Sequential) {
        let (network, weights, _) = try NIRConversion.network(from: graph, file: file)
        let model = network.make(neuron: NeuronConfiguration())
        var state = weights
        for (path, tensor) in model.stateDictionary() where tensor.count == 0 { state[path] = tensor }
        try model.load(stateDictionary: state, strict: true)
        model.eval()
        return (network, model)
    }

    @Test func pythonGraphGivesSpikingJellySpikes() throws {
        // lif_net.nir: Conv2d → LIF (decayed input) → AvgPool2d → Flatten → Affine → IF → Linear → LIF
        // (undecayed input, reset 0.2), written by nir 1.0.8; the spikes are SpikingJelly's, run
        // through its own NIR importer (make_fixture.py).
        let graph = try NIRGraph.read(Self.fixtures.appendingPathComponent("lif_net.nir").path)
        let (network, model) = try Self.imported(graph)
        #expect(
            network.layers == [
                .conv2d(
                    inChannels: 1, outChannels: 4, kernel: [3, 3], stride: [1, 1], padding: [1, 1], dilation: [1, 1],
                    groups: 1, bias: true),
                .leakyIntegrateAndFire(tau: 2, threshold: 1, resetPotential: 0, decayInput: true),
                .avgPool2d(kernel: [2, 2], stride: [2, 2], padding: [0, 0]), .flatten(startAxis: 2),
                .linear(inFeatures: 36, outFeatures: 10, bias: true),
                .integrateAndFire(threshold: 0.5, resetPotential: 0),
                .linear(inFeatures: 10, outFeatures: 5, bias: false),
                .leakyIntegrateAndFire(tau: 3, threshold: 0.8, resetPotential: 0.2, decayInput: false),
            ])
        let fixture = try JSONFixture(url: Self.fixtures.appendingPathComponent("lif_net_spikes.json"))
        let input = fixture.tensor("input", shape: fixture.ints("input_shape"))
        let expected = fixture.tensor("spikes", shape: fixture.ints("spikes_shape"))
        let spikes = model(input)
        #expect(spikes.shape == expected.shape)
        #expect(spikes.scalars == expected.scalars)
    }

    /// A model with every exported layer kind and batch norms with running statistics.
    static func model() -> Sequential {
        GlobalRandom.withSeed(11) {
            let conv = Conv2d(2, 3, kernelSize: 3, padding: 1, bias: false)
            let bn2 = BatchNorm2d(3), bn1 = BatchNorm1d(8)
            var generator = RandomGenerator(seed: 12)
            for (bn, n) in [(bn2 as BatchNorm, 3), (bn1, 8)] {
                bn.weight = Tensor.randomUniform([n], lower: 0.5, upper: 1.5, using: &generator)
                bn.bias = Tensor.randomUniform([n], lower: -0.2, upper: 0.4, using: &generator)
                bn.runningMean = Tensor.randomUniform([n], lower: -0.3, upper: 0.3, using: &generator)
                bn.runningVariance = Tensor.randomUniform([n], lower: 0.5, upper: 2, using: &generator)
            }
            return Sequential([
                conv, bn2, LIF(tau: 2.5, threshold: 0.7, surrogate: .arctangent()), AvgPool2d(2), Flatten(lastAxes: 3),
                Linear(12, 8, bias: false), bn1, IF(threshold: 0.6, surrogate: .arctangent()),
                Dropout(probability: 0.3), Linear(8, 4),
            ])
        }
    }

    @Test func exportThenImportComputesWhatTheModelComputes() throws {
        // Batch norm is folded into the conv and Linear before it; the imported chain must give the
        // original model's logits (inference mode), spikes included.
        let model = Self.model()
        model.eval()
        let graph = try NIRConversion.graph(of: model, inputShape: [2, 4, 4], timeSteps: 5)
        #expect(
            graph.edges.map { [$0.source, $0.target] } == [
                ["input", "0"], ["0", "2"], ["2", "3"], ["3", "4"], ["4", "5"], ["5", "7"], ["7", "9"],
                ["9", "output"],
            ])
        let path = temporaryPath("export") + ".nir"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try graph.write(to: path)
        let read = try NIRGraph.read(path)
        #expect(read == graph)
        let (_, imported) = try Self.imported(read)
        var generator = RandomGenerator(seed: 3)
        let input = Tensor.randomUniform([5, 6, 2, 4, 4], lower: 0, upper: 2, using: &generator)
        let expected = model(input), got = imported(input)
        #expect(got.shape == expected.shape)
        let difference = zip(got.scalars, expected.scalars).map { abs($0 - $1) }.max() ?? .infinity
        #expect(difference < 1e-4, "largest difference \(difference)")
    }

    @Test func exportRefusesLayersWithoutANIRNode() throws {
        let pooled = Sequential([Conv2d(1, 2, kernelSize: 3), MaxPool2d(2), Flatten(lastAxes: 3), Linear(2, 2)])
        let error = #expect(throws: SNNError.self) {
            try NIRConversion.graph(of: pooled, inputShape: [1, 4, 4], timeSteps: 1)
        }
        #expect(error?.message.hasPrefix("layer 1 (MaxPool2d)") == true, "\(String(describing: error))")
        let soft = Sequential([Linear(3, 2), LIF(reset: .soft, surrogate: .arctangent())])
        let softError = #expect(throws: SNNError.self) {
            try NIRConversion.graph(of: soft, inputShape: [3], timeSteps: 1)
        }
        #expect(softError?.message.contains("soft reset") == true)
        let psn = Sequential([Linear(3, 2), PSN(timeSteps: 4, surrogate: .arctangent())])
        let psnError = #expect(throws: SNNError.self) {
            try NIRConversion.graph(of: psn, inputShape: [3], timeSteps: 4)
        }
        #expect(psnError?.message.hasPrefix("layer 1 (PSN") == true, "\(String(describing: psnError))")
    }

    @Test(
        .enabled(
            if: ProcessInfo.processInfo.environment["SNN_PYTHON"] != nil,
            "set SNN_PYTHON to a Python with nir, h5py and numpy installed (scripts/test-python.sh makes one)"))
    func pythonNIRReadsOurExport() throws {
        let model = Self.model()
        let graph = try NIRConversion.graph(of: model, inputShape: [2, 4, 4], timeSteps: 5)
        let path = temporaryPath("export-python") + ".nir"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try graph.write(to: path)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ProcessInfo.processInfo.environment["SNN_PYTHON"]!)
        process.arguments = [Self.fixtures.appendingPathComponent("make_fixture.py").path, "--dump", path]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "nir.read failed:\n\(errors)")
        let dump = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let nodes = try #require(dump["nodes"] as? [String: [String: Any]])
        #expect(Set(nodes.keys) == Set(graph.nodes.keys))
        // Every node's type, and every numeric field as Python reads it, value for value.
        for (name, node) in graph.nodes {
            let python = try #require(nodes[name])
            #expect(python["type"] as? String == node.typeName, "\(name)")
            let fields = try #require(python["fields"] as? [String: [String: Any]])
            let ours = graph.objects.filter { $0.path.hasPrefix("node/nodes/\(name)/") }
            for (path, dataset) in ours {
                let field = String(path.split(separator: "/").last!)
                if field == "type" { continue }
                // nir keeps Input/Output shapes and Flatten's input type as its own input/output types.
                let key = ["shape", "input_type"].contains(field) ? nil : field
                guard let key else { continue }
                let strings = try #require(fields[key]?["values"] as? [String], "\(name).\(key) missing in Python")
                let values = strings.compactMap(Double.init)
                switch dataset {
                case .float32(let shape, let v):
                    #expect(fields[key]?["shape"] as? [Int] == shape, "\(name).\(key)")
                    #expect(values == v.map(Double.init), "\(name).\(key)")
                case .float64(let shape, let v):
                    #expect(fields[key]?["shape"] as? [Int] == shape, "\(name).\(key)")
                    #expect(values == v, "\(name).\(key)")
                case .int64(_, let v): #expect(values == v.map(Double.init), "\(name).\(key)")
                default: Issue.record("\(name).\(key): unexpected dataset")
                }
            }
        }
        let edges = (dump["edges"] as? [[String]]) ?? []
        #expect(edges == graph.edges.map { [$0.source, $0.target] }.sorted { $0.lexicographicallyPrecedes($1) })
        #expect((dump["metadata"] as? [String: Any])?["dt"] as? Double == 1e-4)
    }

    @Test func exportImportEvaluateKeepsTheAccuracy() throws {
        let run = temporaryPath("nir-trained"), file = temporaryPath("nir-model") + ".nir"
        let back = temporaryPath("nir-imported")
        defer { for p in [run, file, back] { try? FileManager.default.removeItem(atPath: p) } }
        let trained = try runSNN([
            "train", "--model", "spiking-mlp", "--widths", "32", "--time-steps", "3", "--epochs", "2",
            "--batch-size", "64", "--seed", "7", "--learning-rate", "0.5", "--output", run, "--json",
        ])
        try #require(trained.status == 0, "\(trained.error)")
        let exported = try runSNN(["export", "--run", run, "--format", "nir", "--output", file])
        try #require(exported.status == 0, "\(exported.error)")
        let imported = try runSNN(["import", file, "--output", back, "--dataset", "digits"])
        try #require(imported.status == 0, "\(imported.error)")
        func accuracy(_ directory: String) throws -> Double? {
            let result = try runSNN(["evaluate", "--run", directory, "--json"])
            guard result.status == 0 else { Issue.record("\(result.error)"); return nil }
            let object = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
            return object?["test_accuracy"] as? Double
        }
        let before = try #require(try accuracy(run)), after = try #require(try accuracy(back))
        #expect(before == after)
        #expect(before > 0.5, "the trained model should be better than chance, got \(before)")
        let importedConfig = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: back + "/config.json")))
                as? [String: Any])
        #expect(importedConfig["model"] as? String == "imported")
        #expect(importedConfig["time_steps"] as? Int == 3)
    }

    // MARK: Bad input

    @Test func truncatedForeignAndUnknownFilesAreClearErrors() throws {
        let directory = temporaryPath("nir-bad")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let good = try Data(contentsOf: Self.fixtures.appendingPathComponent("lif_net.nir"))

        for cut in [4, 100, 2000, good.count / 2, good.count - 100] {
            let path = directory + "/cut-\(cut).nir"
            try good.prefix(cut).write(to: URL(fileURLWithPath: path))
            let error = #expect(throws: SNNError.self) { try NIRGraph.read(path) }
            #expect(error?.code == .corrupt, "\(cut): \(String(describing: error))")
            #expect(error?.file == path)
        }

        let text = directory + "/text.nir"
        try Data("not a graph\n".utf8).write(to: URL(fileURLWithPath: text))
        let textError = #expect(throws: SNNError.self) { try NIRGraph.read(text) }
        #expect(textError?.message.contains("not an HDF5 file") == true, "\(String(describing: textError))")

        // An HDF5 file that is no NIR graph (the layout of SHD).
        let foreign = directory + "/foreign.nir"
        try HDF5Tree.write(
            [("labels", .int64(shape: [2], values: [0, 1])), ("spikes", .group)], to: foreign)
        let foreignError = #expect(throws: SNNError.self) { try NIRGraph.read(foreign) }
        #expect(foreignError?.message.contains("not a NIR graph") == true, "\(String(describing: foreignError))")

        // A node type snn does not read, named with the node.
        var objects = NIRGraph(
            nodes: [
                "input": .input(shape: [2]), "d": .linear(weight: Tensor(zeros: [2, 2])), "output": .output(shape: [2]),
            ],
            edges: [("input", "d"), ("d", "output")]
        ).objects
        let index = try #require(objects.firstIndex { $0.path == "node/nodes/d/type" })
        objects[index].dataset = .strings(shape: [], values: ["Delay"])
        let unknown = directory + "/unknown.nir"
        try HDF5Tree.write(objects, to: unknown)
        let unknownError = #expect(throws: SNNError.self) { try NIRGraph.read(unknown) }
        #expect(unknownError?.code == .unsupported)
        #expect(unknownError?.message.hasPrefix("node \"d\" has the NIR type \"Delay\"") == true)

        // A valid graph whose input does not fit the data set (lif_net takes 1×6×6, digits are 1×8×8).
        let fixture = Self.fixtures.appendingPathComponent("lif_net.nir").path
        let misfit = try runSNN(["import", fixture, "--output", directory + "/misfit", "--dataset", "digits"])
        #expect(misfit.status != 0)
        #expect(
            misfit.error.contains("\(fixture): the imported network takes per-step input [1, 6, 6]"), "\(misfit.error)")
        #expect(!FileManager.default.fileExists(atPath: directory + "/misfit"))

        // The command line: one line, a non-zero exit, no run directory left behind.
        for bad in [directory + "/cut-2000.nir", text, foreign, unknown] {
            let out = directory + "/run-\(UUID().uuidString)"
            let result = try runSNN(["import", bad, "--output", out])
            #expect(result.status != 0)
            #expect(result.error.contains(bad), "\(result.error)")
            #expect(!result.error.contains("Fatal error"))
            #expect(!FileManager.default.fileExists(atPath: out))
        }
    }

    @Test func graphsSnnCannotRunAreRefusedByNode() throws {
        func refusal(_ nodes: [String: NIRGraph.Node], _ chain: [String]) -> String? {
            let graph = NIRGraph(nodes: nodes, edges: zip(chain, chain.dropFirst()).map { ($0, $1) })
            do {
                _ = try NIRConversion.network(from: graph, file: "g.nir")
                return nil
            } catch { return error.message }
        }
        let io: [String: NIRGraph.Node] = ["in": .input(shape: [3]), "out": .output(shape: [3])]
        func with(_ node: NIRGraph.Node) -> [String: NIRGraph.Node] { io.merging(["n": node]) { $1 } }
        let ones = [Double](repeating: 1, count: 3), zeros = [Double](repeating: 0, count: 3)
        let cuba = NIRGraph.Node.currentBasedLIF(
            shape: [3], tauSynapse: ones, tauMembrane: ones, r: ones, leak: zeros, threshold: ones, reset: zeros,
            inputWeight: ones)
        #expect(refusal(with(cuba), ["in", "n", "out"])?.contains("node \"n\" (CubaLIF)") == true)
        let mixed = NIRGraph.Node.leakyIntegrateAndFire(
            shape: [3], tau: [2e-4, 3e-4, 2e-4], r: ones, leak: zeros, threshold: ones, reset: zeros)
        #expect(refusal(with(mixed), ["in", "n", "out"])?.contains("tau differs between neurons") == true)
        let scaled = NIRGraph.Node.leakyIntegrateAndFire(
            shape: [3], tau: [Double](repeating: 2e-4, count: 3), r: [Double](repeating: 7, count: 3), leak: zeros,
            threshold: ones,
            reset: zeros)
        #expect(refusal(with(scaled), ["in", "n", "out"])?.contains("r = 7") == true)
        let ifScaled = NIRGraph.Node.integrateAndFire(shape: [3], r: ones, threshold: ones, reset: zeros)
        #expect(refusal(with(ifScaled), ["in", "n", "out"])?.contains("r = 1/dt") == true)
        let wide = NIRGraph.Node.affine(weight: Tensor(zeros: [2, 4]), bias: Tensor(zeros: [2]))
        #expect(refusal(with(wide), ["in", "n", "out"])?.contains("Linear(4 → 2) gets input of shape [3]") == true)
        #expect(refusal(with(wide), ["in", "out"])?.contains("off the input-to-output chain: n") == true)
    }
}
