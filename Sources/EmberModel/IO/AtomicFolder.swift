import EmberCore
import Foundation

/// Replaces a folder as a whole: the content is written into a hidden temporary sibling, then swapped in
/// by renames, so a crash or a failed write never leaves a half-written folder at the destination.
///
/// The steps, and what a kill at each leaves (`recover` undoes every one of them on the next run):
///  1. write the new content into `.NAME.tmp-PID-R`            → a partial temporary: removed;
///  2. move entries worth keeping from NAME into the temporary,
///     each name first appended to its journal `.ember-moved`
///     (rewritten atomically; kept until step 4 is done)      → journaled entries moved back, then removed;
///  3. rename NAME to `.NAME.old-PID-R`                        → NAME missing: the old folder renamed back;
///  4. rename the temporary to NAME, drop its journal         → done; the old folder and journal are removed;
///  5. remove the old folder.
/// Only hidden siblings with exactly these names, of processes that are no longer running, are touched.
public enum AtomicFolder {
    static let journalName = ".ember-moved"

    /// `preserving` names entries of an existing destination (a metrics log, checkpoints, the run marker)
    /// to carry over into the new folder, unless the new content has an entry of the same name.
    public static func write(to destination: URL, preserving: (String) -> Bool = { _ in false },
                             _ body: (URL) throws -> Void) throws {
        let fm = FileManager.default
        let parent = destination.deletingLastPathComponent()
        let tag = "\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let temporary = parent.appendingPathComponent(".\(destination.lastPathComponent).tmp-\(tag)")
        do {
            try fm.createDirectory(at: parent, withIntermediateDirectories: true)
            try fm.createDirectory(at: temporary, withIntermediateDirectories: false)
            try body(temporary)
            var isDirectory: ObjCBool = false
            if fm.fileExists(atPath: destination.path, isDirectory: &isDirectory) {
                guard isDirectory.boolValue else { throw EmberError("\(destination.path): exists and is not a folder") }
                let journal = temporary.appendingPathComponent(journalName)
                var moved = ""
                for name in try fm.contentsOfDirectory(atPath: destination.path) where preserving(name) {
                    let target = temporary.appendingPathComponent(name)
                    if !fm.fileExists(atPath: target.path) {
                        moved += name + "\n"
                        // Atomically (temporary file + rename): a kill while a plain write had truncated
                        // the journal would lose the names of entries already moved, and `recover`
                        // would then delete them with the temporary (seen: the run marker, in CI).
                        try Data(moved.utf8).write(to: journal, options: .atomic)
                        try fm.moveItem(at: destination.appendingPathComponent(name), to: target)
                    }
                }
                // The journal stays until the swap is done: until then a kill must be able to move entries back.
                let old = parent.appendingPathComponent(".\(destination.lastPathComponent).old-\(tag)")
                try fm.moveItem(at: destination, to: old)
                try fm.moveItem(at: temporary, to: destination)
                if !moved.isEmpty { try? fm.removeItem(at: destination.appendingPathComponent(journalName)) }
                try? fm.removeItem(at: old)
            } else {
                try fm.moveItem(at: temporary, to: destination)
            }
        } catch {
            try? fm.removeItem(at: temporary)
            if let error = error as? EmberError { throw error }
            throw EmberError("\(destination.path): cannot save (\(describe(error)))")
        }
    }

    /// Removes a folder Ember wrote: renamed to a hidden `.NAME.tmp-PID-R` sibling first, so the name
    /// either holds the whole folder or nothing; a kill during the deletion leaves a partial temporary,
    /// which `recover` removes like any other.
    public static func remove(_ folder: URL) throws {
        let fm = FileManager.default
        let old = folder.deletingLastPathComponent()
            .appendingPathComponent(".\(folder.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        do {
            try fm.moveItem(at: folder, to: old)
            try fm.removeItem(at: old)
        } catch {
            throw EmberError("\(folder.path): cannot remove (\(describe(error)))")
        }
    }

