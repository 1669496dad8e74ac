// The only file that imports `CCryptoBoringSSL`: the BoringSSL swift-crypto builds on Linux. It
// is a module of swift-crypto, not one of its products, so a release of swift-crypto may rename
// or drop it without notice. Without it this file falls back to swift-crypto's API (correct, but
// allocating for every hash); `DependencyCanaryTests` fails on Linux when that happens.
#if canImport(CCryptoBoringSSL)
import CCryptoBoringSSL
#endif
import Crypto
import IntegraLedger

/// The verifier's per-entry hashing: an entry's digest, its chain link and its MAC, each written
/// into caller-provided bytes. One instance per worker thread; not thread-safe.
///
/// Where swift-crypto runs on BoringSSL (Linux), this calls BoringSSL's SHA-256 and HMAC directly:
/// SHA-256 contexts on the stack and one keyed HMAC context reset for every message, so nothing
/// is allocated per entry. Elsewhere it goes through swift-crypto's API. Tests check it against
/// `LedgerSeal`, which always uses swift-crypto's API.
final class EntrySealHasher {
    /// Whether this build hashes through BoringSSL directly.
    static var hashesThroughBoringSSL: Bool {
        #if canImport(CCryptoBoringSSL)
        true
        #else
        false
        #endif
    }

    #if canImport(CCryptoBoringSSL)
    private let context: UnsafeMutablePointer<HMAC_CTX>
    #else
    private let keyedMAC: HMAC<SHA256>
    #endif

    init(key: SymmetricKey) {
        #if canImport(CCryptoBoringSSL)
        self.context = .allocate(capacity: 1)
        CCryptoBoringSSL_HMAC_CTX_init(self.context)
        let initialised = key.withUnsafeBytes { key in
            CCryptoBoringSSL_HMAC_Init_ex(self.context, key.baseAddress, key.count, CCryptoBoringSSL_EVP_sha256(), nil)
        }
        precondition(initialised == 1, "BoringSSL could not set up HMAC-SHA256")
        #else
        self.keyedMAC = HMAC<SHA256>(key: key)
        #endif
    }

    deinit {
        #if canImport(CCryptoBoringSSL)
        CCryptoBoringSSL_HMAC_CTX_cleanup(self.context)
        self.context.deallocate()
        #endif
    }

    /// SHA-256 of `bytes` into `output` (32 bytes).
    func digest(_ bytes: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) {
        Self.sha256(bytes, into: output)
    }

    /// SHA-256 of `bytes` into `output` (32 bytes), without a hasher: the tree's leaf and node
    /// hashes need no key.
    static func sha256(_ bytes: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) {
        precondition(output.count == LedgerSeal.hashByteCount)
        #if canImport(CCryptoBoringSSL)
        _ = CCryptoBoringSSL_SHA256(bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count, output.baseAddress!.assumingMemoryBound(to: UInt8.self))
        #else
        var hash = SHA256()
        hash.update(bufferPointer: bytes)
        hash.finalize().withUnsafeBytes { output.copyMemory(from: $0) }
        #endif
    }

    /// SHA-256(previous ‖ entry digest) into `output` (32 bytes): one link of the chain.
    func link(previous: UnsafeRawBufferPointer, entryDigest: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) {
        precondition(previous.count == LedgerSeal.hashByteCount && entryDigest.count == LedgerSeal.hashByteCount && output.count == LedgerSeal.hashByteCount)
        #if canImport(CCryptoBoringSSL)
        var context = SHA256_CTX()
        CCryptoBoringSSL_SHA256_Init(&context)
        CCryptoBoringSSL_SHA256_Update(&context, previous.baseAddress, previous.count)
        CCryptoBoringSSL_SHA256_Update(&context, entryDigest.baseAddress, entryDigest.count)
        CCryptoBoringSSL_SHA256_Final(output.baseAddress!.assumingMemoryBound(to: UInt8.self), &context)
        #else
        var hash = SHA256()
        hash.update(bufferPointer: previous)
        hash.update(bufferPointer: entryDigest)
        hash.finalize().withUnsafeBytes { output.copyMemory(from: $0) }
        #endif
    }

    /// HMAC-SHA256 of `message` under the row-seal key into `output` (32 bytes).
    func authenticationCode(_ message: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) {
        precondition(output.count == LedgerSeal.hashByteCount)
        #if canImport(CCryptoBoringSSL)
        // A NULL key with the same hash function keeps the key: the context starts again from
        // its keyed state.
        var length: UInt32 = 0
        let done = CCryptoBoringSSL_HMAC_Init_ex(self.context, nil, 0, nil, nil) == 1
            && CCryptoBoringSSL_HMAC_Update(self.context, message.baseAddress?.assumingMemoryBound(to: UInt8.self), message.count) == 1
            && CCryptoBoringSSL_HMAC_Final(self.context, output.baseAddress!.assumingMemoryBound(to: UInt8.self), &length) == 1
        precondition(done && length == UInt32(LedgerSeal.hashByteCount), "BoringSSL HMAC-SHA256 failed")
        #else
        var authenticator = self.keyedMAC
        authenticator.update(data: message)
        authenticator.finalize().withUnsafeBytes { output.copyMemory(from: $0) }
        #endif
    }
}

extension LedgerSeal {
    /// A hasher for the verifier's per-entry work, keyed with the row-seal key.
    func makeEntryHasher() -> EntrySealHasher {
        EntrySealHasher(key: self.key)
    }
}
