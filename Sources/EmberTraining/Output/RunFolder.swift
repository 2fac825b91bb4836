import EmberCore
import EmberModel
import Foundation

/// The output-folder policy of `ember train`: Ember writes only into a folder that is absent, empty, or
/// one it wrote itself — marked by `ember_run.json`, which it writes before anything else — so no run
/// can sweep away a user's files.
///
/// - never the current folder, an input (model, guide, data, evaluation files), or a folder holding one;
/// - a folder with files but no marker is refused, `--overwrite` or not, with a message naming what is there;
/// - a marked folder is refused too unless `--overwrite` (replaced as a whole, atomically) or the run
///   resumes from a checkpoint inside it (the same run continuing);
/// - leftovers of killed saves (hidden `.NAME.tmp-…`/`.NAME.old-…` siblings, see `AtomicFolder`) are
///   undone first, beside the folder and inside it.
public enum RunFolder {
    public static let markerName = "ember_run.json"

    /// An input that the output must neither be nor contain: the flag that named it and its path.
    public typealias Input = (flag: String, path: String)

    /// What `apply` will do to the output folder.
    public enum Action: Equatable { case create, keep, replace }

    /// A checked output folder, not yet written: `apply` creates and marks it when the run first writes
    /// (a run that fails before its first step leaves nothing behind).
    public struct Decision {
        public let output: URL
        public let action: Action
        public let identity: [String: Any]
        /// What was cleaned up while checking (leftovers of interrupted saves beside the folder).
        public let notes: [String]
    }

    /// Checks `output` against the policy; the only change it makes is undoing leftovers of killed saves
    /// beside the folder (so a folder that a killed save had moved aside is seen as it was).
    public static func check(output: URL, inputs: [Input], overwrite: Bool, resume: URL?,
                             identity: [String: Any]) throws -> Decision {
        let fm = FileManager.default
        let flag = "--output \(output.path)"
        let target = canonical(output)
        if target == canonical(URL(fileURLWithPath: fm.currentDirectoryPath)) {
            throw EmberError("\(flag): is the current folder; name a new folder for the run (e.g. --output run-1)")
        }
        for input in inputs {
            let path = canonical(URL(fileURLWithPath: input.path))
            if path == target { throw EmberError("\(flag): is the \(input.flag) input itself; name a new folder for the run") }
            if path.hasPrefix(target.hasSuffix("/") ? target : target + "/") {
                throw EmberError("\(flag): holds the \(input.flag) input \(input.path); name a new folder for the run")
            }
        }
        let notes = try AtomicFolder.recover(output).map { "removed \($0), left by an interrupted save" }
        let resumesInside = resume.map { canonical($0).hasPrefix(target + "/") } ?? false
        let action: Action
        switch try state(of: output) {
        case .absent, .empty:
            action = .create
        case .notFolder:
            throw EmberError("\(flag): exists and is not a folder")
        case let .foreign(names):
            let shown = names.prefix(4).joined(separator: ", ") + (names.count > 4 ? ", … (\(names.count) entries)" : "")
            throw EmberError("\(flag): is not empty and was not written by Ember (it holds \(shown)); Ember never replaces such a folder, even with --overwrite: choose a new or empty folder")
        case let .emberRun(started):
            if resumesInside {
                action = .keep
            } else if overwrite {
                action = .replace
            } else {
                throw EmberError("\(flag): holds an earlier Ember run\(started.map { " (started \($0))" } ?? ""); pass --overwrite to replace it, or --resume \(output.path)/checkpoint-N to continue it")
            }
        }
        return Decision(output: output, action: action, identity: identity, notes: notes)
    }

    /// Makes the checked folder ready for the run's first write: created and marked, or an earlier run
    /// replaced as a whole (atomically), or kept; then leftovers of killed checkpoint saves inside it are
    /// undone. Returns notes for the user.
    public static func apply(_ decision: Decision) throws -> [String] {
        let output = decision.output
        var notes = decision.notes
        switch decision.action {
        case .create:
            // An absent folder appears together with its marker (a sibling written and renamed): a kill
            // at any moment leaves no folder, or a marked one, never an unmarked one the next run refuses.
            if FileManager.default.fileExists(atPath: output.path) {
                try writeMarker(into: output, identity: decision.identity)
            } else {
                do { try FileManager.default.createDirectory(at: output.deletingLastPathComponent(), withIntermediateDirectories: true) } catch {
                    throw EmberError("--output \(output.path): cannot write (\(AtomicFolder.describe(error)))")
                }
                try AtomicFolder.write(to: output) { try writeMarker(into: $0, identity: decision.identity) }
            }
        case .keep: break
        case .replace:
            try AtomicFolder.write(to: output) { try writeMarker(into: $0, identity: decision.identity) }
            notes.append("replaced the earlier Ember run in \(output.path) (--overwrite)")
        }
        notes += try AtomicFolder.recoverAll(in: output).map { "removed \(output.path)/\($0), left by an interrupted save" }
        return notes
    }

