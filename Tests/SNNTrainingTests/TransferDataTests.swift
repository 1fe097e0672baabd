import Foundation
import SNN
import SNNTestSupport
import Testing

/// The data side of static-to-event transfer: pairs, sliding replacement and static frames.
@Suite struct TransferDataTests {
    static let staticLabels = (0..<300).map { ($0 * 7 + $0 / 13) % 5 }

    @Test func pairingDrawsSameClassImagesReproducibly() throws {
        let pairing = try StaticPairing(
            staticLabels: Self.staticLabels, staticClassCount: 5, eventClassCount: 5,
            source: "mnist", target: "nmnist")
        let labels = (0..<200).map { ($0 * 3) % 5 }
        var g = StaticPairing.generator(seed: 42, epoch: 1, batch: 2)
        let partners = pairing.partners(for: labels, using: &g)
        #expect(zip(partners, labels).allSatisfy { Self.staticLabels[$0] == $1 })
        // Every image of a class can be drawn: 200 draws over ~60 images per class reach many of them.
        #expect(Set(partners).count > 100)
        // The same (seed, epoch, batch) gives the same pairs; another seed, epoch or batch others.
        var again = StaticPairing.generator(seed: 42, epoch: 1, batch: 2)
        #expect(pairing.partners(for: labels, using: &again) == partners)
        for (seed, epoch, batch) in [(43, 1, 2), (42, 2, 2), (42, 1, 3)] {
            var other = StaticPairing.generator(seed: UInt64(seed), epoch: epoch, batch: batch)
            #expect(pairing.partners(for: labels, using: &other) != partners)
        }
    }

    @Test func pairingRefusesMismatchedClasses() {
        #expect(throws: SNNError.self) {
            try StaticPairing(
                staticLabels: Self.staticLabels, staticClassCount: 5, eventClassCount: 6, source: "a",
                target: "b")
        }
        // A class with no static image cannot be paired.
        #expect(throws: SNNError.self) {
            try StaticPairing(
                staticLabels: [0, 1, 1, 3], staticClassCount: 4, eventClassCount: 4, source: "a",
                target: "b")
        }
    }

    /// Class folders on both sides (Caltech101 ↔ N-Caltech101) pair by name, not only by count.
    @Test func pairingComparesClassNamesWhenBothSidesHaveThem() throws {
        let labels = [0, 1, 2]
        func pairing(_ staticNames: [String]?, _ eventNames: [String]?) throws(SNNError) -> StaticPairing {
            try StaticPairing(
                staticLabels: labels, staticClassCount: 3, eventClassCount: 3, source: "image-folder",
                target: "n-caltech101", staticClassNames: staticNames, eventClassNames: eventNames)
        }
        _ = try pairing(["ant", "bee", "cat"], ["ant", "bee", "cat"])
        _ = try pairing(["ant", "bee", "cat"], nil)
        _ = try pairing(nil, ["ant", "bee", "cat"])
        do {
            _ = try pairing(["ant", "bee", "cat"], ["ant", "cat", "dog"])
            Issue.record("mismatched class names were paired")
        } catch {
            #expect(error.message.contains("class 1 is bee, n-caltech101's is cat"), "\(error)")
        }
    }

    @Test func slidingProbabilityAndReplacementFraction() {
        for (b, total) in [(0, 1000), (250, 1000), (500, 1000), (999, 1000), (3, 7)] {
            let expected = pow(Double(b) / Double(total), 3)
            #expect(abs(SlidingReplacement.probability(batch: b, of: total) - expected) < 1e-15)
        }
        #expect(SlidingReplacement.probability(batch: 500, of: 1000) == 0.125)
        // The empirical fraction matches P within 4 standard deviations of a binomial count.
        var g = RandomGenerator(seed: 9)
        for p in [0.0, 0.015625, 0.125, 0.729] {
            let n = 100_000
            let replaced = SlidingReplacement.mask(count: n, probability: p, using: &g).filter { $0 }.count
            let sigma = (Double(n) * p * (1 - p)).squareRoot()
            #expect(abs(Double(replaced) - Double(n) * p) <= 4 * sigma + 1e-9, "P = \(p): \(replaced) of \(n)")
        }
    }

    @Test func staticFramesAreTheValueChannelInBothPolaritiesAtEveryStep() {
        // Colour: V = max(R, G, B) per pixel; same size, so no resizing.
        let colour = randomTensor([2, 3, 4, 5], seed: 1).map { abs($0) }
        let frames = StaticFrames.frames(colour, timeSteps: 3, height: 4, width: 5, invert: false)
        #expect(frames.shape == [2, 3, 2, 4, 5])
        let c = colour.scalars, f = frames.scalars
        for b in 0..<2 {
            for pixel in 0..<20 {
                let v = max(c[(b * 3) * 20 + pixel], c[(b * 3 + 1) * 20 + pixel], c[(b * 3 + 2) * 20 + pixel])
                for t in 0..<3 {
                    for p in 0..<2 { #expect(f[(((b * 3 + t) * 2 + p) * 20) + pixel] == v) }
                }
            }
        }
        // Grey images stay as they are, resized bilinearly; inverted on request.
        let grey = randomTensor([1, 1, 6, 6], seed: 2).map { abs($0) }
        let resized = grey.interpolated(size: (4, 4), mode: .bilinear).scalars
        let inverted = StaticFrames.frames(grey, timeSteps: 2, height: 4, width: 4, invert: true).scalars
        for k in 0..<(2 * 2 * 16) { #expect(inverted[k] == 1 - resized[k % 16]) }
    }

    @Test func replacementTakesTheEventPartners() {
        let frames = randomTensor([3, 2, 2, 2, 2], seed: 3), events = randomTensor([3, 2, 2, 2, 2], seed: 4)
        let mixed = StaticFrames.replacing(frames, with: events, where: [false, true, false]).scalars
        let f = frames.scalars, e = events.scalars
        #expect(Array(mixed[0..<16]) == Array(f[0..<16]))
        #expect(Array(mixed[16..<32]) == Array(e[16..<32]))
        #expect(Array(mixed[32..<48]) == Array(f[32..<48]))
    }
}
