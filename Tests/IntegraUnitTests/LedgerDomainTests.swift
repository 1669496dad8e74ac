import Crypto
@testable import IntegraLedger
import Testing

@Suite struct AmountTests {
    @Test(arguments: [("100", 10_000), ("100.5", 10_050), ("100.50", 10_050), ("0.01", 1), ("007.10", 710), ("1000000", 100_000_000)])
    func parsesDecimalStrings(text: String, cents: Int64) throws {
        #expect(try Amount.parse(text, maximumCents: 100_000_000).cents == cents)
    }

    @Test(arguments: [
        "NaN", "nan", "inf", "-inf", "Infinity", "1e309", "1E2", "-5", "+5", "0", "0.00", "0.001", "1.234", "",
        " 1", "1 ", "1.", ".5", "1,50", "1.5.0", "9223372036854775808", "92233720368547758.08", "0x10", "١٢", "1e9",
    ])
    func rejectsAnythingButAPositiveDecimalWithTwoDecimals(text: String) {
        #expect(throws: LedgerError.self) { try Amount.parse(text, maximumCents: Int64.max) }
    }

    @Test func rejectsAmountsAboveTheMaximum() {
        #expect(throws: LedgerError.self) { try Amount.parse("1000000.01", maximumCents: 100_000_000) }
        #expect(throws: LedgerError.self) { try Amount.parse("1000000000", maximumCents: 100_000_000) }
    }

    @Test func largestRepresentableAmountParsesWithoutOverflow() throws {
        #expect(try Amount.parse("92233720368547758.07", maximumCents: Int64.max).cents == Int64.max)
    }

    @Test(arguments: [(Int64(0), "0.00"), (5, "0.05"), (10_050, "100.50"), (-305, "-3.05"), (Int64.min, "-92233720368547758.08")])
    func formatsCentsWithTwoDecimals(cents: Int64, text: String) {
        #expect(Amount.format(cents: cents) == text)
    }
}

@Suite struct PasswordPolicyTests {
    @Test func acceptsTwelveToSeventyTwoBytes() throws {
        let policy = PasswordPolicy()
        try policy.validate(String(repeating: "a", count: 12))
        try policy.validate(String(repeating: "a", count: 72))
        #expect(throws: LedgerError.self) { try policy.validate(String(repeating: "a", count: 11)) }
        #expect(throws: LedgerError.self) { try policy.validate(String(repeating: "a", count: 73)) }
        // 25 three-byte characters are 75 bytes: too long for bcrypt, rejected rather than truncated.
        #expect(throws: LedgerError.self) { try policy.validate(String(repeating: "€", count: 25)) }
        #expect(throws: LedgerError.self) { try policy.validate("twelve bytes\u{0}!") }
    }
}

@Suite struct TransferIDTests {
    @Test func acceptsUUIDsAndRejectsOthers() throws {
        _ = try TransferID("7f0c2a8e-1b2c-4d5e-8f90-123456789abc")
        for bad in ["", String(repeating: "a", count: 65), "a b", "ü", "a'b"] {
            #expect(throws: LedgerError.self) { try TransferID(bad) }
        }
    }
}

@Suite struct LedgerBatchPlannerTests {
    static let alice = LedgerBatchPlanner.Account(userID: 1, username: Username(trustedCanonical: "alice"), balanceCents: 1_000, isCustomer: true)
    static let bob = LedgerBatchPlanner.Account(userID: 2, username: Username(trustedCanonical: "bob"), balanceCents: 0, isCustomer: true)
    static let system = LedgerBatchPlanner.Account(userID: 0, username: SystemAccount.username, balanceCents: -1_000, isCustomer: false)

    static func snapshot() -> LedgerBatchPlanner.Snapshot {
        .init(accountsByName: [alice.username: alice, bob.username: bob, system.username: system], existingEntries: [:], nextPosition: 10)
    }

    static func transfer(_ id: String, from: LedgerBatchPlanner.Account = alice, to: String = "bob", cents: Int64) -> LedgerBatchPlanner.Movement {
        .transfer(TransferIntent(senderID: from.userID, sender: from.username, transferID: TransferID(trusted: id), recipient: Username(trustedCanonical: to), amount: Amount(cents: cents)))
    }

    @Test func appliesTransfersInOrderAndNeverOverdraws() {
        let plan = LedgerBatchPlanner.plan(
            [Self.transfer("a", cents: 600), Self.transfer("b", cents: 600), Self.transfer("c", cents: 400)],
            snapshot: Self.snapshot(), nowMs: 5)
        #expect(plan.outcomes.count == 3)
        guard case .transferred(let first) = plan.outcomes[0], case .rejected(.insufficientFunds) = plan.outcomes[1],
              case .transferred(let third) = plan.outcomes[2]
        else {
            Issue.record("unexpected outcomes \(plan.outcomes)")
            return
        }
        #expect(first.entry.position == 10 && third.entry.position == 11)
        #expect(third.entry.fromBalanceAfterCents == 0 && third.entry.toBalanceAfterCents == 1_000)
        #expect(plan.changedBalances == [1: 0, 2: 1_000])
        #expect(plan.newEntries.count == 2)
    }

