import ArgumentParser
import Foundation
import IntegraClient
import IntegraProtocol

/// An interactive session: log in or register, then transfer, check balance and history.
struct Shell: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Interactive session (passwords are typed without echo).")

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let configuration: ClientConfiguration
        do { configuration = try self.connection.loadConfiguration() } catch {
            FileHandle.standardError.write(Data("integra: \(error)\n".utf8))
            throw ExitCode(2)
        }
        print("Integra shell: \(self.connection.server ?? configuration.server). Every answer is verified before it is shown.")
        while true {
            print("\n1) Log in   2) Register   3) Quit")
            guard let choice = Terminal.ask("> ") else { return }
            switch choice {
            case "1", "login", "l":
                await self.session(configuration)
            case "2", "register", "r":
                await self.register(configuration)
            case "3", "quit", "q", "exit":
                return
            default:
                print("Choose 1, 2 or 3.")
            }
        }
    }

    private func register(_ configuration: ClientConfiguration) async {
        guard let name = Terminal.ask("New user name: "), let password = Terminal.readSecret(prompt: "Password (12 to 72 bytes): "),
              let again = Terminal.readSecret(prompt: "Repeat password: ")
        else { return }
        guard password == again else { print("The passwords differ."); return }
        await self.report {
            let registered = try await IntegraConnection.withConnection(configuration: configuration, server: self.connection.server) {
                try await $0.register(username: name, password: password)
            }
            print("Registered \(registered). You can log in now.")
        }
    }

    private func session(_ configuration: ClientConfiguration) async {
        guard let name = Terminal.ask("User name: "), let password = Terminal.readSecret(prompt: "Password: ") else { return }
        await self.report {
            try await IntegraConnection.withConnection(configuration: configuration, server: self.connection.server, timeoutMs: self.connection.timeoutSeconds * 1000) { connection in
                let session = try await connection.login(username: name, password: password)
                print("Logged in as \(session.username). Balance: \(session.balance)")
                while true {
                    print("\n1) Transfer   2) Balance   3) History   4) Change password   5) Log out")
                    guard let choice = Terminal.ask("\(session.username)> ") else { return }
                    do {
                        switch choice {
                        case "1":
                            guard let recipient = Terminal.ask("To: "), let amount = Terminal.ask("Amount: ") else { continue }
                            let id = UUID().uuidString.lowercased()
                            let confirmation = try await connection.transfer(to: recipient, amount: amount, transferID: id)
                            print("Sent \(confirmation.amount) to \(confirmation.recipient) (ledger position \(confirmation.position)). Balance: \(confirmation.balanceAfter)")
                        case "2":
                            print("Balance: \(try await connection.balance())")
                        case "3":
                            let page = try await connection.history(limit: 20)
                            print(page.entries.isEmpty ? "No entries." : page.entries.map(Output.describe).joined(separator: "\n"))
                        case "4":
                            guard let new = Terminal.readSecret(prompt: "New password: ") else { continue }
                            try await connection.changePassword(current: password, new: new)
                            print("Password changed.")
                        case "5":
                            try await connection.logout()
                            print("Logged out.")
                            return
                        default:
                            print("Choose 1 to 5.")
                        }
                    } catch let error as IntegraClientError where error.kind == .server && !(ErrorCode(rawValue: error.code ?? 0)?.closesConnection ?? true) {
                        print("Refused: \(error)")
                    }
                }
            }
        }
    }

    private func report(_ body: () async throws -> Void) async {
        do {
            try await body()
        } catch {
            print("Error: \(error)")
        }
    }
}