    /// Undoes what killed `write`s to `destination` left behind (see the steps above). Returns the names
    /// of the leftovers it removed.
    @discardableResult
    public static func recover(_ destination: URL) throws -> [String] {
        let fm = FileManager.default
        let parent = destination.deletingLastPathComponent(), name = destination.lastPathComponent
        guard let siblings = try? fm.contentsOfDirectory(atPath: parent.path) else { return [] }
        let stale = siblings.compactMap { leftover($0) }.filter { $0.name == name && !isRunning($0.pid) }
        guard !stale.isEmpty else { return [] }
        do {
            // Step 3 interrupted: the destination is missing and the old folder holds it.
            if !fm.fileExists(atPath: destination.path), let old = stale.first(where: { $0.kind == "old" }) {
                try fm.moveItem(at: parent.appendingPathComponent(old.file), to: destination)
            }
            for leftover in stale {
                let url = parent.appendingPathComponent(leftover.file)
                guard fm.fileExists(atPath: url.path) else { continue }
                // Step 2 interrupted: entries moved out of the destination go back.
                if leftover.kind == "tmp", let journal = fm.contents(atPath: url.appendingPathComponent(journalName).path),
                   fm.fileExists(atPath: destination.path) {
                    for entry in String(decoding: journal, as: UTF8.self).split(separator: "\n").map(String.init)
                    where fm.fileExists(atPath: url.appendingPathComponent(entry).path)
                        && !fm.fileExists(atPath: destination.appendingPathComponent(entry).path) {
                        try fm.moveItem(at: url.appendingPathComponent(entry), to: destination.appendingPathComponent(entry))
                    }
                }
                try fm.removeItem(at: url)
            }
            // Killed between step 4 and the journal's removal: the new folder still holds it.
            try? fm.removeItem(at: destination.appendingPathComponent(journalName))
        } catch {
            throw EmberError("\(destination.path): cannot clean up after an interrupted save (\(describe(error)))")
        }
        return stale.map(\.file)
    }

    /// `recover` for every destination inside `folder` that has leftovers (checkpoints of a run folder).
    @discardableResult
    public static func recoverAll(in folder: URL) throws -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return try Set(names.compactMap { leftover($0)?.name }).sorted().flatMap { try recover(folder.appendingPathComponent($0)) }
    }

    /// Whether `name` is a leftover of a killed write (`.NAME.tmp-PID-R` / `.NAME.old-PID-R` of a process
    /// that is no longer running): not content of its folder, and removed by `recover`.
    public static func isStaleLeftover(_ name: String) -> Bool {
        leftover(name).map { !isRunning($0.pid) } ?? false
    }

    /// Writes a file by a hidden temporary `.NAME.tmp-PID-R` in the same folder and a rename, so the name
    /// holds the old content or the new one, and a kill leaves only a leftover `recover` removes.
    public static func writeFile(_ data: Data, to file: URL) throws {
        let temporary = file.deletingLastPathComponent()
            .appendingPathComponent(".\(file.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        do {
            try data.write(to: temporary)
            guard rename(temporary.path, file.path) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw EmberError("\(file.path): cannot write (\(describe(error)))")
        }
    }

    /// ".NAME.tmp-PID-R" / ".NAME.old-PID-R" → (NAME, "tmp"/"old", PID); nil for any other name.
    static func leftover(_ file: String) -> (file: String, name: String, kind: String, pid: Int32)? {
        guard file.hasPrefix(".") else { return nil }
        let parts = file.dropFirst().split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 3, let random = parts.last, UInt32(random) != nil,
              let pid = Int32(parts[parts.count - 2]), pid > 0 else { return nil }
        let head = parts.dropLast(2).joined(separator: "-")
        for kind in ["tmp", "old"] where head.hasSuffix(".\(kind)") && head.count > kind.count + 1 {
            return (file, String(head.dropLast(kind.count + 1)), kind, pid)
        }
        return nil
    }

    static func isRunning(_ pid: Int32) -> Bool {
        pid == getpid() ? false : (kill(pid, 0) == 0 || errno == EPERM)
    }

    /// A Foundation error as one line (its POSIX reason where there is one, not the NSError dump).
    public static func describe(_ error: Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        return ns.localizedDescription
    }
}
