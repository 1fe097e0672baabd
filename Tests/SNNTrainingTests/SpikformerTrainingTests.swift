import Foundation
import SNN
import SNNTestSupport
import Testing

/// `--model spikformer` on the command line: its options, config.json, resume and evaluate, and the
/// attention firing rates in metrics.jsonl.
@Suite(.serialized) struct SpikformerTrainingTests {
    static let small = [
        "train", "--model", "spikformer", "--embed-dim", "16", "--heads", "2", "--depth", "1",
        "--time-steps", "2", "--batch-size", "32", "--train-samples", "64", "--test-samples", "32",
        "--seed", "3",
    ]

    static func errorLine(_ result: (status: Int32, output: String, error: String)) -> String {
        result.error.split(separator: "\n").first.map(String.init) ?? ""
    }

    static func roundTrip(_ c: TrainingConfiguration) throws -> TrainingConfiguration {
        let data = try JSONSerialization.data(withJSONObject: c.dictionary)
        return try TrainingConfiguration(
            dictionary: JSONSerialization.jsonObject(with: data) as! [String: Any], file: "c.json")
    }

    @Test func configurationRoundTripsThroughJSON() throws {
        var c = TrainingConfiguration()
        c.model = .spikformer
        c.spikformer = SpikformerConfiguration(embedDimension: 32, heads: 2, depth: 3)
        #expect(try Self.roundTrip(c).spikformer == c.spikformer)
        c.spikformer.temporalInteraction = TemporalInteractionConfiguration(
            alpha: 0.4, kernelSize: 3, axis: .features,
            thresholds: .released)
        let back = try Self.roundTrip(c)
        #expect(back.spikformer == c.spikformer && back.model == .spikformer)
        // The model's size is part of the record: without it the run cannot be rebuilt.
        var dictionary = c.dictionary
        dictionary["spikformer"] = nil
        #expect(throws: SNNError.self) { try TrainingConfiguration(dictionary: dictionary, file: "c.json") }
        dictionary["spikformer"] = [
            "embed_dim": 32, "heads": 2, "depth": 1, "mlp_ratio": 4, "attention_scale": 0.25,
            "tim": ["alpha": 0.5, "kernel": 4, "axis": "tokens", "thresholds": [0.3, 0.25]],
        ]
        let error = #expect(throws: SNNError.self) { try TrainingConfiguration(dictionary: dictionary, file: "c.json") }
        #expect(error?.message.contains("--tim-kernel") == true)
        dictionary["spikformer"] = [
            "embed_dim": 32, "heads": 2, "depth": 1, "mlp_ratio": 4, "attention_scale": 0.25,
            "tim": ["alpha": 0.5, "kernel": 5, "axis": "diagonal", "thresholds": [0.3, 0.25]],
        ]
        #expect(throws: SNNError.self) { try TrainingConfiguration(dictionary: dictionary, file: "c.json") }
    }

    @Test func optionErrorsNameTheirFlag() throws {
        let cases: [([String], String)] = [
            (["--model", "spiking-mlp", "--heads", "4"], "--heads"),
            (["--model", "spikformer", "--tim-alpha", "0.3"], "--tim-alpha"),
            (["--model", "spikformer", "--heads", "3"], "--heads"),
            (["--model", "spikformer", "--embed-dim", "4", "--heads", "1"], "--embed-dim"),
            (["--model", "spikformer", "--depth", "0"], "--depth"),
            (["--model", "spikformer", "--tim", "--tim-kernel", "4"], "--tim-kernel"),
            (["--model", "spikformer", "--tim", "--tim-alpha", "nan"], "--tim-alpha"),
            (["--model", "spikformer", "--tim", "--tim-thresholds", "0.3"], "--tim-thresholds"),
            (["--model", "spikformer", "--tim", "--tim-thresholds", "0,0.25"], "--tim-thresholds"),
            (["--model", "spikformer", "--tim", "--tim-axis", "diagonal"], "--tim-axis"),
        ]
        for (flags, named) in cases {
            let r = try runSNN(["train", "--epochs", "1"] + flags)
            #expect(r.status != 0, "\(flags) was accepted")
            #expect(r.error.contains(named), "\(flags): \(Self.errorLine(r))")
        }
        // The released axis needs tokens = D: 8×8 digits give 16 tokens, 32 channels in 4 heads give D = 8.
        let released = try runSNN([
            "train", "--model", "spikformer", "--embed-dim", "32", "--heads", "4", "--tim",
            "--tim-axis", "features", "--epochs", "1", "--output", temporaryPath("released"),
        ])
        #expect(released.status != 0 && Self.errorLine(released).contains("tokens = D"), "\(released.error)")
    }

