import Foundation
import SNN
import SNNTestSupport
import Testing

/// `--dataset event-folder` against the recordings numpy wrote as .bin, AEDAT 2.0 and npz files
/// (Fixtures/event-folders/make_event_folder_fixtures.py): the events each file holds, framed.
@Suite struct EventFolderTests {
    static let directory = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
        .appendingPathComponent("event-folders")
    static let expected = try! JSONFixture(url: directory.appendingPathComponent("expected.json"))

    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// The script's events of `name`'s `split`, framed at `sensor` as `[N, 3, 2, H, W]` scalars.
    static func expectedFrames(_ name: String, _ split: String, sensor: SensorSize) throws -> [Float] {
        let events = try #require(expected.value("\(name)/\(split)/events") as? [Any])
        var scalars: [Float] = []
        for k in events.indices {
            let base = "\(name)/\(split)/events/\(k)"
            let stream = EventStream(
                t: expected.ints(base + "/t").map(Int64.init),
                x: expected.ints(base + "/x").map(UInt16.init),
                y: expected.ints(base + "/y").map(UInt16.init),
                p: expected.ints(base + "/p").map(UInt8.init), width: sensor.width,
                height: sensor.height)
            scalars += try Framing.spikingJellyByNumber.frames(stream, frames: 3).scalars
        }
        return scalars
    }

    /// Labels, class names, the frame size (the largest recording, or AEDAT 2.0's 128 × 128) and
    /// every frame equal what the script's events give.
    @Test(arguments: ["headerless", "aedat"])
    func recordingsOfEveryFormatFrameAsTheirEvents(_ name: String) throws {
        let sides = Self.expected.ints("\(name)/sensor")
        let sensor = SensorSize(width: sides[0], height: sides[1])
        let (train, test) = try DatasetName.eventFolder.load(directory: Self.path(name), frames: 3)
        for (data, split) in [(train, "train"), (test, "test")] {
            #expect(data.images.shape == [data.count, 3, 2, sensor.height, sensor.width], "\(name) \(split)")
            #expect(data.labels == Self.expected.ints("\(name)/\(split)/labels"), "\(name) \(split)")
            #expect(data.classNames == (Self.expected.value("\(name)/classes") as? [String]), "\(name) \(split)")
            #expect(data.images.scalars == (try Self.expectedFrames(name, split, sensor: sensor)), "\(name) \(split)")
        }
        #expect(train.sensorSize == sensor)
    }

    @Test func sensorSizeOptionSizesRecordingsWithoutOne() throws {
        let plan = try EventFolder.plan(
            directory: Self.path("headerless"), sensor: SensorSize(width: 20, height: 10),
            validation: nil)
        #expect(plan.sensor == SensorSize(width: 20, height: 10))
        let train = try EventFolder.load(plan, .train, frames: 3, framing: .spikingJellyByNumber, size: nil, limit: 2)
        #expect(
            train.images.scalars
                == Array(
                    try Self.expectedFrames("headerless", "train", sensor: plan.sensor)
                        .prefix(2 * 3 * 2 * 10 * 20)))
        // AEDAT 2.0 keeps its own 128 × 128 whatever the option says.
        #expect(
            try EventFolder.plan(
                directory: Self.path("aedat"), sensor: SensorSize(width: 40, height: 40),
                validation: nil
            ).sensor == SensorSize(width: 128, height: 128))
    }

    @Test func cachedFramesComeBackWithTheirClassesAndSize() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("snn-event-folder-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let cache = FrameCache(directory: folder)
        let first = try DatasetName.eventFolder.load(directory: Self.path("headerless"), frames: 3, cache: cache)
        let second = try DatasetName.eventFolder.load(directory: Self.path("headerless"), frames: 3, cache: cache)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).count == 2)
        #expect(second.train.images.scalars == first.train.images.scalars && second.test.labels == first.test.labels)
        #expect(second.train.classNames == ["ant", "bee"])
        #expect(second.train.sensorSize == SensorSize(width: 15, height: 9))
    }

    @Test(arguments: [
        ("empty-class", nil as SensorSize?, "train/b", "empty class: no event recordings"),
        ("unordered", nil, "train/a/1.npz", "t decreases at event 1"),
        ("no-events", nil, "train/a/1.npz", "the recording holds no events"),
        ("no-p", nil, "train/a/1.npz", "no array p"),
        ("outside", SensorSize(width: 34, height: 34), "train/a/1.bin", "outside the sensor width 34"),
    ])
    func brokenFoldersAreClearErrors(_ name: String, _ sensor: SensorSize?, _ file: String, _ message: String) {
        do {
            _ = try DatasetName.eventFolder.load(directory: Self.path(name), frames: 2, sensorSize: sensor)
            Issue.record("\(name) loaded")
        } catch {
            #expect(error.file == Self.path(name) + "/" + file, "\(name): \(error)")
            #expect(error.message.contains(message), "\(name): \(error)")
        }
    }
}