    @Test func sameIDSameContentReturnsTheOriginalWithoutASecondDebit() {
        let plan = LedgerBatchPlanner.plan([Self.transfer("a", cents: 100), Self.transfer("a", cents: 100)], snapshot: Self.snapshot(), nowMs: 5)
        #expect(plan.newEntries.count == 1)
        #expect(plan.changedBalances[1] == 900)
        guard case .transferred(let retry) = plan.outcomes[1] else { Issue.record("retry not answered"); return }
        #expect(retry.isRetry && retry.entry == plan.newEntries[0])
    }

    @Test func sameIDDifferentContentIsAConflict() {
        let plan = LedgerBatchPlanner.plan([Self.transfer("a", cents: 100), Self.transfer("a", cents: 101)], snapshot: Self.snapshot(), nowMs: 5)
        #expect(plan.outcomes[1] == .rejected(.transferIDConflict))
        #expect(plan.changedBalances[1] == 900)
    }

    @Test func unknownSelfAndSystemRecipientsAreRejected() {
        let plan = LedgerBatchPlanner.plan(
            [Self.transfer("a", to: "nobody", cents: 1), Self.transfer("b", to: "alice", cents: 1), Self.transfer("c", to: "system", cents: 1)],
            snapshot: Self.snapshot(), nowMs: 5)
        #expect(plan.outcomes == [.rejected(.unknownRecipient), .rejected(.selfTransfer), .rejected(.unknownRecipient)])
        #expect(plan.newEntries.isEmpty && plan.changedBalances.isEmpty)
    }

    @Test func anAmountTheSenderCannotPayTellsNothingAboutTheRecipient() {
        let plan = LedgerBatchPlanner.plan(
            [Self.transfer("a", to: "nobody", cents: 5_000), Self.transfer("b", to: "bob", cents: 5_000)], snapshot: Self.snapshot(), nowMs: 5)
        #expect(plan.outcomes == [.rejected(.insufficientFunds), .rejected(.insufficientFunds)], "the same answer for a name that exists and one that doesn't")
    }

    @Test func creditThatWouldOverflowIsRejected() {
        var snapshot = Self.snapshot()
        snapshot.accountsByName[Self.bob.username]!.balanceCents = Int64.max
        let plan = LedgerBatchPlanner.plan([Self.transfer("a", cents: 1)], snapshot: snapshot, nowMs: 5)
        #expect(plan.outcomes == [.rejected(.balanceOverflow)])
    }

    @Test func depositsComeFromTheSystemAccount() {
        let deposit = LedgerBatchPlanner.Movement.deposit(DepositIntent(transferID: TransferID(trusted: "d"), recipient: Username(trustedCanonical: "bob"), amount: Amount(cents: 250)))
        let plan = LedgerBatchPlanner.plan([deposit], snapshot: Self.snapshot(), nowMs: 5)
        #expect(plan.changedBalances == [0: -1_250, 2: 250])
        #expect(plan.newEntries.first?.kind == .deposit)
        #expect(plan.newEntries.first?.from == SystemAccount.username)
    }

    @Test func randomBatchesConserveTheTotal() {
        var generator = SystemRandomNumberGenerator()
        let names = (0..<6).map { Username(trustedCanonical: "u\($0)") }
        var accounts: [Username: LedgerBatchPlanner.Account] = [:]
        for (index, name) in names.enumerated() {
            accounts[name] = .init(userID: Int64(index + 1), username: name, balanceCents: 500, isCustomer: true)
        }
        var movements: [LedgerBatchPlanner.Movement] = []
        for index in 0..<500 {
            let from = accounts[names.randomElement(using: &generator)!]!
            movements.append(Self.transfer("t\(index % 400)", from: from, to: names.randomElement(using: &generator)!.canonical, cents: Int64.random(in: 1...300, using: &generator)))
        }
        let plan = LedgerBatchPlanner.plan(movements, snapshot: .init(accountsByName: accounts, existingEntries: [:], nextPosition: 1), nowMs: 1)
        var balances = Dictionary(uniqueKeysWithValues: accounts.values.map { ($0.userID, $0.balanceCents) })
        for (userID, balance) in plan.changedBalances { balances[userID] = balance }
        #expect(balances.values.reduce(0, +) == 3_000)
        #expect(balances.values.allSatisfy { $0 >= 0 })
        #expect(plan.newEntries.map(\.position) == Array(1...Int64(plan.newEntries.count)))
    }
}

