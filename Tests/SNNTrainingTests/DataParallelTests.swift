import Foundation
import SNN
@testable import SNNTensor
@testable import SNNTraining
import SNNTestSupport
import Testing

/// What of data-parallel training runs in one process: launcher detection, the thread share, the
/// configuration field, the command line's refusals and a one-rank MPI run. The equivalence of 2
/// ranks × b and 1 × 2b, and rank death, run under mpirun in scripts/test-mpi.sh.
@Suite(.serialized) struct DataParallelTests {
    @Test func launcherSizeComesFromOpenMPIOrPMI() {
        #expect(Communicator.launcherWorldSize(environment: [:]) == nil)
        #expect(Communicator.launcherWorldSize(environment: ["OMPI_COMM_WORLD_SIZE": "4"]) == 4)
        #expect(Communicator.launcherWorldSize(environment: ["PMI_SIZE": "3"]) == 3)
        #expect(Communicator.launcherWorldSize(environment: ["OMPI_COMM_WORLD_SIZE": "2", "PMI_SIZE": "8"]) == 2)
        #expect(Communicator.launcherWorldSize(environment: ["PMI_SIZE": "0"]) == nil)
        #expect(Communicator.launcherWorldSize(environment: ["PMI_SIZE": "two"]) == nil)
    }

