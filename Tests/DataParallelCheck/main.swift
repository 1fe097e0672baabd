// The data-parallel equivalence check: run under `mpirun -np 2` by scripts/test-mpi.sh (MPI needs its
// launcher, so this cannot live inside `swift test`). Two ranks with batch b must end with the
// parameters one process reaches with batch 2b on the same data order, to float tolerance:
//   1. a spiking MLP without batch norm, trained by a loop made of DataParallel's pieces (the shard,
//      the loss weight, the gradient reduction) against a plain single-process loop;
//   2. `Trainer` on a spiking CNN with --sync-batch-norm (and linear learning-rate scaling, which
//      must see the global batch) against `Trainer` with batch 2b — parameters and running statistics;
//   3. the same CNN with local batch norm statistics must NOT match (batch norm over b samples is
//      not batch norm over 2b): the comparison is sharp enough to see a wrong step.
// The last global batch of each epoch is short and splits unevenly (5 and 6 samples), which the
// loss weighting must get right. Exit status 0 when every check holds, 1 otherwise.
import Foundation
import SNN

let world: Communicator
do {
    world = try Communicator.world()
} catch {
    FileHandle.standardError.write(Data("DataParallelCheck: \(error)\n".utf8))
    exit(1)
}
guard world.size == 2 else {
    FileHandle.standardError.write(Data("DataParallelCheck: run with mpirun -np 2 (got \(world.size) ranks)\n".utf8))
    world.abort(code: 2)
}

let perRankBatch = 8
// Three full global batches of 16 and a short one of 11 (5 + 6 on the two ranks).
let trainSamples = 3 * 2 * perRankBatch + 11
let tolerance = (absolute: Float(2e-5), relative: Float(1e-4))
var failed = false

@MainActor func say(_ line: String) {
    if world.isRoot { print(line) }
}

/// The largest element-wise difference between two state dictionaries, relative to what the
/// tolerance allows for that tensor (≤ 1 passes), with the tensor it was found in.
@MainActor func worstDifference(_ a: [String: Tensor], _ reference: [String: Tensor]) -> (ratio: Float, path: String) {
    precondition(Set(a.keys) == Set(reference.keys), "the two models differ in their tensors")
    var worst: (Float, String) = (0, "")
    for path in reference.keys.sorted() {
        guard let x = a[path]?.scalars, let r = reference[path]?.scalars else { continue }
        let scale = r.map(abs).max() ?? 0
        let allowed = tolerance.absolute + tolerance.relative * scale
        let difference = zip(x, r).map { abs($0 - $1) }.max() ?? 0
        if !(difference / allowed <= worst.0) { worst = (difference / allowed, path) }
    }
    return worst
}

/// Whether every rank holds rank 0's `state` bit for bit (the ranks must take identical steps).
@MainActor func ranksAgree(_ state: [String: Tensor]) -> Bool {
    let paths = state.keys.sorted()
    let mine = paths.flatMap { state[$0]?.scalars ?? [] }
    var rootCopy = mine
    world.broadcast(&rootCopy, from: 0)
    return !world.anyRank(rootCopy != mine)
}

@MainActor func check(_ name: String, _ ok: Bool, _ detail: String) {
    say("\(ok ? "ok  " : "FAIL") \(name): \(detail)")
    if !ok { failed = true }
}

// MARK: 1. Gradient averaging, no batch norm

var dataConfiguration = TrainingConfiguration()
dataConfiguration.trainSamples = trainSamples
dataConfiguration.testSamples = 1
let train: LabeledImages
do {
    train = try dataConfiguration.loadData().train
} catch {
    FileHandle.standardError.write(Data("DataParallelCheck: \(error)\n".utf8))
    world.abort(code: 1)
}
let features = train.images.shape.dropFirst().reduce(1, *)

/// Two epochs of SGD with momentum on a LIF MLP; `parallel` nil is the single-process reference.
@MainActor func trainMLP(batchSize: Int, parallel: DataParallel?) -> [String: Tensor] {
    GlobalRandom.seed(11)
    let model = Sequential {
        Flatten(startAxis: 2)
        Linear(features, 32)
        LIF(tau: 2, surrogate: Arctangent())
        Linear(32, 10)
    }
    parallel?.attach(to: model)
    let optimizer = SGD(learningRate: 0.5, momentum: 0.9)
    let loader = DataLoader(
        train, batchSize: batchSize, order: .shuffled(seed: 5), shard: parallel?.shard ?? .whole)
    var encoder = Encoder(.direct, timeSteps: 3)
    for epoch in 0..<2 {
        for batch in loader.batches(forEpoch: epoch) {
            let input = encoder.encode(batch.inputs)
            let weight =
                parallel?.lossWeight(
                    localSamples: batch.labels.count, globalSamples: loader.globalSamples(inBatch: batch.index)) ?? 1
            var (_, gradients) = valueWithGradient(at: model) { model in
                crossEntropy(logits: Readout.mean(model(input)), labels: batch.labels) * weight
            }
            var statistics: [Double] = []
            parallel?.reduce(&gradients, statistics: &statistics)
            optimizer.update(model, along: gradients)
        }
    }
    return model.stateDictionary()
}

