import ArgumentParser
import Foundation
import IntegraClient
import IntegraProtocol

/// An interactive session: log in or register, then transfer, check balance and history.
struct Shell: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Interactive session (passwords are typed without echo).")

    @OptionGroup var connection: ConnectionOptions

    /// Wrong current passwords in one session before the server ends it.
    static let maximumWrongCurrentPasswords = ServerConnectionStateMachine.Limits().maximumFailedPasswordChecksPerSession

    func run() async throws {
        let deployment: Deployment
        do { deployment = try self.connection.deployment() } catch {
            FileHandle.standardError.write(Data("integra: \(error)\n".utf8))
            throw ExitCode(2)
        }
        print("Integra shell: \(self.connection.server ?? deployment.configuration.server). Every answer is verified before it is shown.")
        while true {
            print("\n1) Log in   2) Register   3) Quit")
            guard let choice = Terminal.ask("> ") else { return }
            switch choice {
            case "1", "login", "l":
                await self.session(deployment)
            case "2", "register", "r":
                await self.register(deployment)
            case "3", "quit", "q", "exit":
                return
            default:
                print("Choose 1, 2 or 3.")
            }
        }
    }

    private func register(_ deployment: Deployment) async {
        guard let name = Terminal.ask("New user name: "), let password = Terminal.readSecret(prompt: "Password (12 to 72 bytes): "),
              let again = Terminal.readSecret(prompt: "Repeat password: ")
        else { return }
        guard password == again else { print("The passwords differ."); return }
        await self.report {
            let registered = try await deployment.withConnection { try await $0.register(username: name, password: password) }
            print("Registered \(registered). You can log in now.")
        }
    }

    private func session(_ deployment: Deployment) async {
        guard let name = Terminal.ask("User name: "), let password = Terminal.readSecret(prompt: "Password: ") else { return }
        await self.report {
            try await deployment.withConnection { connection in
                let session = try await deployment.login(connection, user: name, password: password)
                print("Logged in as \(session.username). Balance: \(session.balance)")
                var wrongCurrentPasswords = 0
                while true {
                    print("\n1) Transfer   2) Balance   3) History   4) Change password   5) Log out")
                    guard let choice = Terminal.ask("\(session.username)> ") else { return }
                    do {
                        switch choice {
                        case "1":
                            guard let recipient = Terminal.ask("To: "), let amount = Terminal.ask("Amount: ") else { continue }
                            try await self.transfer(connection, deployment: deployment, user: session.username, recipient: recipient, amount: amount)
                        case "2":
                            print("Balance: \(try await connection.balance())")
                        case "3":
                            let page = try await connection.history(limit: 20)
                            print(page.entries.isEmpty ? "No entries." : page.entries.map(Output.describe).joined(separator: "\n"))
                        case "4":
                            guard try await self.changePassword(connection, wrongCurrentPasswords: &wrongCurrentPasswords) else { return }
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

    /// Sends a transfer with a new id; without a definite answer, names the id and the command
    /// that retries it safely.
    private func transfer(_ connection: IntegraConnection, deployment: Deployment, user: String, recipient: String, amount: String) async throws {
        let id = UUID().uuidString.lowercased()
        do {
            let confirmation = try await connection.transfer(to: recipient, amount: amount, transferID: id)
            print("Sent \(confirmation.amount) to \(confirmation.recipient) (ledger position \(confirmation.position)). Balance: \(confirmation.balanceAfter)")
        } catch let error as IntegraClientError where error.kind == .timeout || error.kind == .connection {
            let command = deployment.retryCommand(user: user, recipient: recipient, amount: amount, transferID: id, flags: [])
            print("No answer: transfer \(id) may or may not have been applied. Retry it with the same id, which never pays twice:\n  \(command)")
            throw error
        }
    }

    /// Asks for the current password and the new one (twice) and sends them. Returns false when
    /// the server ended the session (too many wrong current passwords).
    private func changePassword(_ connection: IntegraConnection, wrongCurrentPasswords: inout Int) async throws -> Bool {
        guard let current = Terminal.readSecret(prompt: "Current password: "), let new = Terminal.readSecret(prompt: "New password: "),
              let again = Terminal.readSecret(prompt: "Repeat new password: ")
        else { return true }
        guard new == again else {
            print("The new passwords differ; the password is unchanged.")
            return true
        }
        do {
            try await connection.changePassword(current: current, new: new)
            print("Password changed.")
            return true
        } catch let error as IntegraClientError where error.kind == .server && error.code == ErrorCode.invalidCredentials.rawValue {
            wrongCurrentPasswords += 1
            guard wrongCurrentPasswords < Self.maximumWrongCurrentPasswords else {
                print("Wrong current password. After \(wrongCurrentPasswords) wrong current passwords the server has ended the session; log in again.")
                return false
            }
            print("Wrong current password; the password is unchanged.")
            return true
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