    public enum State: Equatable {
        case absent, empty, notFolder
        /// Marked by Ember; the start time recorded in the marker, if readable.
        case emberRun(started: String?)
        /// Holds entries but no marker: the entries' names, sorted.
        case foreign([String])
    }

    public static func state(of folder: URL) throws -> State {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: folder.path, isDirectory: &isDirectory) else { return .absent }
        guard isDirectory.boolValue else { return .notFolder }
        let names: [String]
        // Leftovers of killed writes (the marker's temporary, say) are not content: `apply` removes them.
        do { names = try fm.contentsOfDirectory(atPath: folder.path).filter { !AtomicFolder.isStaleLeftover($0) }.sorted() } catch {
            throw EmberError("--output \(folder.path): cannot list the folder (\(AtomicFolder.describe(error)))")
        }
        if names.isEmpty { return .empty }
        if let marker = marker(in: folder) { return .emberRun(started: marker["started"] as? String) }
        return .foreign(names)
    }

    /// The marker's content when `folder` holds a valid Ember run marker.
    public static func marker(in folder: URL) -> [String: Any]? {
        guard let data = FileManager.default.contents(atPath: folder.appendingPathComponent(markerName).path),
              let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
              object["tool"] as? String == "ember" else { return nil }
        return object
    }

    static func writeMarker(into folder: URL, identity: [String: Any]) throws {
        var marker = identity
        marker["tool"] = "ember"
        marker["started"] = ISO8601DateFormatter().string(from: Date())
        marker["run_id"] = UUID().uuidString.lowercased()
        marker["note"] = "Written by Ember: this folder belongs to an Ember training run (--overwrite replaces it)."
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw EmberError("--output \(folder.path): cannot write (\(AtomicFolder.describe(error)))")
        }
        try AtomicFolder.writeFile(JSONOutput.data(marker, pretty: true), to: folder.appendingPathComponent(markerName))
    }

    /// An absolute path with `.`/`..` and symbolic links resolved as far as the path exists.
    public static func canonical(_ url: URL) -> String {
        var existing = url.standardizedFileURL, rest: [String] = []
        while !FileManager.default.fileExists(atPath: existing.path) && existing.path != "/" {
            rest.insert(existing.lastPathComponent, at: 0)
            existing = existing.deletingLastPathComponent()
        }
        var resolved = existing.path
        if let real = realpath(existing.path, nil) { resolved = String(cString: real); free(real) }
        return ([resolved] + rest).joined(separator: "/").replacingOccurrences(of: "//", with: "/")
    }
}

/// Files Ember writes beside its inputs (`--log`, `ember encode --output`, `--guide-cache`): a file that
/// exists is replaced only when Ember recognises it as one of its own kind, or when the user says so.
public enum OutputFile {
    /// Refuses `url` when it is one of `inputs`, or exists and `isEmbers` does not recognise it (unless
    /// `overwrite`). `kind` names what Ember writes there, for the message.
    public static func check(_ url: URL, flag: String, kind: String, inputs: [RunFolder.Input], overwrite: Bool,
                             isEmbers: (URL) -> Bool) throws {
        let path = RunFolder.canonical(url)
        for input in inputs where RunFolder.canonical(URL(fileURLWithPath: input.path)) == path {
            throw EmberError("\(flag) \(url.path): is the \(input.flag) input; choose another file")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else { return }
        if isDirectory.boolValue { throw EmberError("\(flag) \(url.path): is a folder, not a file") }
        if !overwrite && !isEmbers(url) {
            throw EmberError("\(flag) \(url.path): exists and is not \(kind) Ember wrote; pass --overwrite to replace it, or choose another file")
        }
    }

    /// Fails now, not after the work, when `url` cannot be written (its folder is missing or read-only).
    public static func checkWritable(_ url: URL, flag: String) throws {
        let fm = FileManager.default
        let target = fm.fileExists(atPath: url.path) ? url.path : url.deletingLastPathComponent().path
        guard access(target.isEmpty ? "." : target, W_OK) == 0 else {
            throw EmberError("\(flag) \(url.path): cannot be written (\(String(cString: strerror(errno))))")
        }
    }

    /// Whether the first line of `url` is a JSON object with `key` (Ember's metrics logs: "step").
    public static func firstLineIsJSONObject(_ url: URL, withKey key: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: url.path) else { return false }
        defer { try? handle.close() }
        let head = handle.readData(ofLength: 4096)
        guard let line = head.split(separator: 0x0A).first else { return head.isEmpty }
        return ((try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any])?[key] != nil
    }
}
