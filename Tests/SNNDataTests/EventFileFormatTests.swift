import Foundation
import Testing
@testable import SNNData
import SNNTensor

/// Telling event files apart by their first bytes and name (`snn data` and any loader that takes a
/// file of unknown format).
@Suite struct EventFileFormatTests {
    @Test(arguments: [
        ("#!AER-DAT3.1\r\n#Format: RAW\r\n", "rec.aedat", EventFileFormat.aedat31),
        ("#!AER-DAT2.0\r\n", "rec.aedat", .aedat20),
        ("#!AER-DAT2.0\r\n", "rec.dat", .aedat20),
        ("\u{0}\u{1}\u{2}\u{3}\u{4}\u{5}\u{6}\u{7}", "headerless.aedat", .aedat20),
        ("#!AER-DAT4.0\r\n", "rec.aedat4", .aedat40),
        ("\u{1}\u{2}\u{3}\u{4}\u{5}", "00002.bin", .nmnistBinary),
    ])
    func detectsEachFormat(_ start: String, _ path: String, _ expected: EventFileFormat) throws {
        #expect(try EventFileFormat.detect(Array(start.utf8), path: path) == expected)
    }

    @Test func refusesOtherAEDATVersionsAndUnknownFiles() {
        for (start, path, words) in [
            ("#!AER-DAT1.0\r\n", "old.aedat", "AEDAT version"),
            ("#!AER-DAT3.0\r\n", "x.aedat", "AEDAT version"),
            ("PK\u{3}\u{4}", "frames.zip", "unknown event file format"),
            ("#comment\n", "notes.aedat", "unknown event file format"),
        ] {
            #expect {
                _ = try EventFileFormat.detect(Array(start.utf8), path: path)
            } throws: { error in
                guard let error = error as? SNNError else { return false }
                return error.file == path && error.offset == 0 && error.message.contains(words)
            }
        }
    }
}
