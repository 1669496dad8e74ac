import ArgumentParser
import Foundation
import IntegraClient
import IntegraProtocol

/// How the CLI reports: one line (or a block) of text, or one JSON object; failures as one clear
/// line on stderr and a documented exit code.
enum Output {
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
            let failure = error as? IntegraClientError ?? IntegraClientError(kind: .connection, message: "\(error)")
            if json {
                var object: [String: JSONValue] = ["ok": .bool(false), "error": .string(failure.name), "message": .string(failure.message), "retryable": .bool(failure.isRetryable)]
                if let code = failure.code { object["code"] = .int(Int64(code)) }
                print(Self.encode(.object(object)))
            }
            FileHandle.standardError.write(Data("integra: \(failure)\n".utf8))
            throw ExitCode(Self.exitCode(failure))
        }
    }

    static func exitCode(_ failure: IntegraClientError) -> Int32 {
        switch failure.kind {
        case .server: 1
        case .configuration: 2
        case .connection, .timeout: 3
        case .untrustedReply: 4
        }
    }

    static func encode(_ value: JSONValue) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(value)) ?? Data("{}".utf8), as: UTF8.self)
    }

    static func describe(_ entry: HistoryEntry) -> String {
        let date = Date(timeIntervalSince1970: TimeInterval(entry.createdAtMs) / 1000)
        let formatter = ISO8601DateFormatter()
        let what = entry.kind == .deposit ? "deposit to \(entry.recipient)" : "\(entry.sender) -> \(entry.recipient)"
        return "#\(entry.position)  \(formatter.string(from: date))  \(what)  \(entry.amount)  balance \(entry.balanceAfter)  id \(entry.transferID)"
    }
}

/// Terminal input without echo, for passwords.
enum Terminal {
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

    static func ask(_ prompt: String) -> String? {
        print(prompt, terminator: "")
        fflush(nil)
        return readLine(strippingNewline: true)?.trimmingCharacters(in: .whitespaces)
    }
}
