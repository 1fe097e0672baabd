import Foundation

/// The pixel arrays of the event cameras that recordings name (an AEDAT 3.1 header's
/// `#Source 1: DAVIS346` line), so a reader knows the sensor size without being told.
///
/// The sizes are the DVS arrays of iniVation's devices as libcaer and jAER define them: DVS128 and
/// DAVIS128 128 × 128; DAVIS240 (A, B, C) 240 × 180; DAVIS346 (A, B, C, Cbsi) 346 × 260; DAVIS208
/// 208 × 192; DAVIS640 640 × 480; DVXplorer 640 × 480; DVXplorer Lite 320 × 240. Other names are
/// not guessed at.
public enum EventSensor {
    /// Known names, compared without case, spaces, hyphens and underscores ("DVXplorer Lite" =
    /// "DVXPLORER_LITE"): cAER writes the chip's name (`DAVIS346B`), other writers the family's.
    static let sizes: [String: (width: Int, height: Int)] = [
        "dvs128": (128, 128), "davis128": (128, 128),
        "davis240": (240, 180), "davis240a": (240, 180), "davis240b": (240, 180), "davis240c": (240, 180),
        "davis346": (346, 260), "davis346a": (346, 260), "davis346b": (346, 260), "davis346c": (346, 260),
        "davis346cbsi": (346, 260),
        "davis208": (208, 192), "davis640": (640, 480),
        "dvxplorer": (640, 480), "dvxplorerlite": (320, 240),
    ]

    /// The sensor size of a camera named `name`, or nil for a name not in the list.
    public static func size(named name: String) -> (width: Int, height: Int)? {
        let key = name.lowercased().filter { !" -_".contains($0) }
        return sizes[key]
    }
}