let mlpParallel = trainMLP(
    batchSize: perRankBatch, parallel: DataParallel(communicator: world, synchronizesBatchNorm: false))
check("MLP ranks agree", ranksAgree(mlpParallel), "both ranks hold the same parameters")
if world.isRoot {
    let reference = trainMLP(batchSize: 2 * perRankBatch, parallel: nil)
    let initial = { () -> [String: Tensor] in
        GlobalRandom.seed(11)
        return Sequential {
            Flatten(startAxis: 2)
            Linear(features, 32)
            LIF(tau: 2, surrogate: Arctangent())
            Linear(32, 10)
        }.stateDictionary()
    }()
    let (ratio, path) = worstDifference(mlpParallel, reference)
    let moved = worstDifference(initial, reference).ratio
    check(
        "MLP 2 ranks × \(perRankBatch) = 1 × \(2 * perRankBatch)", ratio <= 1 && moved > 100,
        String(
            format: "worst difference %.3g of the tolerance (%@); training moved the weights %.3g", ratio, path, moved))
}
world.barrier()

// MARK: 2, 3. Trainer with synchronised and local batch norm

let scratch = NSTemporaryDirectory() + "snn-data-parallel-check-\(ProcessInfo.processInfo.processIdentifier)"

@MainActor func cnnConfiguration(batchSize: Int, synchronized: Bool) -> TrainingConfiguration {
    var c = TrainingConfiguration()
    c.model = .spikingCNN
    c.widths = [8, 16]
    c.timeSteps = 2
    c.epochs = 2
    c.batchSize = batchSize
    c.trainSamples = trainSamples
    c.testSamples = 20
    c.optimizer = .sgd
    // Linear scaling on: 64 × 16 / 1024 = 1.0 only when the global batch is the one scaled.
    c.learningRate = 64
    c.seed = 9
    c.synchronizedBatchNorm = synchronized
    return c
}

@MainActor func trainCNN(_ c: TrainingConfiguration, directory: String, communicator: Communicator?) -> [String: Tensor]
{
    do {
        let trainer = try Trainer(configuration: c, directory: directory, communicator: communicator)
        _ = try trainer.run()
        return trainer.model.stateDictionary()
    } catch {
        FileHandle.standardError.write(Data("DataParallelCheck: rank \(world.rank): \(error)\n".utf8))
        world.abort(code: 1)
    }
}

let synchronized = trainCNN(
    cnnConfiguration(batchSize: perRankBatch, synchronized: true), directory: scratch + "/sync", communicator: world)
check(
    "CNN (sync batch norm) ranks agree", ranksAgree(synchronized), "both ranks hold the same parameters and statistics")
let local = trainCNN(
    cnnConfiguration(batchSize: perRankBatch, synchronized: false), directory: scratch + "/local", communicator: world)
check("CNN (local batch norm) ranks agree", ranksAgree(local), "running statistics averaged at the epoch's end")
if world.isRoot {
    let reference = trainCNN(
        cnnConfiguration(batchSize: 2 * perRankBatch, synchronized: false), directory: scratch + "/reference",
        communicator: nil)
    let (ratio, path) = worstDifference(synchronized, reference)
    check(
        "CNN --sync-batch-norm 2 ranks × \(perRankBatch) = 1 × \(2 * perRankBatch)", ratio <= 1,
        String(format: "worst difference %.3g of the tolerance (%@)", ratio, path))
    let (localRatio, localPath) = worstDifference(local, reference)
    check(
        "CNN with local batch norm differs from 1 × \(2 * perRankBatch)", localRatio > 10,
        String(format: "worst difference %.3g of the tolerance (%@)", localRatio, localPath))
    try? FileManager.default.removeItem(atPath: scratch)
}

let anyFailed = world.anyRank(failed)
Communicator.finalize()
exit(anyFailed ? 1 : 0)