    /// A run with TIM: config.json holds the size, metrics.jsonl the attention rates, --resume refuses
    /// the Spikformer options and extends the run, and evaluate rebuilds the same model.
    @Test func trainResumeAndEvaluateKeepTheModel() throws {
        let run = temporaryPath("spikformer")
        defer { try? FileManager.default.removeItem(atPath: run) }
        let trained = try runSNN(
            Self.small + ["--tim", "--tim-thresholds", "intended", "--epochs", "1", "--output", run])
        try #require(trained.status == 0, "\(trained.error)")
        let config = try TrainingConfiguration(
            dictionary: try RunDirectory.open(at: run).readConfiguration(), file: run)
        #expect(
            config.spikformer
                == SpikformerConfiguration(
                    embedDimension: 16, heads: 2, depth: 1,
                    temporalInteraction: .init(thresholds: .intended)))
        // Spikformer's neuron defaults (METHODS.md §5) apply when no neuron option is given.
        #expect(config.neuron.threshold == 0.5 && config.neuron.surrogate == .sigmoid(alpha: 4))
        let metrics = try RunDirectory.open(at: run).readMetrics()
        let rates = try #require(metrics.first?["firing_rates"] as? [String: Any])
        #expect(Set(rates.keys) == ["blocks.0.q", "blocks.0.q_tim", "blocks.0.attention"])
        for flags in [["--tim"], ["--embed-dim", "32"], ["--tim-axis", "tokens"]] {
            let refused = try runSNN(["train", "--resume", run] + flags)
            #expect(refused.status != 0 && Self.errorLine(refused).contains(flags[0]), "\(refused.error)")
        }
        let resumed = try runSNN(["train", "--resume", run, "--epochs", "2", "--json"])
        try #require(resumed.status == 0, "\(resumed.error)")
        let summary =
            try JSONSerialization.jsonObject(with: Data(resumed.output.split(separator: "\n").last!.utf8))
            as! [String: Any]
        let evaluated = try runSNN(["evaluate", "--run", run, "--checkpoint", "last", "--json"])
        try #require(evaluated.status == 0, "\(evaluated.error)")
        let result =
            try JSONSerialization.jsonObject(with: Data(evaluated.output.split(separator: "\n").last!.utf8))
            as! [String: Any]
        #expect(
            (result["test_accuracy"] as! NSNumber).doubleValue == (summary["test_accuracy"] as! NSNumber).doubleValue)
        let layers = try #require(result["firing_rates"] as? [String: Any])
        #expect(layers["blocks.0.attention.temporalInteraction"] != nil)
    }
    /// A new Spikformer run without --learning-rate starts from 0.08 (docs/design-notes.md), an
    /// explicit flag wins, other models keep 0.02, and the value resolved is the one config.json
    /// records, so --resume and evaluate never see the default again.
    @Test func spikformerLearningRateDefaultsOnlyWhenNotGiven() throws {
        #expect(TrainingConfiguration.defaultLearningRate(for: .spikformer) == 0.08)
        #expect(TrainingConfiguration.defaultLearningRate(for: .spikingCNN) == 0.02)
        func recorded(_ flags: [String]) throws -> Float {
            let run = temporaryPath("spikformer-lr")
            defer { try? FileManager.default.removeItem(atPath: run) }
            let r = try runSNN(flags + ["--epochs", "1", "--output", run])
            try #require(r.status == 0, "\(r.error)")
            let dictionary = try RunDirectory.open(at: run).readConfiguration()
            return try TrainingConfiguration(dictionary: dictionary, file: run).learningRate
        }
        #expect(try recorded(Self.small) == 0.08)
        #expect(try recorded(Self.small + ["--learning-rate", "0.02"]) == 0.02)
        #expect(
            try recorded([
                "train", "--model", "spiking-mlp", "--widths", "16", "--time-steps", "2",
                "--train-samples", "64", "--test-samples", "32",
            ]) == 0.02)
        // A config.json written before the Spikformer default existed keeps its own rate.
        var old = TrainingConfiguration()
        old.model = .spikformer
        old.learningRate = 0.02
        #expect(try Self.roundTrip(old).learningRate == 0.02)
    }

    /// --encoding speech-grid: only for speech sets, and a padded placement refuses more than 512
    /// channels per step with the flag named.
    @Test func speechGridEncodingIsCheckedAtTheBoundary() throws {
        var c = TrainingConfiguration()
        c.encoding = .speechGrid
        let digits = #expect(throws: SNNError.self) { try c.validate() }
        #expect(digits?.message.contains("--encoding speech-grid is for the speech data sets") == true)
        c.dataset = .fsddMFCC
        c.model = .spikformer
        c.spikformer = SpikformerConfiguration(embedDimension: 16, heads: 2, depth: 1)
        c.timeSteps = 32
        try c.validate()
        #expect(c.resolvedEncoding == .speechGrid(.padded))
        try c.validate(sampleShape: [1, 32, 13], trainSamples: 10, testSamples: 10)
        let wide = #expect(throws: SNNError.self) {
            try c.validate(sampleShape: [1, 32, 600], trainSamples: 10, testSamples: 10)
        }
        #expect(wide?.message.contains("--encoding speech-grid on fsdd-mfcc") == true)
        #expect(wide?.message.contains("600 channels per step do not fit") == true)
        c.dataset = .shd
        c.timeSteps = 8
        #expect(c.resolvedEncoding == .speechGrid(.resampled))
        try c.validate(sampleShape: [8, 700], trainSamples: 10, testSamples: 10)
        #expect(c.modelConfiguration(inputShape: [8, 700], classes: 20).inputShape == [2, 16, 16])
    }
}