@Suite struct LedgerSealTests {
    static let entry = LedgerEntry(
        position: 7, kind: .transfer, transferID: TransferID(trusted: "t-7"), fromUserID: 1, from: Username(trustedCanonical: "alice"),
        toUserID: 2, to: Username(trustedCanonical: "bob"), amount: Amount(cents: 1_050), fromBalanceAfterCents: 8_950,
        toBalanceAfterCents: 1_050, createdAtMs: 1_800_000_000_000)

    @Test func everyFieldOfAnEntryChangesItsChainHash() {
        let base = LedgerSeal.chainHash(previous: LedgerSeal.genesisHash, entry: Self.entry)
        let e = Self.entry
        let variants = [
            LedgerEntry(position: 8, kind: e.kind, transferID: e.transferID, fromUserID: e.fromUserID, from: e.from, toUserID: e.toUserID, to: e.to, amount: e.amount, fromBalanceAfterCents: e.fromBalanceAfterCents, toBalanceAfterCents: e.toBalanceAfterCents, createdAtMs: e.createdAtMs),
            LedgerEntry(position: e.position, kind: .deposit, transferID: e.transferID, fromUserID: e.fromUserID, from: e.from, toUserID: e.toUserID, to: e.to, amount: e.amount, fromBalanceAfterCents: e.fromBalanceAfterCents, toBalanceAfterCents: e.toBalanceAfterCents, createdAtMs: e.createdAtMs),
            LedgerEntry(position: e.position, kind: e.kind, transferID: TransferID(trusted: "t-8"), fromUserID: e.fromUserID, from: e.from, toUserID: e.toUserID, to: e.to, amount: e.amount, fromBalanceAfterCents: e.fromBalanceAfterCents, toBalanceAfterCents: e.toBalanceAfterCents, createdAtMs: e.createdAtMs),
            LedgerEntry(position: e.position, kind: e.kind, transferID: e.transferID, fromUserID: e.fromUserID, from: e.from, toUserID: 3, to: Username(trustedCanonical: "carol"), amount: e.amount, fromBalanceAfterCents: e.fromBalanceAfterCents, toBalanceAfterCents: e.toBalanceAfterCents, createdAtMs: e.createdAtMs),
            LedgerEntry(position: e.position, kind: e.kind, transferID: e.transferID, fromUserID: e.fromUserID, from: e.from, toUserID: e.toUserID, to: e.to, amount: Amount(cents: 1_051), fromBalanceAfterCents: e.fromBalanceAfterCents, toBalanceAfterCents: e.toBalanceAfterCents, createdAtMs: e.createdAtMs),
            LedgerEntry(position: e.position, kind: e.kind, transferID: e.transferID, fromUserID: e.fromUserID, from: e.from, toUserID: e.toUserID, to: e.to, amount: e.amount, fromBalanceAfterCents: 0, toBalanceAfterCents: e.toBalanceAfterCents, createdAtMs: e.createdAtMs),
            LedgerEntry(position: e.position, kind: e.kind, transferID: e.transferID, fromUserID: e.fromUserID, from: e.from, toUserID: e.toUserID, to: e.to, amount: e.amount, fromBalanceAfterCents: e.fromBalanceAfterCents, toBalanceAfterCents: e.toBalanceAfterCents, createdAtMs: e.createdAtMs + 1),
        ]
        for variant in variants {
            #expect(LedgerSeal.chainHash(previous: LedgerSeal.genesisHash, entry: variant) != base)
        }
        #expect(LedgerSeal.chainHash(previous: base, entry: e) != base, "the previous hash is part of the link")
    }

    @Test func macsDependOnTheStorageKey() {
        let one = LedgerSeal(storageKey: SymmetricKey(data: Array(repeating: UInt8(1), count: 32)))
        let two = LedgerSeal(storageKey: SymmetricKey(data: Array(repeating: UInt8(2), count: 32)))
        #expect(one.accountMAC(userID: 1, balanceCents: 5) != two.accountMAC(userID: 1, balanceCents: 5))
        #expect(one.accountMAC(userID: 1, balanceCents: 5) != one.accountMAC(userID: 1, balanceCents: 6))
        #expect(one.userMAC(userID: 1, username: "a", passwordHash: "x", credentialVersion: 0) != one.userMAC(userID: 1, username: "a", passwordHash: "y", credentialVersion: 0))
        #expect(one.userMAC(userID: 1, username: "a", passwordHash: "x", credentialVersion: 0) != one.userMAC(userID: 1, username: "a", passwordHash: "x", credentialVersion: 1))
        #expect(one.isValid(one.accountMAC(userID: 1, balanceCents: 5), expected: one.accountMAC(userID: 1, balanceCents: 5)))
        #expect(!one.isValid(nil, expected: one.accountMAC(userID: 1, balanceCents: 5)))
    }
}
