import Foundation

/// Standard error through write(2); a failure to write there has nowhere to be reported and is ignored.
/// Shared by the CLI's messages and the MPI layer's last-resort error line.
public enum StandardError {
    public static func write(_ text: String) {
        let data = Array(text.utf8)
        var offset = 0
        while offset < data.count {
            let n = data.withUnsafeBytes { Foundation.write(STDERR_FILENO, $0.baseAddress! + offset, data.count - offset) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            offset += n
        }
    }
}
