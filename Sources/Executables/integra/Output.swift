import ArgumentParser
import Foundation
import IntegraClient
import IntegraProtocol

/// How the CLI reports: one line (or a block) of text, or one JSON object; failures as one clear
/// line on stderr and a documented exit code.
enum Output {
    /// A JSON value as the CLI prints it (amounts are strings, never numbers).
    indirect enum JSONValue: Encodable {
        case string(String)
        case int(Int64)
        case bool(Bool)
        case array([JSONValue])
        case object([String: JSONValue])

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .string(let value): try container.encode(value)
            case .int(let value): try container.encode(value)
            case .bool(let value): try container.encode(value)
            case .array(let value): try container.encode(value)
            case .object(let value): try container.encode(value)
            }
        }
    }

    /// What a command prints on success: text, or one JSON object with `--json`.
    struct Result {
        let text: String
        let json: [String: JSONValue]
    }

    /// Runs a command body and prints its result or its failure.
    static func run(json: Bool, _ body: () async throws -> Result) async throws {
        do {
            let result = try await body()
            print(json ? Self.encode(.object(result.json)) : result.text)
        } catch {
            let unsettled = error as? UnsettledTransfer
            let failure = unsettled?.failure ?? error as? IntegraClientError ?? IntegraClientError(kind: .connection, message: "\(error)")
            if json {
                var object: [String: JSONValue] = ["ok": .bool(false), "error": .string(failure.name), "message": .string(failure.message), "retryable": .bool(failure.isRetryable)]
                if let code = failure.code { object["code"] = .int(Int64(code)) }
                if let unsettled {
                    object["transfer_id"] = .string(unsettled.transferID)
                    object["retry_command"] = .string(unsettled.retryCommand)
                }
                print(Self.encode(.object(object)))
            }
            let advice = unsettled.map {
                "; transfer \($0.transferID) may or may not have been applied: retry it with the same id, which never pays twice: \($0.retryCommand)"
            }
            FileHandle.standardError.write(Data("integra: \(failure)\(advice ?? "")\n".utf8))
            throw ExitCode(Self.exitCode(failure))
        }
    }

    /// A transfer whose outcome is unknown (no answer in time, or the connection failed once the
    /// request may have been sent): the failure, the id it used and the command that retries it.
    struct UnsettledTransfer: Error {
        let failure: IntegraClientError
        let transferID: String
        let retryCommand: String
    }

    /// One line on stderr that does not fail the command.
    static func warn(_ message: String) {
        FileHandle.standardError.write(Data("integra: warning: \(message)\n".utf8))
    }

    /// A command line a POSIX shell runs with exactly these arguments: each argument that holds
    /// anything but letters, digits and `_./:=@%+,-` is single-quoted.
    static func shellCommand(_ arguments: [String]) -> String {
        arguments.map { argument in
            let plain = !argument.isEmpty && argument.unicodeScalars.allSatisfy { scalar in
                scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || "_./:=@%+,-".unicodeScalars.contains(scalar))
            }
            return plain ? argument : "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'"
        }.joined(separator: " ")
    }

    /// The documented exit code of a failure.
    static func exitCode(_ failure: IntegraClientError) -> Int32 {
        switch failure.kind {
        case .server: 1
        case .configuration: 2
        case .connection, .timeout: 3
        case .untrustedReply: 4
        }
    }

    /// Compact JSON with sorted keys.
    static func encode(_ value: JSONValue) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(value)) ?? Data("{}".utf8), as: UTF8.self)
    }

    /// One line of history.
    static func describe(_ entry: HistoryEntry) -> String {
        let date = Date(timeIntervalSince1970: TimeInterval(entry.createdAtMs) / 1000)
        let formatter = ISO8601DateFormatter()
        let what = entry.kind == .deposit ? "deposit to \(entry.recipient)" : "\(entry.sender) -> \(entry.recipient)"
        return "#\(entry.position)  \(formatter.string(from: date))  \(what)  \(entry.amount)  balance \(entry.balanceAfter)  id \(entry.transferID)"
    }
}

/// Terminal input without echo, for passwords.
enum Terminal {
    /// Reads a line without echo when standard input is a terminal.
    static func readSecret(prompt: String) -> String? {
        FileHandle.standardError.write(Data(prompt.utf8))
        var original = termios()
        let isTerminal = isatty(STDIN_FILENO) == 1 && tcgetattr(STDIN_FILENO, &original) == 0
        if isTerminal {
            var silent = original
            silent.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent)
        }
        defer {
            if isTerminal {
                tcsetattr(STDIN_FILENO, TCSAFLUSH, &original)
                FileHandle.standardError.write(Data("\n".utf8))
            }
        }
        return readLine(strippingNewline: true)
    }

    /// Asks for a line (echoed), trimmed.
    static func ask(_ prompt: String) -> String? {
        print(prompt, terminator: "")
        fflush(nil)
        return readLine(strippingNewline: true)?.trimmingCharacters(in: .whitespaces)
    }
}
