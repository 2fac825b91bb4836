import ArgumentParser
import EmberCore
import EmberReport
import EmberTraining
import Foundation

/// `ember report RUN_DIR`: (re)writes `RUN_DIR/report.html` from the run's metrics log — how a killed run,
/// which never reached its final save, still gets its report (../shared/spec/cli.md §"ember report").
struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write RUN_DIR/report.html from the run's metrics log (also for a killed run).")

    @Argument(help: "Run folder (the --output of ember train).") var runDir: String
    @Option(name: .long, help: "Metrics log to read (default RUN_DIR/metrics.jsonl; for a log written with train's --log).") var metrics: String?
    @Flag(name: .long, help: "Replace a report.html that Ember did not write.") var overwrite = false

    func run() throws {
        let folder = URL(fileURLWithPath: runDir)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory) else {
            throw EmberError("\(folder.path): run folder not found")
        }
        guard isDirectory.boolValue else { throw EmberError("\(folder.path): is a file, not a run folder") }
        let logURL = metrics.map { URL(fileURLWithPath: $0) } ?? folder.appendingPathComponent("metrics.jsonl")
        guard FileManager.default.fileExists(atPath: logURL.path) else {
            throw EmberError(metrics == nil ? "\(logURL.path): metrics log not found (pass --metrics FILE for a log kept elsewhere)"
                                            : "--metrics \(logURL.path): file not found")
        }
        let log = try RunLog(contentsOf: logURL)

        // The report replaces only Ember's own report: a file of the same name the user put there stays.
        let reportURL = folder.appendingPathComponent("report.html")
        if FileManager.default.fileExists(atPath: reportURL.path, isDirectory: &isDirectory) {
            if isDirectory.boolValue { throw EmberError("\(reportURL.path): is a folder, not a report") }
            if !overwrite && !TrainingReport.isEmbers(reportURL) {
                throw EmberError("\(reportURL.path): exists and was not written by Ember; pass --overwrite to replace it")
            }
        }
        try OutputFile.checkWritable(reportURL, flag: "RUN_DIR")
        try TrainingReport.write(log: log, title: "Training report: \(folder.standardizedFileURL.lastPathComponent)",
                                 facts: facts(folder: folder, logURL: logURL), to: reportURL)
        try StandardOutput.write(Data("wrote \(reportURL.path)\n".utf8))
    }

    /// The folder, then what the run marker (`ember_run.json`) recorded: model, data, start, command.
    func facts(folder: URL, logURL: URL) -> [(String, String)] {
        var facts = [("Run folder", RunFolder.canonical(folder))]
        if metrics != nil { facts.append(("Metrics log", logURL.path)) }
        guard let marker = RunFolder.marker(in: folder) else { return facts }
        let known = [("model", "Model"), ("data", "Data"), ("started", "Started"), ("command", "Command")]
        for (key, label) in known { if let value = marker[key] { facts.append((label, "\(value)")) } }
        // Keys a newer trainer adds (loss, batch …) show too; the marker's bookkeeping does not.
        let skip = Set(known.map(\.0) + ["tool", "note", "run_id"])
        for key in marker.keys.sorted() where !skip.contains(key) {
            if let value = marker[key] as? String { facts.append((key, value)) } else if let n = marker[key] as? NSNumber { facts.append((key, "\(n)")) }
        }
        return facts
    }
}
