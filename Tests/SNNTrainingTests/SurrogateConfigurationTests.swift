import Foundation
import SNN
import SNNTestSupport
import Testing

/// The PSU family takes the configured surrogate: kept by config.json, used by the layers, and only
/// the arctangent's α is trained.
@Suite struct ParallelUnitSurrogateConfigurationTests {
    @Test(arguments: [SurrogateChoice.qgate(alpha: 2), .arctangent(alpha: 2), .erf(alpha: 3)])
    func configurationKeepsTheSurrogateOfThePSUFamily(_ surrogate: SurrogateChoice) throws {
        var c = TrainingConfiguration()
        c.model = .spikingMLP
        c.widths = [24]
        c.timeSteps = 3
        c.epochs = 1
        c.batchSize = 64
        c.learningRate = 0.5
        c.trainSamples = 200
        c.warmupEpochs = 0
        c.neuron.kind = .rpsu
        c.neuron.threshold = 0.5
        c.neuron.surrogate = surrogate
        try c.validate()
        let data = try JSONSerialization.data(withJSONObject: c.dictionary)
        let back = try TrainingConfiguration(
            dictionary: JSONSerialization.jsonObject(with: data) as! [String: Any], file: "c.json")
        #expect(back == c && back.neuron.surrogate == surrogate)
        // A trained run: the layers carry the surrogate; α moves only where it is learned (arctangent).
        let directory = temporaryPath("psu-surrogate")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let trainer = try Trainer(configuration: back, directory: directory)
        _ = try trainer.run()
        let units = trainer.model.namedModules().compactMap { $0.1 as? ParallelSpikingUnit }
        try #require(units.count == 1)
        #expect(units[0].surrogate.name == surrogate.name && units[0].learnsAlpha == (surrogate.name == "arctangent"))
        #expect((units[0].alpha.item != surrogate.alpha) == units[0].learnsAlpha, "α = \(units[0].alpha.item)")
    }
}