    /// Ranks on one machine share its cores; SNN_THREADS still decides when set.
    @Test func ranksOnOneMachineShareTheCores() {
        let cores = max(1, ProcessInfo.processInfo.activeProcessorCount)
        #expect(Parallelism.defaultThreadCount(environment: [:]) == cores)
        #expect(Parallelism.defaultThreadCount(environment: ["OMPI_COMM_WORLD_LOCAL_SIZE": "2"]) == max(1, cores / 2))
        #expect(Parallelism.defaultThreadCount(environment: ["MPI_LOCALNRANKS": "64"]) == max(1, cores / 64))
        #expect(
            Parallelism.defaultThreadCount(environment: ["OMPI_COMM_WORLD_LOCAL_SIZE": "2", "SNN_THREADS": "3"]) == 3)
    }

    /// `sync_batch_norm` is written when on and read back; files from before it load with it off.
    @Test func synchronizedBatchNormIsPartOfTheConfiguration() throws {
        var c = TrainingConfiguration()
        #expect(c.dictionary["sync_batch_norm"] == nil)
        let old = try TrainingConfiguration(dictionary: c.dictionary, file: "config.json")
        #expect(!old.synchronizedBatchNorm)
        c.synchronizedBatchNorm = true
        #expect(c.dictionary["sync_batch_norm"] as? Bool == true)
        #expect(try TrainingConfiguration(dictionary: c.dictionary, file: "config.json").synchronizedBatchNorm)
        var bad = c.dictionary
        bad["sync_batch_norm"] = "yes"
        #expect(throws: SNNError.self) { try TrainingConfiguration(dictionary: bad, file: "config.json") }
    }

    /// A transfer run resumed under a launcher reaches the library without --transfer-from: refused
    /// there, since its alignment sums are not reduced over the ranks.
    @Test func transferRunsAreRefusedDataParallel() throws {
        var c = TrainingConfiguration()
        try Trainer.checkDataParallel(c)
        c.transfer = TransferOptions(source: .digits)
        let error = #expect(throws: SNNError.self) { try Trainer.checkDataParallel(c) }
        #expect(error?.code == .unsupported && error?.message.contains("does not run data-parallel") == true)
        #expect(try Trainer.dataParallel(c, communicator: nil) == nil)
    }

    @Test func commandLineRefusesWhatCannotRunDataParallel() throws {
        let small = ["train", "--model", "spiking-mlp", "--widths", "16", "--epochs", "1"]
        let sync = try runSNN(small + ["--sync-batch-norm"])
        #expect(sync.status != 0)
        #expect(sync.error.contains("--sync-batch-norm needs --distributed"))
        let resumed = try runSNN(["train", "--resume", temporaryPath("none"), "--sync-batch-norm", "--distributed"])
        #expect(resumed.status != 0)
        #expect(resumed.error.contains("--sync-batch-norm"))
        let transfer = try runSNN(small + ["--transfer-from", "digits", "--distributed"])
        #expect(transfer.status != 0)
        #expect(transfer.error.contains("--transfer-from does not run data-parallel"))
    }

    /// A checkpoint taken within an epoch counts steps in global batches of its rank count, so it
    /// resumes only on that count; at the count it was made with it resumes as before.
    @Test func aRunStoppedWithinAnEpochResumesOnItsOwnRankCount() throws {
        var c = TrainingConfiguration()
        c.model = .spikingMLP
        c.widths = [16]
        c.timeSteps = 2
        c.epochs = 2
        c.batchSize = 32
        c.trainSamples = 160
        c.testSamples = 20
        let directory = temporaryPath("within-epoch")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {  // the trainer holds the run directory's lock until it goes
            let first = try Trainer(configuration: c, directory: directory)
            var steps = 0
            first.shouldStop = {
                steps += 1
                return steps == 3
            }
            #expect(throws: SNNError.self) { try first.run() }
        }
        // As if those steps had been taken by 2 ranks.
        var config = try AtomicFile.readJSON(directory + "/config.json")
        config["world_size"] = 2
        try AtomicFile.writeJSON(config, to: directory + "/config.json")
        let refused = #expect(throws: SNNError.self) { try Trainer(resuming: directory) }
        #expect(refused?.message.contains("stopped within epoch 1 on 2 rank(s); resume it on 2 rank(s)") == true)
        config["world_size"] = 1
        try AtomicFile.writeJSON(config, to: directory + "/config.json")
        #expect(try Trainer(resuming: directory).run().epochs == 2)
    }

    /// `snn train --distributed` outside a launcher is a job of one rank (an MPI singleton): it must
    /// train exactly as without the flag — the same weights, optimizer state and metrics — and say
    /// "world_size": 1. Skipped where no MPI library can be loaded.
    @Test(.enabled(if: Communicator.isAvailable, "no MPI library (libmpi.so.40) here"))
    func oneRankRunEqualsTheUndistributedRun() throws {
        let arguments = [
            "train", "--model", "spiking-cnn", "--widths", "8", "--time-steps", "2", "--epochs", "2",
            "--train-samples", "150", "--test-samples", "40", "--batch-size", "32", "--seed", "5",
            "--learning-rate", "0.5", "--json",
        ]
        let plain = temporaryPath("plain"), distributed = temporaryPath("distributed")
        defer {
            try? FileManager.default.removeItem(atPath: plain)
            try? FileManager.default.removeItem(atPath: distributed)
        }
        let a = try runSNN(arguments + ["--output", plain])
        let b = try runSNN(arguments + ["--output", distributed, "--distributed"])
        #expect(a.status == 0 && b.status == 0, "\(a.error)\n\(b.error)")
        #expect(b.output.contains("\"world_size\":1"))
        for file in ["last.safetensors", "last.optimizer.safetensors", "best.safetensors"] {
            let x = try SafeTensors.read(contentsOf: plain + "/" + file)
            let y = try SafeTensors.read(contentsOf: distributed + "/" + file)
            #expect(x.entries == y.entries, "\(file)")
        }
        func withoutTimes(_ path: String) throws -> [[String: String]] {
            try RunDirectory.open(at: path).readMetrics().map { line in
                line.filter { $0.key != "seconds" }.mapValues { "\($0)" }
            }
        }
        #expect(try withoutTimes(plain) == withoutTimes(distributed))
        let config = try AtomicFile.readJSON(distributed + "/config.json")
        #expect((config["world_size"] as? NSNumber)?.intValue == 1)
    }
}
